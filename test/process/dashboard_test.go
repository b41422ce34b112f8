package process

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-zookeeper/zk"
	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// chromium is Debian's browser, which `make tools` installs.
const chromium = "/usr/bin/chromium"

// The status page in a real browser: it names the leader; when the leader
// is killed it names the backup that took over, without a reload. It
// leaves a screenshot in .tmp/status-page.png for a person to look at.
func TestStatusPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no browser at %s (%v): run `make tools`, which installs Debian's chromium", chromium, err)
	}
	e := newEnv(t)
	// Every master serves the page: the browser watches the backup's, which
	// outlives the leader it sees killed.
	m1 := e.Leader("m1", "--http-addr", "127.0.0.1:0")
	m2 := e.Backup("m2", "--http-addr", "127.0.0.1:0")
	// Room for the three long tasks below and more: with several leaders
	// (proctest.LeadersEnv) each leader has only its share of w1's slots,
	// and the long tasks of one partition may fill that share.
	e.ReadyWorker(m1, "w1", 8)
	w2 := roleWorker(e, "w2")
	// Something in every part of the page: a role held and one open, a
	// dead letter, tasks running, pending and done.
	for _, role := range []string{"shard-7", "shard-8"} {
		if o := e.RunClient(30*time.Second, "role", "add", role); o.Code != 0 {
			t.Fatalf("role add %s: exit %d: %s", role, o.Code, o.Stderr)
		}
	}
	w2.WaitLog(20*time.Second, pt.All(pt.Msg(msgRoleClaimed), pt.Field("role", "shard-7")))
	bad := newID(t)
	if _, err := e.ZKConn().Multi(
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "data", bad), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "tasks", bad), Data: []byte("not json"), Acl: zk.WorldACL(zk.PermAll)},
	); err != nil {
		t.Fatalf("create a malformed task: %v", err)
	}
	e.LeaderOf(pt.PartitionOf(bad)).WaitLog(20*time.Second, pt.All(pt.Msg(pt.MsgDeadLettered), pt.Field("task", bad)))
	e.WaitResults(30*time.Second, e.SubmitN(3, "echo", "hello"))
	e.SubmitN(3, "sleep", "300")

	url := "http://" + m2.HTTPAddr(pt.StartTimeout) + "/"
	// A machine without a master serves the same page with client dashboard.
	dash := e.Client("dashboard", "--http-addr", "127.0.0.1:0")
	line := dash.WaitOut(pt.StartTimeout, pt.Contains("status page: http://"))
	dashURL := strings.TrimSpace(line.Raw[strings.Index(line.Raw, "http://"):])
	for _, u := range []string{dashURL, "http://" + m1.HTTPAddr(pt.StartTimeout) + "/"} {
		if body := httpGet(t, u+"api/status"); !strings.Contains(body, `"leader":{"id":"m1"`) {
			t.Fatalf("GET %sapi/status: %s", u, body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx, cancel = chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1366, 768))...)
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	// shows waits until the page, as it is, satisfies a JavaScript
	// condition: it never reloads the page.
	shows := func(what, cond string, within time.Duration) {
		t.Helper()
		do(what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within)))
	}
	leaderIs := func(id string) string {
		return fmt.Sprintf(`document.getElementById("leader-name").textContent === %q && document.getElementById("leader").dataset.leader === %q`, id, id)
	}

	do("load "+url, chromedp.Navigate(url))
	shows("the leader m1", leaderIs("m1"), 20*time.Second)
	shows("m2 in line", `document.querySelector('#backups [data-backup="m2"]') !== null`, 10*time.Second)
	// A mark that a reload would wipe out.
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.paddockNoReload = true`))

	killed := m1.Kill()
	shows("the backup m2 as the leader", leaderIs("m2")+` && window.paddockNoReload === true`, 30*time.Second)
	t.Logf("the page named m2 %v after m1 was killed (session timeout %v)", time.Since(killed).Round(time.Millisecond), e.SessionTimeout)

	shows("m2 done taking over", `getComputedStyle(document.getElementById("taking-over")).display === "none"`, 10*time.Second)
	// Only the leader knows how long the oldest pending task has waited;
	// m2's page says so now that m2 leads.
	shows("the oldest pending age", `!["", "—"].includes(document.getElementById("oldest-pending").textContent.trim())`, 10*time.Second)

	// A new backup, tasks ending, and every part of the page filled, for
	// the screenshot.
	e.Backup("m3")
	e.WaitResults(30*time.Second, e.SubmitN(5, "echo", "after the failover"))
	shows("m3 in line", `document.querySelector('#backups [data-backup="m3"]') !== null`, 20*time.Second)
	shows("the dead letter", fmt.Sprintf(`document.querySelector('#dead [data-dead=%q]') !== null`, bad), 10*time.Second)
	shows("shard-7 held by w2", `(document.querySelector('#roles [data-role="shard-7"]') || {}).textContent?.includes("w2")`, 10*time.Second)
	shows("the workers", `document.querySelectorAll('#workers tbody tr').length === 2`, 10*time.Second)
	shows("the throughput", `!["—", "0 /s"].includes(document.getElementById("throughput").textContent)`, 10*time.Second)
	shows("the connection is live", `document.getElementById("conn").dataset.state === "live"`, 10*time.Second)

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	root, err := pt.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(root, ".tmp", "status-page.png")
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// `client status --watch -o json` prints one JSON reading per line per
// interval, the throughput from the second on, and Ctrl-C ends it with 0.
func TestStatusWatch(t *testing.T) {
	e := newEnv(t)
	e.Init()
	w := e.Client("status", "--watch", "-o", "json", "--interval", "200ms")
	waitFor(t, 30*time.Second, "three readings", func() bool { return len(w.Out()) >= 3 })
	w.Signal(syscall.SIGINT)
	if code := w.Wait(10 * time.Second); code != 0 {
		t.Fatalf("status --watch exited %d after SIGINT: %s", code, w.Stderr())
	}
	for i, l := range w.Out() {
		var st struct {
			Root       string `json:"root"`
			Throughput *struct {
				WindowSeconds float64 `json:"window_seconds"`
			} `json:"throughput"`
		}
		if err := json.Unmarshal([]byte(l.Raw), &st); err != nil || st.Root != e.Root {
			t.Fatalf("line %d is not a reading of %s (%v): %s", i, e.Root, err, l.Raw)
		}
		if (i == 0) != (st.Throughput == nil) {
			t.Fatalf("reading %d: throughput %+v (expected from the second reading on)", i, st.Throughput)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
