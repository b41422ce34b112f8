package process

// The bad-input cases that take the service apart: garbage in the epoch (a
// leader is deposed; the next takes over), an epoch Paddock may not write,
// the directories the daemons read removed while they run, and a client
// without --zk-auth against a protected tree. See badinput_matrix_test.go
// for the harness and the cases that share one cluster.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// epochNow reads the epoch znode as Paddock wrote it last.
func (x *cluster) epochNow(t *testing.T) (epoch int64, leader string) {
	t.Helper()
	data, _, err := x.conn.Get(x.p("epoch"))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Epoch  int64  `json:"epoch"`
		Leader string `json:"leader"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("epoch %q: %v", data, err)
	}
	return e.Epoch, e.Leader
}

// leaderAndBackup returns the leading master and the other: the front
// candidate, which leads partition 0 whether one master leads or several
// (with several, the epoch names whoever took over last).
func (x *cluster) leaderAndBackup(t *testing.T) (leader, backup *daemon) {
	t.Helper()
	if x.leaderOf("00") == x.m2.p {
		return &x.m2, &x.m1
	}
	return &x.m1, &x.m2
}

// restart starts a master a case killed again, as a backup, for the next
// cases and the harness.
func (x *cluster) restart(t *testing.T, d *daemon) {
	t.Helper()
	d.p = x.e.Backup(d.p.ID, "--http-addr", "127.0.0.1:0")
	d.addr = d.p.HTTPAddr(pt.StartTimeout)
}

// masterLog waits for a line of either master since since.
func (x *cluster) masterLog(t *testing.T, since time.Time, pred pt.Pred) pt.Line {
	t.Helper()
	l, p, err := pt.FindAny(caseLogTimeout, "stderr", pt.All(pt.After(since), pred), x.m1.p, x.m2.p)
	if err != nil {
		t.Fatalf("masters: %v", err)
	}
	t.Logf("%s: %s", p.Name, l.Raw)
	return l
}

// garbageEpoch: another tool overwrites the epoch while a master leads.
// Its next write fails the fence (the version moved): it is deposed, and
// the next take-over overwrites the garbage with an epoch larger than any
// before.
//
// With several leaders each is fenced by the versions of its partitions,
// not the epoch (docs/PROTOCOL.md, "Several leaders"): garbage in the
// epoch alone deposes nobody and is read only at the next take-over. The
// tool then overwrites the front leader's fence too, partition 0 (whose
// record nobody but `client status` reads), and a task of partition 0
// makes that leader write and find out.
func garbageEpoch(data []byte, garbage bool) func(*testing.T, *cluster, time.Time) {
	return func(t *testing.T, x *cluster, since time.Time) {
		before, _ := x.epochNow(t)
		x.set(t, x.p("epoch"), data)
		if x.e.Leaders > 1 {
			x.set(t, x.p("partitions", "0"), data)
			id := idIn(t, "0"+newID(t)[19:])
			x.createTask(t, id, specJSON("echo", 4), []byte("wake"))
			if r := waitResult(t, x.e, id); r.Status != "succeeded" {
				t.Errorf("a task of partition 0 after its fence was overwritten: %+v", r)
			}
		} else if o := x.e.RunClient(serveTimeout, "submit", "--kind", "echo", "--data", "wake", "--wait"); o.Code != 0 {
			// A task makes the leader write, and find out.
			t.Errorf("a task after the epoch was overwritten: exit %d, %s", o.Code, o.Stderr)
		}
		x.masterLog(t, since, pt.Msg(pt.MsgDeposed))
		if garbage {
			x.masterLog(t, since, pt.All(pt.Msg("epoch znode holds garbage; overwriting it"), pt.Field("path", x.p("epoch")), level))
		}
		l := x.masterLog(t, since, pt.Msg(pt.MsgElected))
		if e, ok := l.Int("epoch"); !ok || e <= before {
			t.Errorf("the new leader's epoch is %d; the one before the garbage was %d: epochs must grow", e, before)
		}
	}
}

// TestBadInputEpoch: garbage, oversized data and another record in the
// epoch znode, and an epoch only another identity may write.
func TestBadInputEpoch(t *testing.T) {
	x := newCluster(t)
	runCases(t, x, []badCase{
		{name: "epoch/not-json", bad: garbageEpoch([]byte("not json"), true)},
		{name: "epoch/oversized", bad: garbageEpoch(oversized('e'), true)},
		{name: "epoch/another-record", bad: garbageEpoch([]byte(`{"id":"m9","host":"h","pid":1,"started":"2026-11-21T09:00:00Z"}`), false)},
		{name: "epoch/wrong-types", bad: garbageEpoch([]byte(`{"epoch":"7","leader":3}`), true)},
		{name: "master/persistent-candidate", bad: func(t *testing.T, x *cluster, since time.Time) {
			// A znode named like a candidate, first in line, that is not
			// one: persistent (candidates are ephemeral), made by another
			// tool. At the next failover the backup must still lead.
			p := x.p("master", "candidate-ffffffffffffffff-0000000000")
			x.create(t, p, []byte("not a master"))
			defer remove(t, x.conn, p)
			old, next := x.leaderAndBackup(t)
			killed := old.p.Kill()
			// With one leader the backup names the znode once it is next
			// in line (after the kill); with several, every master hears
			// of each change of the line and names it as it appears.
			waitLog(t, next.p, since, pt.All(pt.Msg("ignoring a znode that is not a candidate: it is not ephemeral"), pt.Field("path", p), level))
			waitLog(t, next.p, killed, pt.Msg(pt.MsgElected))
			x.restart(t, old)
		}},
		{name: "epoch/read-only", bad: func(t *testing.T, x *cluster, since time.Time) {
			// The leader keeps leading (its fence only reads the epoch);
			// a master elected after it cannot take over: it says so, and
			// tries again now and then, not in a loop, until the epoch is
			// writable again.
			if _, err := x.conn.SetACL(x.p("epoch"), intruderACL, -1); err != nil {
				t.Fatal(err)
			}
			restored := false
			restore := func() {
				if !restored {
					restored = true
					if _, err := x.intruder.SetACL(x.p("epoch"), zk.WorldACL(zk.PermAll), -1); err != nil {
						t.Error(err)
					}
				}
			}
			defer restore()
			if o := x.e.RunClient(serveTimeout, "submit", "--kind", "echo", "--data", "still", "--wait"); o.Code != 0 {
				t.Errorf("a task while the epoch is read-only: exit %d, %s", o.Code, o.Stderr)
			}
			old, next := x.leaderAndBackup(t)
			killed := old.p.Kill()
			waitLog(t, next.p, killed, pt.All(pt.Msg("elected but could not take over; standing again"),
				pt.Field("epoch", x.p("epoch")), pt.Contains("not authenticated"), level))
			noSpin(t, *next, x.w1)
			restore()
			waitLog(t, next.p, killed, pt.Msg(pt.MsgElected))
			x.restart(t, old)
		}},
	})
	x.e.History().Check(t)
}

// TestBadInputMissingParents: the directories the daemons read, removed
// while they run.
func TestBadInputMissingParents(t *testing.T) {
	x := newCluster(t)
	runCases(t, x, []badCase{
		{name: "missing/task-shard", quiet: true, bad: func(t *testing.T, x *cluster, since time.Time) {
			// The leader says the shard is missing, and learns of it again
			// once `client init` has made it anew.
			s := "5a"
			remove(t, x.conn, x.p("tasks", s))
			waitLog(t, x.leaderOf(s), since, pt.All(pt.Msg("a task shard is missing: submissions to it fail until `client init` creates it again"),
				pt.Field("path", x.p("tasks", s)), level))
			if o := x.e.RunClient(serveTimeout, "init"); o.Code != 0 {
				t.Fatalf("client init: exit %d, %s", o.Code, o.Stderr)
			}
			id := idIn(t, s)
			x.createTask(t, id, specJSON("echo", 2), []byte("ok"))
			if r := waitResult(t, x.e, id); r.Status != "succeeded" {
				t.Errorf("a task in the shard made anew: %+v", r)
			}
		}},
		{name: "missing/results-shard", quiet: true, bad: func(t *testing.T, x *cluster, since time.Time) {
			s := "5b"
			remove(t, x.conn, x.p("results", s))
			id := idIn(t, s)
			x.createTask(t, id, specJSON("echo", 1), []byte("x"))
			refusedCompletion(t, x, since, id, func() {
				if o := x.e.RunClient(serveTimeout, "init"); o.Code != 0 {
					t.Fatalf("client init: exit %d, %s", o.Code, o.Stderr)
				}
			})
		}},
		{name: "missing/assign", quiet: true, bad: func(t *testing.T, x *cluster, since time.Time) {
			// The worker makes its directory (and assign/) again.
			remove(t, x.conn, x.p("assign"))
			waitLog(t, x.w1.p, since, pt.All(pt.Msg("assign/ was missing; created it again"), pt.Field("path", x.p("assign")), level))
		}},
		{name: "missing/workers", bad: func(t *testing.T, x *cluster, since time.Time) {
			// With tasks in flight: the master takes w1 for lost and takes
			// its tasks back; w1 registers again and runs them.
			remove(t, x.conn, x.p("workers"))
			waitLog(t, x.w1.p, since, pt.All(pt.Msg("registration was deleted; registering again"), level))
			waitLog(t, x.w1.p, since, pt.Msg(pt.MsgRegistered))
			waitLog(t, x.m1.p, since, pt.All(pt.Msg(pt.MsgWorkerReady), pt.Field("worker", "w1")))
		}},
		{name: "missing/config", bad: func(t *testing.T, x *cluster, since time.Time) {
			remove(t, x.conn, x.p("config"))
			if o := x.e.RunClient(serveTimeout, "config", "set", "worker.concurrency", "3"); o.Code != 0 {
				t.Fatalf("client config set: exit %d, %s", o.Code, o.Stderr)
			}
			waitLog(t, x.w1.p, since, pt.All(pt.Msg("concurrency changed"), pt.Field("concurrency", "3")))
			if o := x.e.RunClient(serveTimeout, "config", "unset", "worker.concurrency"); o.Code != 0 {
				t.Fatalf("client config unset: exit %d, %s", o.Code, o.Stderr)
			}
			waitLog(t, x.w1.p, since, pt.All(pt.Msg("concurrency changed"), pt.Field("concurrency", "4")))
		}},
	})
	for _, p := range []*pt.Proc{x.m1.p, x.m2.p, x.w1.p} {
		if p.Exited() {
			t.Errorf("%s exited (code %d)", p.Name, p.ExitCode())
		}
	}
	x.e.History().Check(t)
}

// snapshot is every znode under root: path -> its data's version and
// children's version (what any write changes), for "nothing was written".
func snapshot(t *testing.T, conn *zk.Conn, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		kids, st, err := conn.Children(p)
		if err != nil {
			t.Fatalf("list %s: %v", p, err)
		}
		out[p] = fmt.Sprintf("v%d c%d a%d", st.Version, st.Cversion, st.Aversion)
		for _, k := range kids {
			walk(p + "/" + k)
		}
	}
	walk(root)
	return out
}

// TestBadInputNoAuth: a client without --zk-auth against a tree made
// with it. Every command that writes fails with the hint and writes
// nothing; those that only read work (the tree is world-readable). A
// master or a worker without it exits with the hint rather than spin.
func TestBadInputNoAuth(t *testing.T) {
	e := newEnv(t)
	e.Flags = []string{"--zk-auth", "paddock:secret"}
	m := e.Leader("m1")
	e.ReadyWorker(m, "w1", 2)
	// Something of every kind, for the commands to act on: a finished
	// result, a running task, a role, a setting.
	done := e.Submit("echo", "kept", "--wait", "--keep")
	running := e.Submit("sleep", "60")
	if o := e.RunClient(30*time.Second, "role", "add", "r1"); o.Code != 0 {
		t.Fatalf("role add: %d %s", o.Code, o.Stderr)
	}
	if o := e.RunClient(30*time.Second, "config", "set", "master.retention", "48h"); o.Code != 0 {
		t.Fatalf("config set: %d %s", o.Code, o.Stderr)
	}
	conn := e.ZKConn()
	// A dead letter that can be requeued, written as the master would.
	owner := pt.ConnectZK(t, e.ZK)
	if err := owner.AddAuth("digest", []byte("paddock:secret")); err != nil {
		t.Fatal(err)
	}
	acl := append(zk.DigestACL(zk.PermAll, "paddock", "secret"), zk.WorldACL(zk.PermRead)...)
	dead := newID(t)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := owner.Multi(
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "data", dead), Data: []byte("x"), Acl: acl},
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "dead", dead), Acl: acl, Data: fmt.Appendf(nil,
			`{"id":%q,"reason":"max-attempts","detail":"assigned 3 times without finishing","attempts":3,"at":%q,"spec":"{\"kind\":\"echo\",\"size\":1,\"attempts\":3}"}`, dead, at)},
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "results", dead), Acl: acl, Data: fmt.Appendf(nil,
			`{"id":%q,"kind":"echo","status":"dead","output":"","error":"max-attempts: assigned 3 times without finishing","attempts":3,"submitted_at":%q,"finished_at":%q}`, dead, at, at)},
	); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, conn, e.Root)

	noAuth := func(args ...string) pt.Outcome {
		t.Helper()
		all := append(append([]string{}, args...), "--zk", e.ZK, "--root", e.Root, "--connect-timeout", "10s", "--log-format", "json")
		p := e.Start("noauth-"+args[0], "client", "", e.Bins.Client, all, "PADDOCK_ZK_AUTH=")
		code := p.Wait(serveTimeout)
		return pt.Outcome{Proc: p, Code: code, Stdout: p.Stdout(), Stderr: p.Stderr()}
	}
	const hint = "pass the --zk-auth"
	for _, args := range [][]string{
		{"init"},
		{"submit", "--kind", "echo", "--data", "x"},
		{"submit", "--kind", "echo", "--data", "x", "--wait"},
		{"cancel", running},
		{"result", done, "--collect"},
		{"requeue", dead},
		{"requeue", "--dead"},
		{"purge", "--finished", "--older-than", "0s", "--yes"},
		{"purge", "--dead", "--older-than", "0s", "--yes"},
		{"config", "set", "worker.concurrency", "9"},
		{"config", "unset", "master.retention"},
		{"role", "add", "r2"},
		{"role", "rm", "r1"},
		{"run", "--tasks", "2", "--kind", "echo", "--data", "x"},
	} {
		o := noAuth(args...)
		if o.Code == 0 || !strings.Contains(o.Stderr, hint) {
			t.Errorf("client %s without --zk-auth: exit %d, stderr %q; want a failure with the hint %q",
				strings.Join(args, " "), o.Code, o.Stderr, hint)
		} else {
			t.Logf("client %s: exit %d: %s", strings.Join(args, " "), o.Code, strings.TrimSpace(o.Stderr))
		}
	}
	for _, args := range [][]string{
		{"status"}, {"ls"}, {"ls", "--state", "finished"}, {"inspect", done}, {"result", done}, {"role", "list"}, {"config", "get"},
	} {
		if o := noAuth(args...); o.Code != 0 {
			t.Errorf("client %s (reads only) without --zk-auth: exit %d, stderr %q", strings.Join(args, " "), o.Code, o.Stderr)
		}
	}
	after := snapshot(t, conn, e.Root)
	for p, v := range after {
		if before[p] != v {
			t.Errorf("%s changed: %s, was %s", p, v, before[p])
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s was removed", p)
		}
	}

	// Daemons without it give up, saying why.
	for _, bin := range []string{e.Bins.Master, e.Bins.Worker} {
		args := []string{"--zk", e.ZK, "--root", e.Root, "--id", "noauth", "--log-format", "json"}
		p := e.Start("noauth-"+bin[strings.LastIndex(bin, "/")+1:], "noauth", "", bin, args, "PADDOCK_ZK_AUTH=")
		code := p.Wait(serveTimeout)
		if code == 0 || !strings.Contains(p.Stderr(), hint) {
			t.Errorf("%s without --zk-auth: exit %d, stderr %q", p.Name, code, p.Stderr())
		}
	}
	if slices.Contains(snapshotKeys(snapshot(t, conn, e.Root)), e.Root+"/workers/noauth") {
		t.Errorf("the worker without --zk-auth registered")
	}
}

func snapshotKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
