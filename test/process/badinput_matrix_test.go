package process

// The bad-input matrix (issue 12, part 3): garbage, oversized data and
// foreign names in every znode a master or a worker reads, missing parents,
// znodes Paddock may not write, and a client without --zk-auth against a
// protected tree. For each case: the master, the worker or the client says
// clearly what it cannot accept (a log line naming the path or the task,
// or a client error and a non-zero exit), the service keeps serving (a
// valid task submitted after the bad input succeeds), nothing valid is
// lost (tasks in flight when the bad input landed finish), and nothing
// spins (the daemons' ZooKeeper requests and log lines stay few over a
// window once the case has settled).
//
// The cases that cannot interfere with one another share one long-lived
// cluster (TestBadInputMatrix); those that take the service apart (the
// epoch, missing parents, the protected tree) each get their own --root.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// Generous bounds: this machine is small and busy.
const (
	caseLogTimeout = 30 * time.Second // the clear log line of a case
	serveTimeout   = 60 * time.Second // a valid task after the bad input
	// spinWindow is how long the daemons are watched, once a case has
	// settled, for a tight loop; spinRequests and spinLines bound what they
	// may do meanwhile. Idle, they send nothing (the sweep runs hourly with
	// the default retention) and log nothing; a loop that retries at once
	// sends thousands of requests a second even on a loaded machine.
	spinWindow   = time.Second
	spinRequests = 150
	spinLines    = 60
)

// oversized is data just under ZooKeeper's default jute.maxbuffer (1 MB,
// less room for the request around it).
func oversized(fill byte) []byte { return bytes.Repeat([]byte{fill}, 1000<<10) }

// intruderACL is a znode of another identity that anyone may read and only
// that identity may change: what Paddock meets when a tool (or a
// deployment with another --zk-auth) made it.
var intruderACL = append(zk.DigestACL(zk.PermAll, "intruder", "secret"), zk.WorldACL(zk.PermRead)...)

// daemon is a long-lived master or worker with its /metrics address.
type daemon struct {
	p    *pt.Proc
	addr string
}

// cluster is a running deployment the cases write bad input into.
type cluster struct {
	e        *pt.Env
	m1, m2   daemon // leader, backup (with several leaders: both lead)
	w1       daemon
	conn     *zk.Conn // world:anyone, like Paddock without --zk-auth
	intruder *zk.Conn // authenticated as another identity
}

// newCluster starts a leader, a backup and a worker (that also applies
// for roles), each serving /metrics.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	e := newEnv(t)
	http0 := []string{"--http-addr", "127.0.0.1:0"}
	x := &cluster{e: e}
	x.m1.p = e.Leader("m1", http0...)
	x.m2.p = e.Backup("m2", http0...)
	x.w1.p = e.ReadyWorker(x.m1.p, "w1", 4, append(http0, "--roles", "--allow-exec")...)
	for _, d := range []*daemon{&x.m1, &x.m2, &x.w1} {
		d.addr = d.p.HTTPAddr(pt.StartTimeout)
	}
	x.conn = e.ZKConn()
	x.intruder = pt.ConnectZK(t, e.ZK)
	if err := x.intruder.AddAuth("digest", []byte("intruder:secret")); err != nil {
		t.Fatal(err)
	}
	return x
}

// leaderOf is the master that leads the partition of a task id or a shard
// ("3c"): the one that reads, assigns and cleans it. With one leader, m1;
// with several (proctest.LeadersEnv), m1 or m2.
func (x *cluster) leaderOf(idOrShard string) *pt.Proc {
	x.e.TB.Helper()
	return x.e.LeaderOf(pt.PartitionOf(idOrShard))
}

func (x *cluster) p(rel ...string) string { return path.Join(append([]string{x.e.Root}, rel...)...) }

// create creates a persistent znode (world:anyone) or fails t.
func (x *cluster) create(t *testing.T, p string, data []byte) {
	t.Helper()
	if _, err := x.conn.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
}

// set overwrites a znode's data or fails t.
func (x *cluster) set(t *testing.T, p string, data []byte) {
	t.Helper()
	if _, err := x.conn.Set(p, data, -1); err != nil {
		t.Fatalf("set %s: %v", p, err)
	}
}

// remove deletes p and what is under it, if it exists, with conn.
func remove(t *testing.T, conn *zk.Conn, p string) {
	t.Helper()
	// Paddock's processes make some of these znodes again as soon as they
	// see them go (a worker its assign/<w>): a child made between the
	// listing and the delete is removed on the next pass.
	for pass := 0; ; pass++ {
		kids, _, err := conn.Children(p)
		if err == zk.ErrNoNode {
			return
		}
		if err != nil {
			t.Fatalf("list %s: %v", p, err)
		}
		for _, k := range kids {
			remove(t, conn, p+"/"+k)
		}
		err = conn.Delete(p, -1)
		if err == nil || err == zk.ErrNoNode {
			return
		}
		if err != zk.ErrNotEmpty || pass == 20 {
			t.Fatalf("delete %s: %v", p, err)
		}
	}
}

// createTask writes a task the way another tool might: its payload (nil:
// none) and its task znode with spec as its data, in one multi, with the
// ops of more after them.
func (x *cluster) createTask(t *testing.T, id string, spec, payload []byte, more ...any) {
	t.Helper()
	var ops []any
	if payload != nil {
		ops = append(ops, &zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "data", id), Data: payload, Acl: zk.WorldACL(zk.PermAll)})
	}
	ops = append(ops, &zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "tasks", id), Data: spec, Acl: zk.WorldACL(zk.PermAll)})
	ops = append(ops, more...)
	if _, err := x.conn.Multi(ops...); err != nil {
		t.Fatalf("create task %s: %v", id, err)
	}
}

// specJSON is a valid Spec for kind with a payload of size bytes.
func specJSON(kind string, size int) []byte {
	return fmt.Appendf(nil, `{"kind":%q,"submitted_at":%q,"size":%d,"attempts":0}`,
		kind, time.Now().UTC().Format(time.RFC3339Nano), size)
}

// waitLog waits for a line of p since since that pred matches, failing t
// (the case's, not the cluster's) when none comes.
func waitLog(t *testing.T, p *pt.Proc, since time.Time, pred pt.Pred) pt.Line {
	t.Helper()
	l, err := p.FindLog(caseLogTimeout, pt.All(pt.After(since), pred))
	if err != nil {
		t.Fatalf("%s: no such log line: %v", p.Name, err)
	}
	t.Logf("%s: %s", p.Name, l.Raw)
	return l
}

// level matches a warning or an error: what an operator is shown.
func level(l pt.Line) bool { return l.Level == "warn" || l.Level == "error" }

// waitResult waits for id's result (without collecting it).
func waitResult(t *testing.T, e *pt.Env, id string) pt.Result {
	t.Helper()
	o := e.RunClient(serveTimeout, "result", id, "--wait", "--json")
	var r pt.Result
	if err := json.Unmarshal([]byte(o.Stdout), &r); err != nil {
		t.Fatalf("client result %s: exit %d, stdout %q, stderr %q", id, o.Code, o.Stdout, o.Stderr)
	}
	return r
}

// zkRequests reads paddock_zk_requests_total from a daemon's /metrics.
func zkRequests(t *testing.T, addr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "paddock_zk_requests_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("scrape %s: %q: %v", addr, sc.Text(), err)
			}
			return f
		}
	}
	t.Fatalf("scrape %s: no paddock_zk_requests_total", addr)
	return 0
}

// noSpin watches the daemons for spinWindow and fails t if one of them
// sends more than spinRequests requests to ZooKeeper or logs more than
// spinLines lines meanwhile: a tight loop on bad input.
func noSpin(t *testing.T, ds ...daemon) {
	t.Helper()
	reqs := make([]float64, len(ds))
	lines := make([]int, len(ds))
	live := ds[:0:0]
	for _, d := range ds {
		if !d.p.Exited() { // a case may have killed it
			live = append(live, d)
		}
	}
	ds = live
	for i, d := range ds {
		reqs[i], lines[i] = zkRequests(t, d.addr), len(d.p.Logs())
	}
	// The measuring window itself: a rate needs a duration.
	time.Sleep(spinWindow)
	for i, d := range ds {
		r, l := zkRequests(t, d.addr)-reqs[i], len(d.p.Logs())-lines[i]
		if r > spinRequests || l > spinLines {
			t.Errorf("%s spins: %v ZooKeeper requests and %d log lines in %v (bounds %d, %d); last lines:\n%s",
				d.p.Name, r, l, spinWindow, spinRequests, spinLines, d.p.Tail(10))
		}
	}
}

// badCase is one row of the matrix: bad writes the bad input and checks
// that it is reported (and what becomes of it); the harness around it
// checks that the service keeps serving, loses nothing and does not spin.
type badCase struct {
	name string
	bad  func(t *testing.T, x *cluster, since time.Time)
	// quiet: the bad input needs no task in flight (it deletes a
	// directory, which must be empty): the tasks submitted before it
	// finish first.
	quiet bool
}

// runCases runs the cases against x, one after the other.
func runCases(t *testing.T, x *cluster, cases []badCase) {
	parent := x.e.TB
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The Env's helpers fail the test they are given: this case's.
			x.e.TB = t
			defer func() { x.e.TB = parent }()
			// Tasks in flight when the bad input lands: they must finish.
			before := x.e.StartRun(3, 3, "sleep", "0.3")
			s, code := pt.RunSummary{}, 0
			if c.quiet {
				s, code = x.e.RunDone(before, serveTimeout)
			}
			since := time.Now()
			c.bad(t, x, since)
			after := x.e.RunClient(serveTimeout, "submit", "--json", "--kind", "echo", "--data", "after "+c.name, "--wait")
			var r pt.Result
			if after.Code != 0 || json.Unmarshal([]byte(after.Stdout), &r) != nil || r.Status != "succeeded" {
				t.Errorf("a valid task after the bad input: exit %d, stdout %q, stderr %q", after.Code, after.Stdout, after.Stderr)
			}
			if !c.quiet {
				s, code = x.e.RunDone(before, serveTimeout)
			}
			if code != 0 || s.Succeeded != 3 {
				t.Errorf("tasks in flight when the bad input landed: exit %d, %+v", code, s)
			}
			noSpin(t, x.m1, x.m2, x.w1)
		})
	}
}

// TestBadInputMatrix runs the cases that cannot disturb one another
// against one cluster.
func TestBadInputMatrix(t *testing.T) {
	x := newCluster(t)
	runCases(t, x, sharedCases)
	x.e.History().Check(t)
}

// deadLettered waits until the master dead-letters task id as malformed and
// checks its dead letter and its dead result.
func deadLettered(t *testing.T, x *cluster, since time.Time, id string) {
	t.Helper()
	waitLog(t, x.leaderOf(id), since, pt.All(pt.Msg(pt.MsgDeadLettered), pt.Field("task", id), pt.Field("reason", "malformed")))
	r := waitResult(t, x.e, id)
	if r.Status != "dead" || !strings.HasPrefix(r.Error, "malformed: malformed: ") {
		t.Errorf("result of %s: %+v, want dead, malformed", id, r)
	}
	tr := x.e.Tree()
	if d, ok := tr.Dead[id]; !ok || d.Reason != "malformed" || len(d.Spec) > 4096+64 {
		t.Errorf("dead letter of %s: %+v (present %v), want reason malformed and the spec cut at 4096 bytes", id, d, ok)
	}
	if _, ok := tr.Tasks[id]; ok {
		t.Errorf("task %s is still under tasks/", id)
	}
}

// garbageTask: a task znode whose data is not a Spec is dead-lettered.
func garbageTask(data []byte) func(*testing.T, *cluster, time.Time) {
	return func(t *testing.T, x *cluster, since time.Time) {
		id := newID(t)
		x.createTask(t, id, data, []byte("x"))
		deadLettered(t, x, since, id)
	}
}

// foreignAssignment: an assignment the master did not write (not an
// Assignment) for a task the Spec says w1 runs: the worker fails the task,
// saying why.
func foreignAssignment(data []byte) func(*testing.T, *cluster, time.Time) {
	return func(t *testing.T, x *cluster, since time.Time) {
		id := newID(t)
		spec := fmt.Appendf(nil, `{"kind":"echo","size":1,"attempts":1,"worker":"w1"}`)
		_, err := x.conn.Multi(
			&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "data", id), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
			&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "tasks", id), Data: spec, Acl: zk.WorldACL(zk.PermAll)},
			&zk.CreateRequest{Path: x.p("assign", "w1", id), Data: data, Acl: zk.WorldACL(zk.PermAll)},
		)
		if err != nil {
			t.Fatal(err)
		}
		r := waitResult(t, x.e, id)
		if r.Status != "failed" || !strings.Contains(r.Error, "assignment is malformed") {
			t.Errorf("result of %s: %+v, want failed: assignment is malformed", id, r)
		}
		waitLog(t, x.w1.p, since, pt.All(pt.Msg(pt.MsgFinished), pt.Field("task", id), pt.Field("status", "failed")))
	}
}

// foreignRegistration: a registration under workers/ that is not a
// WorkerInfo: the master names it and assigns nothing to it.
func foreignRegistration(data []byte) func(*testing.T, *cluster, time.Time) {
	return func(t *testing.T, x *cluster, since time.Time) {
		registerForeign(t, x, since, "bogus-"+newID(t)[14:], data)
	}
}

// registerForeign registers name with data, not a WorkerInfo, and expects
// the master to say so; then the registration goes.
func registerForeign(t *testing.T, x *cluster, since time.Time, name string, data []byte) {
	t.Helper()
	{
		p := x.p("workers", name)
		if _, err := x.conn.Create(p, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		waitLog(t, x.m1.p, since, pt.All(pt.Msg("worker registration is malformed; not assigning to it"), pt.Field("worker", name), level))
		// A valid task still goes to w1 (the harness checks), then the
		// bogus worker goes: lost, with nothing to take back.
		if err := x.conn.Delete(p, -1); err != nil {
			t.Fatal(err)
		}
		waitLog(t, x.m1.p, since, pt.All(pt.Msg(pt.MsgWorkerLost), pt.Field("worker", name)))
	}
}

// badConfig: garbage in a config znode is reported by the processes that
// read it, and the last good settings stay.
func badConfig(node string, data []byte, readers ...func(*cluster) *pt.Proc) func(*testing.T, *cluster, time.Time) {
	return func(t *testing.T, x *cluster, since time.Time) {
		p := x.p(node)
		if node != "config" {
			x.create(t, p, nil)
			defer remove(t, x.conn, p)
		} else {
			defer x.set(t, p, nil)
		}
		x.set(t, p, data)
		for _, r := range readers {
			waitLog(t, r(x), since, pt.All(pt.Msg("config is unreadable; keeping the current settings"), level,
				pt.Contains(p)))
		}
	}
}

func master1(x *cluster) *pt.Proc { return x.m1.p }
func master2(x *cluster) *pt.Proc { return x.m2.p }
func worker1(x *cluster) *pt.Proc { return x.w1.p }

var sharedCases = []badCase{
	// tasks/<shard>/<id>: read by the leader.
	{name: "task/not-json", bad: garbageTask([]byte("not json"))},
	{name: "task/wrong-types", bad: garbageTask([]byte(`{"kind":7,"attempts":"3","timeout_ms":1.5}`))},
	{name: "task/another-record", bad: garbageTask([]byte(`{"id":"w9","host":"h","pid":1,"concurrency":4,"kinds":["echo"]}`))},
	{name: "task/payload-not-base64", bad: garbageTask([]byte(`{"kind":"echo","size":5,"attempts":0,"payload":"aGVsbG8"}`))},
	{name: "task/oversized", bad: garbageTask(oversized('x'))},
	{name: "task/oversized-valid", bad: func(t *testing.T, x *cluster, since time.Time) {
		// A Spec padded with an unknown field near the limit is still a
		// Spec: it runs (the master's rewrite drops the padding).
		id := newID(t)
		spec := fmt.Appendf(nil, `{"kind":"echo","size":2,"attempts":0,"pad":"%s"}`, oversized('p'))
		x.createTask(t, id, spec, []byte("ok"))
		if r := waitResult(t, x.e, id); r.Status != "succeeded" || r.Output != "ok" {
			t.Errorf("result of %s: %+v, want succeeded with output ok", id, r)
		}
	}},

	// data/<shard>/<id>: read by the worker (raw bytes: only size and
	// absence matter).
	{name: "payload/missing", bad: func(t *testing.T, x *cluster, since time.Time) {
		id := newID(t)
		x.createTask(t, id, specJSON("echo", 1), nil)
		if r := waitResult(t, x.e, id); r.Status != "failed" || r.Error != "payload znode is missing" {
			t.Errorf("result of %s: %+v, want failed: payload znode is missing", id, r)
		}
	}},
	{name: "payload/oversized", bad: func(t *testing.T, x *cluster, since time.Time) {
		id := newID(t)
		x.createTask(t, id, specJSON("echo", 1000<<10), oversized('y'))
		r := waitResult(t, x.e, id)
		if r.Status != "succeeded" || !strings.HasSuffix(r.Output, "[truncated to 65536 bytes]") {
			t.Errorf("result of %s: status %s, error %q, output of %d bytes; want succeeded, truncated", id, r.Status, r.Error, len(r.Output))
		}
	}},

	// assign/<w>/<id>: read by the worker.
	{name: "assignment/not-json", bad: foreignAssignment([]byte("not json"))},
	{name: "assignment/another-record", bad: foreignAssignment([]byte(`{"id":"x","status":"succeeded","output":""}`))},
	{name: "assignment/oversized", bad: foreignAssignment(oversized('z'))},

	// workers/<w>: read by the leader (discovery).
	{name: "registration/not-json", bad: foreignRegistration([]byte("not json"))},
	{name: "registration/another-record", bad: foreignRegistration(specJSON("echo", 1))},
	{name: "registration/oversized", bad: foreignRegistration(oversized('w'))},
	{name: "registration/same-name-again", bad: func(t *testing.T, x *cluster, since time.Time) {
		// Each new registration under a name is reported, not only the
		// first the master saw.
		name := "again-" + newID(t)[14:]
		registerForeign(t, x, since, name, []byte("not json"))
		registerForeign(t, x, time.Now(), name, []byte("still not json"))
	}},

	// master/<candidate>: read by the backups (the leader's data, shown
	// when they stand by) and by status.
	{name: "candidate/garbage", bad: func(t *testing.T, x *cluster, since time.Time) {
		p, err := x.conn.Create(x.p("master", "candidate-ffffffffffffffff-"), []byte("not json"), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		defer remove(t, x.conn, p)
		o := x.e.RunClient(serveTimeout, "status", "-o", "json")
		if o.Code != 0 || !strings.Contains(o.Stdout, "(unreadable candidate-ffffffffffffffff-") {
			t.Errorf("client status with a garbage candidate: exit %d, stdout %q, stderr %q; want it shown as unreadable", o.Code, o.Stdout, o.Stderr)
		}
	}},
	{name: "candidate/oversized", bad: func(t *testing.T, x *cluster, since time.Time) {
		p, err := x.conn.Create(x.p("master", "candidate-ffffffffffffffff-"), oversized('c'), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		defer remove(t, x.conn, p)
		o := x.e.RunClient(serveTimeout, "status", "-o", "json")
		if o.Code != 0 || !strings.Contains(o.Stdout, "(unreadable candidate-ffffffffffffffff-") {
			t.Errorf("client status with an oversized candidate: exit %d, stdout %q, stderr %q; want it shown as unreadable", o.Code, o.Stdout, o.Stderr)
		}
	}},

	// config and config/<process>: read by every master and worker.
	{name: "config/not-json", bad: badConfig("config", []byte("not json"), master1, master2, worker1)},
	{name: "config/wrong-types", bad: badConfig("config", []byte(`{"worker.concurrency":8}`), master1, master2, worker1)},
	{name: "config/another-record", bad: badConfig("config", specJSON("echo", 1), master1, master2, worker1)},
	{name: "config/oversized", bad: badConfig("config", oversized('k'), master1, master2, worker1)},
	{name: "config/process-not-json", bad: badConfig("config/w1", []byte("not json"), worker1)},
	{name: "config/process-oversized", bad: badConfig("config/m1", oversized('k'), master1)},
}

// idIn is a fresh task id of shard s.
func idIn(t *testing.T, s string) string { return newID(t)[:18] + s }

// bagItem puts data in the role bag as another tool would: an item, then
// the token that announces it. It returns the item's path.
func (x *cluster) bagItem(t *testing.T, data []byte) string {
	t.Helper()
	p, err := x.conn.Create(x.p("roles", "bag", "item", "item"), data, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	seq := p[len(p)-10:]
	x.create(t, x.p("roles", "bag", "token", "token"+seq), nil)
	return p
}

// roleCycle adds a valid role, waits for w1 to claim it, and removes it
// again (w1 lets it go and applies once more): roles still match.
func roleCycle(t *testing.T, x *cluster, since time.Time) {
	t.Helper()
	name := "good-" + newID(t)[14:]
	if o := x.e.RunClient(serveTimeout, "role", "add", name); o.Code != 0 {
		t.Fatalf("client role add %s: exit %d, %s", name, o.Code, o.Stderr)
	}
	waitLog(t, x.w1.p, since, pt.All(pt.Msg("role claimed"), pt.Field("role", name)))
	if o := x.e.RunClient(serveTimeout, "role", "list"); o.Code != 0 || !strings.Contains(o.Stdout, name) {
		t.Errorf("client role list: exit %d, stdout %q, stderr %q", o.Code, o.Stdout, o.Stderr)
	}
	if o := x.e.RunClient(serveTimeout, "role", "rm", name); o.Code != 0 {
		t.Fatalf("client role rm %s: exit %d, %s", name, o.Code, o.Stderr)
	}
	waitLog(t, x.w1.p, since, pt.All(pt.Msg("role lost"), pt.Field("role", name)))
}

// garbageItem: a bag item that is not a role is ignored, named, by the
// applicant, and the roles after it are matched.
func garbageItem(data []byte) func(*testing.T, *cluster, time.Time) {
	return func(t *testing.T, x *cluster, since time.Time) {
		p := x.bagItem(t, data)
		defer remove(t, x.conn, p)
		roleCycle(t, x, since)
		waitLog(t, x.w1.p, since, pt.All(pt.Msg("ignoring a bag item that is not a role"), pt.Field("item", p), level))
	}
}

// readable checks that the client's read-only commands still work.
func readable(t *testing.T, x *cluster) {
	t.Helper()
	for _, args := range [][]string{
		{"status", "-o", "json"}, {"ls"}, {"ls", "--state", "running"}, {"ls", "--state", "finished"},
		{"ls", "--state", "dead"}, {"role", "list"}, {"config", "get"},
	} {
		if o := x.e.RunClient(serveTimeout, args...); o.Code != 0 {
			t.Errorf("client %s: exit %d, stderr %q", strings.Join(args, " "), o.Code, o.Stderr)
		}
	}
}

// ignored: znodes with names no reader expects (a path each, relative to
// the root) are left alone, and the clients that list their directories
// still work. They are all written at once: one case, one check of the
// clients, for many directories.
func ignored(rels ...[]string) func(*testing.T, *cluster, time.Time) {
	return func(t *testing.T, x *cluster, since time.Time) {
		for _, rel := range rels {
			p := x.p(rel...)
			x.create(t, p, []byte("not Paddock's"))
			defer remove(t, x.conn, p)
		}
		readable(t, x)
	}
}

func at(rel ...string) []string { return rel }

func init() {
	sharedCases = append(sharedCases, []badCase{
		// roles/bag/item/*: read by the applicant at the head of the queue
		// (w1, --roles); roles/holders/*: listed by it, read by role list.
		{name: "role-item/not-json", bad: garbageItem([]byte("not json"))},
		{name: "role-item/another-record", bad: garbageItem([]byte(`{"holder":"w1","since":"2026-11-21T10:00:00Z","item":7}`))},
		{name: "role-item/oversized", bad: garbageItem(oversized('r'))},
		{name: "role-holder/garbage", bad: func(t *testing.T, x *cluster, since time.Time) {
			// A holder znode of another session holds the role (whatever
			// its data): nobody claims it until it goes.
			name := "held-" + newID(t)[14:]
			p := x.p("roles", "holders", name)
			if _, err := x.conn.Create(p, oversized('h'), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			if o := x.e.RunClient(serveTimeout, "role", "add", name); o.Code != 0 {
				t.Fatalf("client role add: exit %d, %s", o.Code, o.Stderr)
			}
			if o := x.e.RunClient(serveTimeout, "role", "list"); o.Code != 0 || !strings.Contains(o.Stdout, "unreadable holder") {
				t.Errorf("client role list: exit %d, stdout %q, stderr %q", o.Code, o.Stdout, o.Stderr)
			}
			remove(t, x.conn, p)
			waitLog(t, x.w1.p, since, pt.All(pt.Msg("role claimed"), pt.Field("role", name)))
			if o := x.e.RunClient(serveTimeout, "role", "rm", name); o.Code != 0 {
				t.Fatalf("client role rm: exit %d, %s", o.Code, o.Stderr)
			}
			waitLog(t, x.w1.p, since, pt.All(pt.Msg("role lost"), pt.Field("role", name)))
		}},

		// Names no reader expects, in every directory.
		{name: "name/everywhere", bad: ignored(
			at("tasks", "zz"),
			at("data", "3c", "NOT-A-TASK"),
			at("data", "zz"),
			at("results", "3c", "NOT-A-TASK"),
			at("results", "zz"),
			at("dead", "3c", "NOT-A-TASK"),
			at("dead", "zz"),
			at("assign", "no-such-worker"),
			at("master", "foo"),
			at("roles", "foo"),
			at("roles", "bag", "item", "foo"),
			at("roles", "bag", "token", "foo"),
			at("roles", "holders", "no-such-role"),
			at("roles", "applicants", "foo"),
			at("config", "no-such-process"),
		)},
		{name: "name/workers-child", bad: func(t *testing.T, x *cluster, since time.Time) {
			// A persistent, well-formed registration of a worker that does
			// not exist: the master cannot tell it from a worker, but
			// nothing is lost: it never creates its assign/ dir, so the
			// master assigns nothing to it.
			name := "ghost-" + newID(t)[14:]
			x.create(t, x.p("workers", name), fmt.Appendf(nil, `{"id":%q,"concurrency":4,"kinds":["echo","sleep"]}`, name))
			defer remove(t, x.conn, x.p("workers", name))
			waitLog(t, x.m1.p, since, pt.All(pt.Msg(pt.MsgWorkerReady), pt.Field("worker", name)))
			readable(t, x)
		}},
		{name: "name/shard-stray", bad: func(t *testing.T, x *cluster, since time.Time) {
			p := x.p("tasks", "3c", "NOT-A-TASK")
			x.create(t, p, []byte("stray"))
			waitLog(t, x.leaderOf("3c"), since, pt.All(pt.Msg("removed a znode under tasks/ that is not a task"), pt.Field("path", p), level))
		}},
		{name: "name/assign-dir", bad: func(t *testing.T, x *cluster, since time.Time) {
			p := x.p("assign", "w1", "NOT-A-TASK")
			x.create(t, p, []byte("stray"))
			defer remove(t, x.conn, p)
			waitLog(t, x.m1.p, since, pt.All(pt.Msg("ignoring a znode that is not Paddock's"), pt.Field("path", p), level))
		}},

		// A child under a znode that should have none.
		{name: "child/stray", bad: func(t *testing.T, x *cluster, since time.Time) {
			// Both in one multi: made one after the other, the stray could
			// be removed as childless before its child was made.
			p := x.p("tasks", "3d", "NOT-A-TASK")
			if _, err := x.conn.Multi(
				&zk.CreateRequest{Path: p, Acl: zk.WorldACL(zk.PermAll)},
				&zk.CreateRequest{Path: p + "/child", Acl: zk.WorldACL(zk.PermAll)},
			); err != nil {
				t.Fatalf("create %s with a child: %v", p, err)
			}
			defer remove(t, x.conn, p)
			waitLog(t, x.leaderOf("3d"), since, pt.All(pt.Msg("cannot remove a znode under tasks/ that is not a task: it has children"), pt.Field("path", p), level))
		}},
		{name: "child/epoch", bad: ignored(at("epoch", "child"))},
		{name: "child/config", bad: func(t *testing.T, x *cluster, since time.Time) {
			x.create(t, x.p("config", "w2"), nil)
			defer remove(t, x.conn, x.p("config", "w2"))
			ignored(at("config", "w2", "child"))(t, x, since)
		}},
		{name: "child/task", bad: func(t *testing.T, x *cluster, since time.Time) {
			// A task znode with a child cannot be deleted, so the task
			// cannot complete: the worker says so once and does not run it
			// again while it stays assigned. Once the child is gone, the
			// task can be cancelled (the assignment goes with it).
			id := newID(t)
			// The child comes in the task's own multi: made after it, it
			// could find the task already run and gone.
			child := pt.TaskPath(x.e.Root, "tasks", id) + "/child"
			x.createTask(t, id, specJSON("echo", 1), []byte("c"), &zk.CreateRequest{Path: child, Acl: zk.WorldACL(zk.PermAll)})
			refusedCompletion(t, x, since, id, func() { remove(t, x.conn, child) })
		}},
		{name: "child/assignment", bad: func(t *testing.T, x *cluster, since time.Time) {
			id := newID(t)
			spec := fmt.Appendf(nil, `{"kind":"echo","size":1,"attempts":1,"worker":"w1"}`)
			a := fmt.Appendf(nil, `{"kind":"echo","attempt":1,"max_attempts":3,"epoch":1,"master":"m1"}`)
			ap := x.p("assign", "w1", id)
			_, err := x.conn.Multi(
				&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "data", id), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
				&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "tasks", id), Data: spec, Acl: zk.WorldACL(zk.PermAll)},
				&zk.CreateRequest{Path: ap, Data: a, Acl: zk.WorldACL(zk.PermAll)},
				&zk.CreateRequest{Path: ap + "/child", Acl: zk.WorldACL(zk.PermAll)},
			)
			if err != nil {
				t.Fatal(err)
			}
			refusedCompletion(t, x, since, id, func() { remove(t, x.conn, ap+"/child") })
		}},

		// Znodes Paddock must write and may not.
		{name: "acl/task", bad: func(t *testing.T, x *cluster, since time.Time) {
			// A valid task another identity owns: the master cannot record
			// its assignment. It says so once and leaves it.
			id := newID(t)
			if _, err := x.intruder.Multi(
				&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "data", id), Data: []byte("x"), Acl: intruderACL},
				&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "tasks", id), Data: specJSON("echo", 1), Acl: intruderACL},
			); err != nil {
				t.Fatal(err)
			}
			defer remove(t, x.intruder, pt.TaskPath(x.e.Root, "data", id))
			defer remove(t, x.intruder, pt.TaskPath(x.e.Root, "tasks", id))
			waitLog(t, x.leaderOf(id), since, pt.All(pt.Msg("cannot write a task: ZooKeeper refuses it; leaving the task as it is until its shard changes"),
				pt.Field("task", id), pt.Contains("not authenticated"), level))
		}},
		{name: "acl/task-shard", quiet: true, bad: func(t *testing.T, x *cluster, since time.Time) {
			// A task shard another identity owns, holding a malformed task
			// of its own: the leader cannot dead-letter it (deleting a
			// child needs the shard's permission). It says so once, and
			// leaves it rather than retry in a loop.
			s := "3f"
			remove(t, x.conn, x.p("tasks", s))
			if _, err := x.intruder.Create(x.p("tasks", s), nil, 0, intruderACL); err != nil {
				t.Fatal(err)
			}
			id := idIn(t, s)
			if _, err := x.intruder.Create(pt.TaskPath(x.e.Root, "tasks", id), []byte("not json"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			defer func() {
				remove(t, x.intruder, x.p("tasks", s))
				if o := x.e.RunClient(serveTimeout, "init"); o.Code != 0 {
					t.Errorf("client init: exit %d, %s", o.Code, o.Stderr)
				}
			}()
			waitLog(t, x.leaderOf(id), since, pt.All(pt.Msg("cannot write a task: ZooKeeper refuses it; leaving the task as it is until its shard changes"),
				pt.Field("task", id), pt.Contains("not authenticated"), level))
		}},
		{name: "acl/payload-unreadable", bad: func(t *testing.T, x *cluster, since time.Time) {
			// A payload only another identity may read: the task cannot
			// run; it fails, saying why.
			id := newID(t)
			if _, err := x.intruder.Multi(
				&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "data", id), Data: []byte("x"), Acl: zk.DigestACL(zk.PermAll, "intruder", "secret")},
				&zk.CreateRequest{Path: pt.TaskPath(x.e.Root, "tasks", id), Data: specJSON("echo", 1), Acl: zk.WorldACL(zk.PermAll)},
			); err != nil {
				t.Fatal(err)
			}
			defer remove(t, x.intruder, pt.TaskPath(x.e.Root, "data", id))
			r := waitResult(t, x.e, id)
			if r.Status != "failed" || !strings.Contains(r.Error, "cannot read the payload") || !strings.Contains(r.Error, "not authenticated") {
				t.Errorf("result of %s: %+v, want failed: cannot read the payload", id, r)
			}
			waitLog(t, x.w1.p, since, pt.All(pt.Msg("task cannot run; failing it"), pt.Field("task", id), level))
		}},
		{name: "acl/results-shard", bad: func(t *testing.T, x *cluster, since time.Time) {
			// A results shard another identity owns: no result can be
			// written there. The worker says so and leaves the task.
			s := "3e"
			remove(t, x.conn, x.p("results", s))
			if _, err := x.intruder.Create(x.p("results", s), nil, 0, intruderACL); err != nil {
				t.Fatal(err)
			}
			id := idIn(t, s)
			x.createTask(t, id, specJSON("echo", 1), []byte("x"))
			refusedCompletion(t, x, since, id, func() {
				if _, err := x.intruder.SetACL(x.p("results", s), zk.WorldACL(zk.PermAll), -1); err != nil {
					t.Error(err)
				}
			})
		}},
	}...)
}

// refusedCompletion waits for w1 to say that it cannot complete task id,
// checks that it does not run the task again meanwhile, then mends the
// tree (mend) and cancels the task: the assignment goes, and w1 forgets it.
func refusedCompletion(t *testing.T, x *cluster, since time.Time, id string, mend func()) {
	t.Helper()
	waitLog(t, x.w1.p, since, pt.All(pt.Msg("cannot complete the task: ZooKeeper refuses the write; leaving it assigned here, not running it again"),
		pt.Field("task", id), level))
	// Other tasks come and go in w1's directory (the harness's): the task
	// must not start again at each change. This one goes to another shard
	// than id's: where a case broke the shard (results/<s> gone), its
	// completion would be refused too (a `client submit` drew that shard
	// in CI, 1 time in 256, and waited for ever).
	other := "00"
	if strings.HasSuffix(id, other) {
		other = "01"
	}
	meanwhile := idIn(t, other)
	x.createTask(t, meanwhile, specJSON("echo", len("meanwhile")), []byte("meanwhile"))
	if r := waitResult(t, x.e, meanwhile); r.Status != "succeeded" {
		t.Errorf("a valid task meanwhile: %+v", r)
	}
	if n := len(pt.Filter(x.w1.p.Logs(), pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))); n > 1 {
		t.Errorf("task %s started %d times; its completion is refused, it must not run again", id, n)
	}
	mend()
	if o := x.e.RunClient(serveTimeout, "cancel", id); o.Code != 0 {
		t.Errorf("client cancel %s: exit %d, %s", id, o.Code, o.Stderr)
	}
	if r := waitResult(t, x.e, id); r.Status != "cancelled" {
		t.Errorf("result of %s: %+v, want cancelled", id, r)
	}
}
