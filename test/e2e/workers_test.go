package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// 1/1/1: the only worker is killed (kill -9) with two 1.5 s tasks running
// and two waiting; a new worker is started after the kill. The master
// notices the loss when the worker's session expires, returns its tasks to
// pending, and the new worker runs all four.
func TestWorkerKilledMidTask(t *testing.T) {
	r := newRecorder(t, "1/1/1: the worker is killed mid-task",
		"One master, one worker (concurrency 2) running 1.5 s sleep tasks, one client. The worker is killed with SIGKILL while two tasks run "+
			"and two wait; a new worker (concurrency 4) is started right after. Expected: the master returns the killed worker's tasks to pending once "+
			"its session expires, the new worker runs them (attempt 2), every task has exactly one result.")
	zk := standalone(t)
	e := newEnv(t, zk.Addr())
	r.Setup(standaloneSetup(e, 1, "1 (concurrency 2), then a new one (concurrency 4)", "4 × client submit, then client result --wait", "sleep 1.5 s"))
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 2)
	ids := e.SubmitN(4, "sleep", "1.5")
	started := w1.WaitLogN(pt.StartTimeout, 2, pt.Msg(pt.MsgStarted))
	inFlight := pt.TaskIDs(started)
	r.Line("w1 started 2 of the 4 tasks", started[1])

	killed := w1.Kill()
	r.Event(killed, "kill -9 the worker w1 (2 tasks in flight, 2 pending)")
	w1.Wait(5 * time.Second)
	w2 := e.Worker("w2", 4)
	r.Event(w2.Started, "started a new worker w2")

	lost := m.WaitLog(e.SessionTimeout+10*time.Second, pt.All(pt.Msg(pt.MsgWorkerLost), pt.Field("worker", "w1")))
	r.Line("the master noticed w1's session expired and took its tasks back", lost)
	r.Measure("kill -9 → master notices the worker lost (session expiry)", lost.TS.Sub(killed), e.SessionTimeout+time.Second)
	bound := e.SessionTimeout + 2*time.Second // + the new worker's start-up
	var worst time.Duration
	for _, id := range inFlight {
		l := w2.WaitLog(bound+5*time.Second, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
		worst = max(worst, l.TS.Sub(killed))
		if l.Str("attempt") != "2" {
			t.Errorf("task %s restarted with attempt %s, want 2: %s", id, l.Str("attempt"), l)
		}
	}
	r.Event(killed.Add(worst), "both in-flight tasks restarted on w2 (attempt 2)")
	r.Measure("kill -9 → the in-flight tasks restarted on the new worker (worst)", worst, bound)

	results := e.WaitResults(30*time.Second, ids)
	var last time.Time
	for _, id := range ids {
		last = maxTime(last, results[id].FinishedAt)
	}
	r.Event(last, "all 4 tasks finished")
	r.Measure("kill -9 → all 4 tasks finished", last.Sub(killed), 0)
	for _, id := range inFlight {
		if res := results[id]; res.Worker != "w2" || res.Attempts != 2 {
			t.Errorf("task %s, in flight on the killed worker, finished on %s at attempt %d; want w2, attempt 2", id, res.Worker, res.Attempts)
		}
	}
	ck := e.Checker()
	ck.Submitted, ck.Results, ck.Tree = ids, results, e.Tree()
	ck.FaultsEnded, ck.Bound = killed, e.SessionTimeout+4*time.Second
	r.Check(ck)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// 1/1/1: two clients waiting for their tasks (client submit --wait) are
// killed with SIGKILL. The tasks still finish; another client collects the
// first by id (its result and payload go at once), and the master removes
// the second, left uncollected, after its retention.
func TestClientKilled(t *testing.T) {
	r := newRecorder(t, "1/1/1: the client is killed before its task completes",
		"One master (result retention 2 s), one worker, and two clients each running `client submit --wait` of a 1 s task. Both clients "+
			"are killed with SIGKILL while their tasks run. Expected: the tasks finish anyway; another client reads and collects the first "+
			"by id (`client result ID --collect`: result and payload removed at once); the second, left uncollected, is removed by the "+
			"leader (with its payload) once older than the retention, after which `client result` says the task is unknown.")
	zk := standalone(t)
	e := newEnv(t, zk.Addr())
	const retention = 2 * time.Second
	r.Setup(standaloneSetup(e, 1, "1 (concurrency 2)", "2 × client submit --wait (killed), then client result by id", "sleep 1 s"))
	r.Note("the master runs with --retention %v", retention)
	m := e.Leader("m1", "--retention", retention.String())
	w := e.ReadyWorker(m, "w1", 2)

	var ids []string
	var clients []*pt.Proc
	for range 2 {
		c := e.Client("submit", "--kind", "sleep", "--data", "1", "--wait")
		l := c.WaitLog(pt.StartTimeout, pt.Contains("waiting for its result"))
		f := strings.Fields(l.Raw) // "submitted <id>; waiting for its result"
		if len(f) < 2 || f[0] != "submitted" {
			t.Fatalf("unexpected line from client submit --wait: %s", l)
		}
		id := strings.TrimSuffix(f[1], ";")
		r.Event(l.TS, "a client submitted task %s and waits for it", id)
		ids = append(ids, id)
		clients = append(clients, c)
	}
	collected, expired := ids[0], ids[1]
	for _, id := range ids {
		st := w.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
		r.Line("the worker started "+id, st)
	}
	var killed time.Time
	for _, c := range clients {
		killed = c.Kill()
		c.Wait(5 * time.Second)
	}
	r.Event(killed, "kill -9 both waiting clients")
	var fin pt.Line
	for i, id := range ids {
		fin = w.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgFinished), pt.Field("task", id)))
		r.Line("task "+id+" finished anyway", fin)
		r.Measure(fmt.Sprintf("clients killed → task %d of 2 finished", i+1), fin.TS.Sub(killed), 2*time.Second)
	}
	res := e.WaitResults(10*time.Second, ids)

	// The first: another client reads and collects it by id.
	o := e.RunClient(10*time.Second, "result", collected, "--collect", "--json")
	if o.Code != 0 || !strings.Contains(o.Stdout, `"status":"succeeded"`) {
		t.Fatalf("client result %s --collect --json: exit %d, stdout %q, stderr %q", collected, o.Code, o.Stdout, o.Stderr)
	}
	r.Event(o.Proc.ExitedAt(), "another client read task %s by id and collected it: status succeeded", collected)
	conn := e.ZKConn()
	for _, kind := range []string{"results", "data"} {
		if ok, _, err := conn.Exists(pt.TaskPath(e.Root, kind, collected)); err != nil || ok {
			t.Errorf("%s of the collected task %s: exists %v, err %v; want removed", kind, collected, ok, err)
		}
	}
	r.Event(time.Now(), "its result and payload are gone from ZooKeeper")

	// The second: nobody collects it; the leader removes it after the
	// retention (it looks every max(retention/4, 1 s)).
	o = e.RunClient(10*time.Second, "result", expired, "--json")
	if o.Code != 0 || !strings.Contains(o.Stdout, `"status":"succeeded"`) {
		t.Fatalf("client result %s --json: exit %d, stdout %q, stderr %q", expired, o.Code, o.Stdout, o.Stderr)
	}
	r.Event(o.Proc.ExitedAt(), "another client read task %s by id without collecting it", expired)
	resultPath := pt.TaskPath(e.Root, "results", expired)
	deadline := time.Now().Add(retention + 5*time.Second)
	for {
		ok, _, ch, err := conn.ExistsW(resultPath)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("result %s still there %v after the task finished (retention %v)", expired, time.Since(fin.TS), retention)
		}
	}
	gone := time.Now()
	r.Event(gone, "the uncollected result of %s is gone (removed by the leader)", expired)
	d := r.Measure("task finished → uncollected result removed (retention 2 s)", gone.Sub(fin.TS), retention+2*time.Second)
	if d < retention-50*time.Millisecond {
		t.Errorf("result removed %v after the task finished, before the retention %v", d, retention)
	}
	if ok, _, err := conn.Exists(pt.TaskPath(e.Root, "data", expired)); err != nil || ok {
		t.Errorf("payload of %s: exists %v, err %v; want removed with the result", expired, ok, err)
	}
	m.WaitLog(5*time.Second, pt.Msg("expired uncollected results"))
	for _, id := range ids {
		o = e.RunClient(10*time.Second, "result", id)
		if o.Code != 1 || !strings.Contains(o.Stderr, "no task "+id) {
			t.Errorf("client result %s afterwards: exit %d, stdout %q, stderr %q; want exit 1 saying the task is unknown", id, o.Code, o.Stdout, o.Stderr)
		}
	}
	r.Event(o.Proc.ExitedAt(), "client result for either task now exits 1: %s", strings.TrimSpace(o.Stderr))

	ck := e.Checker()
	ck.Submitted, ck.Results, ck.Tree, ck.Collected = ids, res, e.Tree(), true
	ck.FaultsEnded, ck.Bound = killed, 3*time.Second
	r.Check(ck)
}

// 1/2/1: two workers; one is killed with SIGKILL with tasks in flight. Its
// tasks finish on the other worker and none is lost.
func TestWorkerKilledOtherFinishes(t *testing.T) {
	r := newRecorder(t, "1/2/1: one of two workers is killed with tasks in flight",
		"One master, two workers (concurrency 2 each), eight 1 s sleep tasks. The first worker is killed with SIGKILL once it runs two tasks. "+
			"Expected: its tasks are returned to pending when its session expires and finish on the other worker; nothing is lost.")
	zk := standalone(t)
	e := newEnv(t, zk.Addr())
	r.Setup(standaloneSetup(e, 1, "2 (concurrency 2)", "8 × client submit, then client result --wait", "sleep 1 s"))
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 2)
	w2 := e.ReadyWorker(m, "w2", 2)
	ids := e.SubmitN(8, "sleep", "1")
	r.Event(time.Now(), "submitted 8 tasks")
	w1.WaitLogN(pt.StartTimeout, 2, pt.Msg(pt.MsgStarted))
	killed := w1.Kill()
	w1.Wait(5 * time.Second)
	var inFlight []string
	done := pt.TaskIDs(pt.Filter(w1.Logs(), pt.Msg(pt.MsgFinished)))
	for _, id := range pt.TaskIDs(pt.Filter(w1.Logs(), pt.Msg(pt.MsgStarted))) {
		if !slices.Contains(done, id) {
			inFlight = append(inFlight, id)
		}
	}
	r.Event(killed, "kill -9 the worker w1 with %s in flight", plural(len(inFlight), "task"))
	if len(inFlight) == 0 {
		t.Fatal("the killed worker had no task in flight")
	}
	lost := m.WaitLog(e.SessionTimeout+10*time.Second, pt.All(pt.Msg(pt.MsgWorkerLost), pt.Field("worker", "w1")))
	r.Line("the master noticed w1 lost", lost)
	r.Measure("kill -9 → master notices the worker lost", lost.TS.Sub(killed), e.SessionTimeout+time.Second)

	results := e.WaitResults(60*time.Second, ids)
	var worst time.Duration
	for _, id := range inFlight {
		if res := results[id]; res.Worker != "w2" {
			t.Errorf("task %s, in flight on the killed w1, finished on %q", id, res.Worker)
		}
		if l, err := w2.FindLog(0, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id), pt.After(killed))); err == nil {
			worst = max(worst, l.TS.Sub(killed))
		}
	}
	r.Event(killed.Add(worst), "the killed worker's tasks restarted on w2")
	// w2 may be busy with two other tasks (1 s each) when they come back.
	r.Measure("kill -9 → the killed worker's tasks restarted on the other worker (worst)", worst, e.SessionTimeout+3*time.Second)
	var last time.Time
	for _, id := range ids {
		last = maxTime(last, results[id].FinishedAt)
	}
	r.Event(last, "all 8 tasks finished")
	ck := e.Checker()
	ck.Submitted, ck.Results, ck.Tree = ids, results, e.Tree()
	ck.FaultsEnded, ck.Bound = killed, e.SessionTimeout+5*time.Second
	r.Check(ck)
}

// 2/2/1: two clients run 150 echo tasks each at once against two workers:
// every task gets exactly one result and both workers work.
func TestTwoClientsTwoWorkers(t *testing.T) {
	r := newRecorder(t, "2/2/1: two clients and two workers compete",
		"One master, two workers (concurrency 4 each), two `client run` loops of 150 echo tasks each (8 in flight each), at once. "+
			"Expected: every task runs and has exactly one result; both workers work.")
	zk := standalone(t)
	e := newEnv(t, zk.Addr())
	const n = 150
	r.Setup(standaloneSetup(e, 1, "2 (concurrency 4)", "2 × client run (150 tasks, 8 loops)", "echo"))
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 4)
	w2 := e.ReadyWorker(m, "w2", 4)
	start := time.Now()
	runs := startRuns(e, 2, n, 8, "echo", "hello")
	r.Event(start, "started two client runs")
	ck := e.Checker()
	finishRuns(r, e, ck, runs, 90*time.Second)
	r.Event(time.Now(), "both runs done")
	for _, w := range []*pt.Proc{w1, w2} {
		k := len(pt.Filter(w.Logs(), pt.Msg(pt.MsgFinished)))
		if k == 0 {
			t.Errorf("%s did no work", w.Name)
		}
		r.Value(w.Name+" completed", float64(k), "tasks")
	}
	ck.Tree, ck.Collected = e.Tree(), true
	ck.FaultsEnded, ck.Bound = start, 5*time.Second
	r.Check(ck)
}
