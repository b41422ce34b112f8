package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/recipe"
)

// Log messages of a worker started with --roles.
const (
	msgRoleClaimed = "role claimed"         // field role
	msgRoleLost    = "role lost"            // fields role, reason
	msgRoleStarted = "role command started" // field role
	msgRoleExited  = "role command exited"  // fields role, exit_code
)

// roleWorker starts a worker that holds roles.
func roleWorker(e *pt.Env, id string) *pt.Proc {
	e.TB.Helper()
	w := e.Worker(id, 1, "--roles", "--allow-exec")
	w.WaitLog(pt.StartTimeout, pt.Msg(pt.MsgRegistered))
	return w
}

// pidCommand is a role command that appends its pid to file and sleeps.
func pidCommand(file string) string {
	b, _ := json.Marshal([]string{"sh", "-c", "echo $$ >> " + file + "; exec sleep 1000"})
	return string(b)
}

// pids reads a pid file written by pidCommand, waiting until it holds n.
func pids(t *testing.T, file string, n int) []int {
	t.Helper()
	var got []int
	waitFor(t, 10*time.Second, fmt.Sprintf("%d pids in %s", n, file), func() bool {
		b, _ := os.ReadFile(file)
		got = got[:0]
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				got = append(got, p)
			}
		}
		return len(got) >= n
	})
	return got
}

// running reports whether pid is a live process (not gone, not a zombie
// waiting for its reaper).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// waitFor checks cond every 10ms until it holds, failing t after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Now()
}

// roleListing is `client role list --json`.
type roleListing struct {
	Roles []struct {
		Name   string    `json:"name"`
		Data   string    `json:"data"`
		Holder string    `json:"holder"`
		Since  time.Time `json:"since"`
	} `json:"roles"`
	Applicants []struct {
		ID string `json:"id"`
	} `json:"applicants"`
}

func listRoles(t *testing.T, e *pt.Env) (holders map[string]string, applicants []string) {
	t.Helper()
	o := e.RunClient(30*time.Second, "role", "list", "--json")
	var l roleListing
	if o.Code != 0 || json.Unmarshal([]byte(o.Stdout), &l) != nil {
		t.Fatalf("client role list --json: exit %d, stdout %q, stderr %q", o.Code, o.Stdout, o.Stderr)
	}
	holders = map[string]string{}
	for _, r := range l.Roles {
		holders[r.Name] = r.Holder
		if r.Holder != "" && r.Since.IsZero() {
			t.Errorf("role %s held by %s since the zero time", r.Name, r.Holder)
		}
	}
	for _, a := range l.Applicants {
		applicants = append(applicants, a.ID)
	}
	return holders, applicants
}

// holderZnodes reads <root>/roles/holders: role → holder, checking each is
// ephemeral.
func holderZnodes(t *testing.T, e *pt.Env) map[string]string {
	t.Helper()
	conn := e.ZKConn()
	dir := e.Root + "/roles/holders"
	names, _, err := conn.Children(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		data, st, err := conn.Get(dir + "/" + n)
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Holder string `json:"holder"`
		}
		if json.Unmarshal(data, &h) != nil || st.EphemeralOwner == 0 {
			t.Errorf("holder znode %s: data %q, ephemeral owner 0x%x", n, data, st.EphemeralOwner)
		}
		out[n] = h.Holder
	}
	return out
}

// waitApplicants waits, with a child watch, until n applicants queue.
func waitApplicants(t *testing.T, e *pt.Env, n int) {
	t.Helper()
	conn := e.ZKConn()
	deadline := time.After(pt.StartTimeout)
	for {
		names, _, ch, err := conn.ChildrenW(e.Root + "/roles/applicants")
		if err == nil && len(names) == n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d applicants queued, want %d (err %v)", len(names), n, err)
		}
	}
}

type holdInterval struct {
	who      string
	from, to time.Time // to: zero while held
}

// roleIntervals reads from the workers' logs when each held role: from
// "role claimed" to "role lost", or to its kill -9 (the guard kills the
// command when the worker dies; the test checks when it is gone).
func roleIntervals(procs []*pt.Proc) map[string][]holdInterval {
	out := map[string][]holdInterval{}
	for _, p := range procs {
		open := map[string]time.Time{}
		for _, l := range pt.Filter(p.Logs(), pt.AnyOf(pt.Msg(msgRoleClaimed), pt.Msg(msgRoleLost))) {
			role := l.Str("role")
			if l.Msg == msgRoleClaimed {
				open[role] = l.TS
				continue
			}
			out[role] = append(out[role], holdInterval{p.ID, open[role], l.TS})
			delete(open, role)
		}
		for role, from := range open {
			out[role] = append(out[role], holdInterval{p.ID, from, p.KilledAt()})
		}
	}
	return out
}

// singleHolder checks that no two workers held a role at once.
func singleHolder(procs []*pt.Proc) []string {
	var problems []string
	for role, ivs := range roleIntervals(procs) {
		sort.Slice(ivs, func(i, j int) bool { return ivs[i].from.Before(ivs[j].from) })
		for i := 1; i < len(ivs); i++ {
			prev, cur := ivs[i-1], ivs[i]
			if prev.to.IsZero() || cur.from.Before(prev.to) {
				problems = append(problems, fmt.Sprintf("role %s: %s claimed it at %s while %s held it (since %s, until %v)",
					role, cur.who, cur.from.Format("15:04:05.000"), prev.who, prev.from.Format("15:04:05.000"), prev.to))
			}
		}
	}
	return problems
}

// Three workers hold two roles whose commands sleep. The holder of one is
// killed with SIGKILL: its command dies with it (the guard), and the worker
// waiting in line takes the role within the session timeout + 1 s. Then a
// holder is stopped with SIGTERM: a newly queued worker takes its role at
// once. At no instant do two workers hold a role.
func TestRolesHolderKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	e := newEnv(t)
	dir := t.TempDir()
	files := map[string]string{"r1": filepath.Join(dir, "r1.pids"), "r2": filepath.Join(dir, "r2.pids")}
	for _, r := range []string{"r1", "r2"} {
		if o := e.RunClient(30*time.Second, "role", "add", r, "--data", pidCommand(files[r])); o.Code != 0 {
			t.Fatalf("client role add %s: exit %d, %s%s", r, o.Code, o.Stdout, o.Stderr)
		}
	}
	workers := map[string]*pt.Proc{}
	var procs []*pt.Proc
	for _, id := range []string{"w1", "w2", "w3"} {
		workers[id] = roleWorker(e, id)
		procs = append(procs, workers[id])
	}
	claimedBy := map[string]string{}
	for _, r := range []string{"r1", "r2"} {
		_, p, err := pt.FindAny(pt.StartTimeout, "stderr", pt.All(pt.Msg(msgRoleClaimed), pt.Field("role", r)), procs...)
		if err != nil {
			t.Fatalf("nobody claimed %s: %v", r, err)
		}
		claimedBy[r] = p.ID
	}
	waitApplicants(t, e, 1) // the third worker, waiting in line
	holders, applicants := listRoles(t, e)
	if holders["r1"] != claimedBy["r1"] || holders["r2"] != claimedBy["r2"] || holders["r1"] == holders["r2"] {
		t.Fatalf("role list: holders %v, want r1 and r2 held by different workers (%v)", holders, claimedBy)
	}
	var waiting string
	for _, id := range []string{"w1", "w2", "w3"} {
		if id != holders["r1"] && id != holders["r2"] {
			waiting = id
		}
	}
	if !slices.Equal(applicants, []string{waiting}) {
		t.Fatalf("applicants %v, want [%s]", applicants, waiting)
	}
	if z := holderZnodes(t, e); z["r1"] != holders["r1"] || z["r2"] != holders["r2"] || len(z) != 2 {
		t.Fatalf("holder znodes %v, want %v", z, holders)
	}
	old := pids(t, files["r1"], 1)[0]
	if !running(old) {
		t.Fatalf("r1's command (pid %d) is not running", old)
	}

	// kill -9 r1's holder.
	victim := workers[holders["r1"]]
	killed := victim.Kill()
	victim.Wait(5 * time.Second)
	gone := waitFor(t, 5*time.Second, fmt.Sprintf("r1's command (pid %d) to die with its worker", old), func() bool { return !running(old) })
	t.Logf("r1's command gone %v after its worker's kill -9", gone.Sub(killed).Round(time.Millisecond))
	bound := e.SessionTimeout + time.Second
	l := workers[waiting].WaitLog(bound+10*time.Second, pt.All(pt.Msg(msgRoleClaimed), pt.Field("role", "r1"), pt.After(killed)))
	atMost(t, "takeover of r1 (kill -9 of its holder to the waiting worker's claim)", l.TS.Sub(killed), bound)
	if !gone.Before(l.TS) {
		t.Errorf("r1's old command was still running (until %s) when %s claimed r1 (%s)", gone.Format("15:04:05.000"), waiting, l.TS.Format("15:04:05.000"))
	}
	now := pids(t, files["r1"], 2)[1]
	if !running(now) {
		t.Errorf("r1's new command (pid %d) is not running", now)
	}
	holders, applicants = listRoles(t, e)
	if holders["r1"] != waiting || holders["r2"] != claimedBy["r2"] || len(applicants) != 0 {
		t.Fatalf("after the kill: holders %v, applicants %v; want r1 held by %s, r2 by %s, nobody waiting", holders, applicants, waiting, claimedBy["r2"])
	}

	// A fourth worker queues; r2's holder stops gracefully and hands over.
	workers["w4"] = roleWorker(e, "w4")
	procs = append(procs, workers["w4"])
	waitApplicants(t, e, 1)
	r2cmd := pids(t, files["r2"], 1)[0]
	stopped := workers[claimedBy["r2"]].Term()
	l = workers["w4"].WaitLog(10*time.Second, pt.All(pt.Msg(msgRoleClaimed), pt.Field("role", "r2"), pt.After(stopped)))
	atMost(t, "takeover of r2 (SIGTERM of its holder to w4's claim)", l.TS.Sub(stopped), time.Second)
	if code := workers[claimedBy["r2"]].Wait(15 * time.Second); code != 0 {
		t.Errorf("%s exited %d after SIGTERM", claimedBy["r2"], code)
	}
	lost := workers[claimedBy["r2"]].WaitLog(0, pt.All(pt.Msg(msgRoleLost), pt.Field("role", "r2")))
	if lost.Str("reason") != recipe.ErrApplyStopped.Error() {
		t.Errorf("%s lost r2 because %q, want the shutdown", claimedBy["r2"], lost.Str("reason"))
	}
	if running(r2cmd) {
		t.Errorf("r2's command (pid %d) outlived its worker's graceful stop", r2cmd)
	}
	if z := holderZnodes(t, e); z["r1"] != waiting || z["r2"] != "w4" || len(z) != 2 {
		t.Fatalf("holder znodes %v, want r1: %s, r2: w4", z, waiting)
	}
	pt.Require(t, "at most one holder per role at any instant", singleHolder(procs))
}

// A role command that exits is restarted after 1 s, then 2 s; a removed
// role's command is stopped; a role without data is held without one.
func TestRoleCommandRestartsAndRemoval(t *testing.T) {
	e := newEnv(t)
	if o := e.RunClient(30*time.Second, "role", "add", "flaky", "--data", `["sh","-c","exit 3"]`); o.Code != 0 {
		t.Fatalf("client role add: exit %d, %s%s", o.Code, o.Stdout, o.Stderr)
	}
	w := roleWorker(e, "w1")
	started := w.WaitLogN(15*time.Second, 3, pt.All(pt.Msg(msgRoleStarted), pt.Field("role", "flaky")))
	exited := pt.Filter(w.Logs(), pt.All(pt.Msg(msgRoleExited), pt.Field("role", "flaky")))
	if len(exited) < 2 || exited[0].Str("exit_code") != "3" {
		t.Fatalf("exits logged: %v", exited)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		if gap := started[i+1].TS.Sub(exited[i].TS); gap < want-50*time.Millisecond || gap > want+time.Second {
			t.Errorf("restart %d came %v after the exit, want about %v", i+1, gap, want)
		}
	}
	if o := e.RunClient(30*time.Second, "role", "rm", "flaky"); o.Code != 0 || !strings.Contains(o.Stdout, "removed role flaky") {
		t.Fatalf("client role rm: exit %d, %s%s", o.Code, o.Stdout, o.Stderr)
	}
	l := w.WaitLog(10*time.Second, pt.All(pt.Msg(msgRoleLost), pt.Field("role", "flaky")))
	if l.Str("reason") != recipe.ErrRoleRemoved.Error() {
		t.Errorf("role lost because %q, want role removed", l.Str("reason"))
	}
	if o := e.RunClient(30*time.Second, "role", "add", "idle"); o.Code != 0 {
		t.Fatalf("client role add idle: exit %d, %s%s", o.Code, o.Stdout, o.Stderr)
	}
	w.WaitLog(10*time.Second, pt.All(pt.Msg(msgRoleClaimed), pt.Field("role", "idle")))
	o := e.RunClient(30*time.Second, "role", "list")
	if o.Code != 0 || !strings.Contains(o.Stdout, "idle") || !strings.Contains(o.Stdout, "w1") || !strings.Contains(o.Stdout, "applicants: none") {
		t.Errorf("client role list: exit %d, stdout %q, stderr %q", o.Code, o.Stdout, o.Stderr)
	}
	if n := len(pt.Filter(w.Logs(), pt.All(pt.Msg(msgRoleStarted), pt.Field("role", "idle")))); n != 0 {
		t.Errorf("a command was started for a role without data")
	}
}

// The role commands' errors, and --roles without --allow-exec.
func TestRoleCLIErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"role", "add", "r1", "--data", `["true"]`}, 0, "added role r1"},
		{[]string{"role", "add", "r1"}, 1, "role r1 exists"},
		{[]string{"role", "rm", "r9"}, 1, "no role r9"},
		{[]string{"role", "add", "a/b"}, 2, "invalid role name"},
		{[]string{"role", "add", ".."}, 2, "invalid role name"},
		{[]string{"role", "add", "r2", "--data", "sleep 1"}, 2, "JSON array of strings"},
		{[]string{"role", "add", "r2", "--data", `[""]`}, 2, "JSON array of strings"},
	} {
		o := e.RunClient(30*time.Second, tc.args...)
		if o.Code != tc.code || !strings.Contains(o.Stdout+o.Stderr, tc.want) {
			t.Errorf("client %s: exit %d, stdout %q, stderr %q; want exit %d mentioning %q",
				strings.Join(tc.args, " "), o.Code, o.Stdout, o.Stderr, tc.code, tc.want)
		}
	}
	w := e.Worker("w1", 1, "--roles")
	if code := w.Wait(10 * time.Second); code != 2 || !strings.Contains(w.Stderr(), "--roles needs --allow-exec") {
		t.Errorf("worker --roles without --allow-exec: exit %d, stderr %q", code, w.Stderr())
	}
}

// `client config set` changes a running worker's concurrency, and `client
// config get` shows where each value comes from.
func TestConfigCLIChangesAWorkerLive(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	w := e.ReadyWorker(m, "w1", 1)
	if o := e.RunClient(20*time.Second, "config", "set", "worker.concurrency", "3", "--for", "w1"); o.Code != 0 {
		t.Fatalf("config set: %d %s", o.Code, o.Stderr)
	}
	w.WaitLog(pt.StartTimeout, pt.All(pt.Msg("concurrency changed"), pt.Field("concurrency", "3")))
	m.WaitLog(pt.StartTimeout, pt.All(pt.Msg(pt.MsgWorkerReady), pt.Field("worker", "w1"), pt.Field("concurrency", "3")))
	o := e.RunClient(20*time.Second, "config", "get", "--for", "w1", "--json")
	if o.Code != 0 || !strings.Contains(o.Stdout, `"value":"3"`) || !strings.Contains(o.Stdout, `"source":"process w1"`) {
		t.Fatalf("config get: %d %s %s", o.Code, o.Stdout, o.Stderr)
	}
	if o := e.RunClient(20*time.Second, "config", "set", "worker.concurency", "3"); o.Code != 2 || !strings.Contains(o.Stderr, "unknown setting") {
		t.Fatalf("a misspelt key: exit %d %s", o.Code, o.Stderr)
	}
	if o := e.RunClient(20*time.Second, "config", "set", "worker.concurrency", "0"); o.Code != 2 {
		t.Fatalf("an invalid value: exit %d %s", o.Code, o.Stderr)
	}
	if o := e.RunClient(20*time.Second, "config", "unset", "worker.concurrency", "--for", "w1"); o.Code != 0 {
		t.Fatalf("config unset: %d %s", o.Code, o.Stderr)
	}
	w.WaitLog(pt.StartTimeout, pt.All(pt.Msg("concurrency changed"), pt.Field("concurrency", "1")))
}
