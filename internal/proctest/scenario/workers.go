package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// WorkerKilledMidTask (1/1/1): the only worker (concurrency 2) is killed
// with SIGKILL with two 1.5 s tasks running and two waiting. The master
// notices the loss when the worker's session expires, returns its tasks to
// pending, and a second worker (concurrency 4) runs them at attempt 2.
//
// With standby the second worker is registered before the kill, and the
// tasks come back within the session timeout + 1 s; without, it is started
// after the kill and its start-up adds a second.
func WorkerKilledMidTask(e *pt.Env, rec Recorder, standby bool) {
	t := e.TB
	r := newReport(t, rec)
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 2)
	ids := e.SubmitN(4, "sleep", "1.5")
	started := w1.WaitLogN(pt.StartTimeout, 2, pt.Msg(pt.MsgStarted))
	inFlight := pt.TaskIDs(started)
	r.Line("w1 started 2 of the 4 tasks", started[1])

	var w2 *pt.Proc
	if standby {
		// Concurrency 4: room for the two pending tasks and the two
		// reassigned ones, so nothing queues behind a running task.
		w2 = e.ReadyWorker(m, "w2", 4)
		r.Event(time.Now(), "a second worker w2 stands by")
	}
	killed := w1.Kill()
	r.Event(killed, "kill -9 the worker w1 (2 tasks in flight, 2 pending)")
	w1.Wait(5 * time.Second)
	if !standby {
		w2 = e.Worker("w2", 4)
		r.Event(w2.Started, "started a new worker w2")
	}

	lost := m.WaitLog(e.SessionTimeout+10*time.Second, pt.All(pt.Msg(pt.MsgWorkerLost), pt.Field("worker", "w1")))
	r.Line("the master noticed w1's session expired and took its tasks back", lost)
	r.Measure("kill -9 → master notices the worker lost (session expiry)", lost.TS.Sub(killed), e.SessionTimeout+time.Second)
	for _, id := range inFlight {
		m.WaitLog(5*time.Second, pt.All(pt.Msg(pt.MsgReturned), pt.Field("task", id)))
	}
	bound := e.SessionTimeout + time.Second
	restarted := "kill -9 → the in-flight tasks restarted on the standby worker (worst)"
	if !standby {
		bound += time.Second // the new worker's start-up and registration
		restarted = "kill -9 → the in-flight tasks restarted on the new worker (worst)"
	}
	var worst time.Duration
	for _, id := range inFlight {
		l := w2.WaitLog(bound+5*time.Second, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
		worst = max(worst, l.TS.Sub(killed))
		if l.Str("attempt") != "2" {
			t.Errorf("task %s restarted with attempt %s, want 2: %s", id, l.Str("attempt"), l)
		}
	}
	r.Event(killed.Add(worst), "both in-flight tasks restarted on w2 (attempt 2)")
	r.Measure(restarted, worst, bound)

	results := e.WaitResults(30*time.Second, ids)
	var last time.Time
	for _, id := range ids {
		last = maxTime(last, results[id].FinishedAt)
	}
	r.Event(last, "all 4 tasks finished")
	r.Measure("kill -9 → all 4 tasks finished", last.Sub(killed), 0)
	for _, id := range inFlight {
		res := results[id]
		if res.Worker != "w2" || res.Attempts != 2 {
			t.Errorf("task %s, in flight on the killed worker, finished on %s at attempt %d; want w2, attempt 2", id, res.Worker, res.Attempts)
		}
		// Reassigned, then run in full (1.5 s).
		r.AtMost(fmt.Sprintf("kill -9 → task %s finished on w2", id), res.FinishedAt.Sub(killed), bound+2*time.Second)
	}
	ck := e.Checker()
	ck.Submitted, ck.Results, ck.Tree = ids, results, e.Tree()
	ck.FaultsEnded, ck.Bound = killed, e.SessionTimeout+4*time.Second
	r.Check(ck)
}

// ClientKilled (1/1/1): two clients waiting for their 1 s tasks (client
// submit --wait) are killed with SIGKILL. The tasks still finish; another
// client reads and collects the first by id (its result and payload go at
// once); the second, left uncollected, is removed with its payload by the
// leader after its retention (2 s), after which `client result` says the
// task is unknown.
func ClientKilled(e *pt.Env, rec Recorder) {
	t := e.TB
	r := newReport(t, rec)
	const retention = 2 * time.Second
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
	if w.Exited() {
		t.Fatal("worker exited")
	}
	var fin pt.Line
	for i, id := range ids {
		fin = w.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgFinished), pt.Field("task", id)))
		r.Line("task "+id+" finished anyway", fin)
		r.Measure(fmt.Sprintf("clients killed → task %d of 2 finished", i+1), fin.TS.Sub(killed), 2*time.Second)
	}
	res := e.WaitResults(10*time.Second, ids)
	for _, id := range ids {
		if res[id].Status != "succeeded" || res[id].Worker != "w1" {
			t.Fatalf("result of %s: %+v", id, res[id])
		}
	}

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
	if d < retention-50*time.Millisecond { // ctime precedes the log line by a round trip
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

// WorkerKilledOtherFinishes (1/2/1): two workers (concurrency 2) and
// eight 1 s tasks; the first worker is killed with SIGKILL once it runs
// two. Its tasks return to pending when its session expires and finish on
// the other worker; none is lost.
func WorkerKilledOtherFinishes(e *pt.Env, rec Recorder) {
	t := e.TB
	r := newReport(t, rec)
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

// TwoClientsTwoWorkers (2/2/1): two `client run` loops of tasks echo tasks
// each (8 in flight each) at once against two workers of concurrency 4:
// every task gets exactly one result and both workers work.
func TwoClientsTwoWorkers(e *pt.Env, rec Recorder, tasks int) {
	t := e.TB
	r := newReport(t, rec)
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 4)
	w2 := e.ReadyWorker(m, "w2", 4)
	start := time.Now()
	runs := startRuns(e, 2, tasks, 8, "echo", "hello")
	r.Event(start, "started two client runs")
	ck := e.Checker()
	r.finishRuns(e, ck, runs, 90*time.Second)
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
