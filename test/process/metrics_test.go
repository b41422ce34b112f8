package process

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// A real Prometheus scrapes two masters and a worker while tasks run and
// the leader is killed: the task counters and the leader change are in
// its database.
func TestPrometheusScrapesTheDaemons(t *testing.T) {
	e := newEnv(t)
	http0 := []string{"--http-addr", "127.0.0.1:0"} // the port each one bound is in its log
	m1 := e.Leader("m1", http0...)
	m2 := e.Backup("m2", http0...)
	w1 := e.ReadyWorker(m1, "w1", 4, http0...)
	addrs := map[string]string{}
	for _, p := range []*pt.Proc{m1, m2, w1} {
		addrs[p.ID] = p.HTTPAddr(pt.StartTimeout)
	}
	prom := e.Prometheus(
		pt.Target{Addr: addrs["m1"], Labels: map[string]string{"id": "m1", "role": "master"}},
		pt.Target{Addr: addrs["m2"], Labels: map[string]string{"id": "m2", "role": "master"}},
		pt.Target{Addr: addrs["w1"], Labels: map[string]string{"id": "w1", "role": "worker"}},
	)
	prom.WaitTargetsUp(20 * time.Second)
	for id, addr := range addrs {
		readyz(t, id, addr)
	}

	const n = 40
	s, code := e.RunDone(e.StartRun(n, 8, "echo", "x"), 60*time.Second)
	if code != 0 || s.Succeeded != n {
		t.Fatalf("client run: exit %d, %+v", code, s)
	}
	atLeast := func(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }
	// With several leaders (proctest.LeadersEnv) m1 and m2 share the
	// partitions: what one leader counts is the sum over both.
	several := e.Leaders > 1
	assigned := `paddock_tasks_assigned_total{id="m1",kind="echo"}`
	waiting := `paddock_tasks_waiting_for_kind{id="m1",kind="thumb"}`
	m1Parts, m2Parts, m2Leads := 16.0, 0.0, 0.0
	if several {
		assigned = `sum(paddock_tasks_assigned_total{kind="echo"})`
		waiting = `sum(paddock_tasks_waiting_for_kind{kind="thumb"})`
		m1Parts, m2Parts, m2Leads = 8, 8, 1
	}
	prom.WaitQuery(10*time.Second, assigned, atLeast(n))
	prom.WaitQuery(10*time.Second, `paddock_worker_tasks_total{id="w1",kind="echo",status="succeeded"}`, atLeast(n))
	prom.WaitQuery(10*time.Second, `paddock_worker_task_duration_seconds_count{id="w1",kind="echo"}`, atLeast(n))
	prom.WaitQuery(10*time.Second, `sum(paddock_tasks_pending)`, eq(0)) // the leader's view only: the backup exports none
	// A task of a kind no worker runs waits, and the leader says so.
	if o := e.RunClient(30*time.Second, "submit", "--kind", "thumb", "--data", "x"); o.Code != 0 {
		t.Fatalf("submit: exit %d: %s", o.Code, o.Stderr)
	}
	prom.WaitQuery(10*time.Second, waiting, eq(1))
	prom.WaitQuery(10*time.Second, `paddock_workers{id="m1"}`, eq(1))
	prom.WaitQuery(10*time.Second, `paddock_master_is_leader{id="m1"}`, eq(1))
	prom.WaitQuery(10*time.Second, `paddock_master_is_leader{id="m2"}`, eq(m2Leads))
	prom.WaitQuery(10*time.Second, `paddock_master_partitions{id="m1"}`, eq(m1Parts))
	prom.WaitQuery(10*time.Second, `paddock_master_partitions{id="m2"}`, eq(m2Parts))
	prom.WaitQuery(10*time.Second, `paddock_zk_connected{id="w1"}`, eq(1))
	epoch := prom.WaitQuery(10*time.Second, `paddock_master_epoch{id="m1"}`, atLeast(1))

	// Every paddock_ metric the daemons export (the leader's view and a
	// series of every labelled one included, now that tasks ran) is in
	// docs/OPERATING.md with its type, and nothing else is.
	exported := map[string]string{}
	for _, addr := range addrs {
		for name, typ := range metricTypes(t, addr) {
			exported[name] = typ
		}
	}
	documented := documentedMetrics(t)
	for name, typ := range exported {
		if documented[name] != typ {
			t.Errorf("%s (%s) is exported; docs/OPERATING.md says %q", name, typ, documented[name])
		}
	}
	for name := range documented {
		if _, ok := exported[name]; !ok {
			t.Errorf("docs/OPERATING.md documents %s, which no daemon exports", name)
		}
	}

	killed := m1.Kill()
	m2.WaitLog(15*time.Second, pt.All(pt.Msg(pt.MsgElected), pt.After(killed)))
	prom.WaitQuery(15*time.Second, `paddock_master_is_leader{id="m2"}`, eq(1))
	prom.WaitQuery(15*time.Second, `paddock_master_partitions{id="m2"}`, eq(16))
	prom.WaitQuery(10*time.Second, `paddock_master_epoch{id="m2"}`, func(v float64) bool { return v > epoch })
	prom.WaitQuery(10*time.Second, `up{id="m1"}`, eq(0))
	// The change is in the database: m1 led, and m2's is_leader moved
	// (with several leaders m2 led all along: its share grew).
	prom.WaitQuery(10*time.Second, `max_over_time(paddock_master_is_leader{id="m1"}[5m])`, eq(1))
	moved := `changes(paddock_master_is_leader{id="m2"}[5m])`
	if several {
		moved = `changes(paddock_master_partitions{id="m2"}[5m])`
	}
	prom.WaitQuery(10*time.Second, moved, atLeast(1))

	// The new leader assigns and counts.
	s, code = e.RunDone(e.StartRun(10, 4, "echo", "y"), 60*time.Second)
	if code != 0 || s.Succeeded != 10 {
		t.Fatalf("client run after the failover: exit %d, %+v", code, s)
	}
	prom.WaitQuery(10*time.Second, `paddock_tasks_assigned_total{id="m2",kind="echo"}`, atLeast(10))
	prom.WaitQuery(10*time.Second, `paddock_worker_tasks_total{id="w1",kind="echo",status="succeeded"}`, atLeast(n+10))
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

// readyz checks that the daemon at addr is ready, as its probe says.
func readyz(t *testing.T, id, addr string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		OK bool `json:"ok"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &r) != nil || !r.OK {
		t.Errorf("%s /readyz: %d %s", id, resp.StatusCode, body)
	}
}

// metricTypes reads the daemon's /metrics and returns the type of every
// paddock_ metric it exports.
func metricTypes(t *testing.T, addr string) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		// # TYPE paddock_tasks_pending gauge
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[1] == "TYPE" && strings.HasPrefix(f[2], "paddock_") {
			out[f[2]] = f[3]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// operatingDoc is docs/OPERATING.md.
func operatingDoc(t *testing.T) string {
	t.Helper()
	root, err := pt.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "OPERATING.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A row of a metrics table: | `paddock_name` | type | labels | meaning |
var metricRow = regexp.MustCompile("(?m)^\\| `(paddock_[a-z_]+)` \\| ([a-z]+) \\|")

// documentedMetrics returns the metrics docs/OPERATING.md's tables list,
// with their types.
func documentedMetrics(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range metricRow.FindAllStringSubmatch(operatingDoc(t), -1) {
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		t.Fatal("no metric table found in docs/OPERATING.md")
	}
	return out
}

// The alert rules docs/OPERATING.md recommends load in Prometheus.
func TestOperatingAlertRulesAreValid(t *testing.T) {
	const promtool = "/usr/bin/promtool"
	if _, err := os.Stat(promtool); err != nil {
		t.Fatalf("%s is missing: install Debian's prometheus package with `make tools`: %v", promtool, err)
	}
	doc := operatingDoc(t)
	start := strings.Index(doc, "```yaml\ngroups:")
	if start < 0 {
		t.Fatal("no ```yaml block of alert rules (starting with groups:) in docs/OPERATING.md")
	}
	rules := doc[start+len("```yaml\n"):]
	rules = rules[:strings.Index(rules, "```")]
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "10 rules found") {
		t.Errorf("promtool check rules: %s", out)
	}
}
