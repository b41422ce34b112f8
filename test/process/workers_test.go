package process

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// 1/1/1: one master, one worker (concurrency 2) running 1.5 s sleep tasks
// is killed with SIGKILL; a new worker takes its tasks. Started after the
// kill, the new worker's start-up adds to the reassignment time.
func TestWorkerKilledMidTask(t *testing.T) { workerKilledMidTask(t, false) }

// The same with the new worker already registered when the first one is
// killed: the tasks are reassigned within the session timeout + 1 s.
func TestWorkerKilledMidTaskStandby(t *testing.T) { workerKilledMidTask(t, true) }

func workerKilledMidTask(t *testing.T, standby bool) {
	e := newEnv(t)
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 2)
	ids := e.SubmitN(4, "sleep", "1.5")
	inFlight := pt.TaskIDs(w1.WaitLogN(pt.StartTimeout, 2, pt.Msg(pt.MsgStarted)))

	var w2 *pt.Proc
	if standby {
		// Concurrency 4: room for the two pending tasks and the two
		// reassigned ones, so nothing queues behind a running task.
		w2 = e.ReadyWorker(m, "w2", 4)
	}
	killed := w1.Kill()
	w1.Wait(5 * time.Second)
	if !standby {
		w2 = e.Worker("w2", 4)
	}

	bound := e.SessionTimeout + time.Second
	what := "reassignment (kill -9 to the task started on the standby worker)"
	if !standby {
		bound += time.Second // the new worker's start-up and registration
		what = "reassignment (kill -9 to the task started on a worker started after the kill)"
	}
	var worst time.Duration
	for _, id := range inFlight {
		l := w2.WaitLog(bound+5*time.Second, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
		worst = max(worst, l.TS.Sub(killed))
		if l.Str("attempt") != "2" {
			t.Errorf("task %s restarted with attempt %s, want 2: %s", id, l.Str("attempt"), l)
		}
	}
	atMost(t, what, worst, bound)
	m.WaitLog(5*time.Second, pt.All(pt.Msg(pt.MsgWorkerLost), pt.Field("worker", "w1")))
	for _, id := range inFlight {
		m.WaitLog(5*time.Second, pt.All(pt.Msg(pt.MsgReturned), pt.Field("task", id)))
	}

	results := e.WaitResults(30*time.Second, ids)
	h := e.History()
	h.Check(t)
	pt.Require(t, "results", h.Results(ids, results))
	for _, id := range inFlight {
		r := results[id]
		if r.Worker != "w2" || r.Attempts != 2 {
			t.Errorf("task %s, in flight on the killed worker, finished on %s at attempt %d; want w2, attempt 2", id, r.Worker, r.Attempts)
		}
		// Reassigned, then run in full (1.5 s).
		if d := r.FinishedAt.Sub(killed); d > bound+2*time.Second {
			t.Errorf("task %s finished %v after the kill, more than %v", id, d, bound+2*time.Second)
		}
	}
	quiescent(t, e, false)
}

// 1/1/1: the client waiting for its task (client submit --wait) is killed
// with SIGKILL. The task still finishes, any client can read its result by
// id, and the master's retention removes it when nobody collects it.
func TestClientKilled(t *testing.T) {
	e := newEnv(t)
	const retention = 2 * time.Second
	m := e.Leader("m1", "--retention", retention.String())
	w := e.ReadyWorker(m, "w1", 2)

	c := e.Client("submit", "--kind", "sleep", "--data", "1", "--wait")
	l := c.WaitLog(pt.StartTimeout, pt.Contains("waiting for its result"))
	f := strings.Fields(l.Raw) // "submitted <id>; waiting for its result"
	if len(f) < 2 || f[0] != "submitted" {
		t.Fatalf("unexpected line from client submit --wait: %s", l)
	}
	id := strings.TrimSuffix(f[1], ";")
	w.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
	c.Kill()
	c.Wait(5 * time.Second)
	if w.Exited() {
		t.Fatal("worker exited")
	}
	fin := w.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgFinished), pt.Field("task", id)))

	// Another client reads it by id, without collecting it.
	r := e.WaitResults(10*time.Second, []string{id})[id]
	if r.Status != "succeeded" || r.Worker != "w1" {
		t.Fatalf("result of %s: %+v", id, r)
	}
	o := e.RunClient(10*time.Second, "result", id, "--json")
	if o.Code != 0 || !strings.Contains(o.Stdout, `"status":"succeeded"`) {
		t.Fatalf("client result %s --json: exit %d, stdout %q, stderr %q", id, o.Code, o.Stdout, o.Stderr)
	}

	// Nobody collects it: the leader removes the result and its payload
	// once older than the retention (it looks every max(retention/4, 1s)).
	conn := e.ZKConn()
	resultPath := pt.TaskPath(e.Root, "results", id)
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
			t.Fatalf("result %s still there %v after the task finished (retention %v)", id, time.Since(fin.TS), retention)
		}
	}
	gone := time.Now()
	atMost(t, "result expiry after the task finished", gone.Sub(fin.TS), retention+time.Second+time.Second)
	if gone.Sub(fin.TS) < retention-50*time.Millisecond { // ctime precedes the log line by a round trip
		t.Errorf("result removed %v after the task finished, before the retention %v", gone.Sub(fin.TS), retention)
	}
	if ok, _, err := conn.Exists(pt.TaskPath(e.Root, "data", id)); err != nil || ok {
		t.Errorf("payload of %s: exists %v, err %v; want removed with the result", id, ok, err)
	}
	m.WaitLog(5*time.Second, pt.Msg("expired uncollected results"))
	o = e.RunClient(10*time.Second, "result", id)
	if o.Code != 1 || !strings.Contains(o.Stderr, "no task "+id) {
		t.Errorf("client result %s after expiry: exit %d, stdout %q, stderr %q; want exit 1 saying the task is unknown", id, o.Code, o.Stdout, o.Stderr)
	}
	e.History().Check(t)
}

// 1/2/1: two workers; one is killed with SIGKILL with tasks in flight.
// Its tasks finish on the other worker and none is lost.
func TestWorkerKilledOtherFinishes(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 2)
	w2 := e.ReadyWorker(m, "w2", 2)
	ids := e.SubmitN(8, "sleep", "1")
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
	if len(inFlight) == 0 {
		t.Fatal("the killed worker had no task in flight")
	}
	results := e.WaitResults(60*time.Second, ids)
	h := e.History()
	h.Check(t)
	pt.Require(t, "results", h.Results(ids, results))
	var worst time.Duration
	for _, id := range inFlight {
		if r := results[id]; r.Worker != "w2" {
			t.Errorf("task %s, in flight on the killed w1, finished on %q", id, r.Worker)
		}
		if l, err := w2.FindLog(0, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id), pt.After(killed))); err == nil {
			worst = max(worst, l.TS.Sub(killed))
		}
	}
	t.Logf("%d tasks in flight on the killed worker; restarted on w2 at most %v after the kill", len(inFlight), worst.Round(time.Millisecond))
	quiescent(t, e, false)
}

// 2/2/1: two clients run 200 echo tasks each at once against two workers:
// every task gets exactly one result and both workers work.
func TestTwoClientsTwoWorkers(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 4)
	w2 := e.ReadyWorker(m, "w2", 4)
	const n = 200
	c1 := e.StartRun(n, 8, "echo", "hello")
	c2 := e.StartRun(n, 8, "echo", "world")
	for _, c := range []*pt.Proc{c1, c2} {
		s, code := e.RunDone(c, 90*time.Second)
		if code != 0 || s.Tasks != n || s.Succeeded != n || s.Lost != 0 {
			t.Errorf("%s: exit %d, summary %+v", c.Name, code, s)
		}
		t.Logf("%s: %d tasks in %.2fs (%.0f/s), p50 %.1fms, p99 %.1fms", c.Name, s.Tasks, s.Seconds, s.TasksPerSec, s.LatencyP50, s.LatencyP99)
	}
	h := e.History()
	h.Check(t)
	if got := len(h.Finished()); got != 2*n {
		t.Errorf("workers logged %d completed tasks, want %d", got, 2*n)
	}
	for _, w := range []*pt.Proc{w1, w2} {
		k := len(pt.Filter(w.Logs(), pt.Msg(pt.MsgFinished)))
		if k == 0 {
			t.Errorf("%s did no work", w.Name)
		}
		t.Logf("%s completed %d tasks", w.Name, k)
	}
	quiescent(t, e, true)
}

// A worker frozen (SIGSTOP) past its session timeout loses its tasks to
// another worker; continued, it finishes its own runs late and must drop
// those completions: exactly one result per task, from the new assignee.
func TestWorkerPaused(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 2)
	ids := e.SubmitN(2, "sleep", "1")
	w1.WaitLogN(pt.StartTimeout, 2, pt.Msg(pt.MsgStarted))
	w2 := e.ReadyWorker(m, "w2", 2)
	stopped := w1.Stop()
	for _, id := range ids {
		w2.WaitLog(e.SessionTimeout+10*time.Second, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
	}
	// w1's 1 s runs are over (they started before a pause of more than the
	// session timeout): once continued it tries to complete them, and must
	// fail, whether w2 has finished them by then or not.
	continued := w1.Cont()
	t.Logf("w1 paused %v", continued.Sub(stopped).Round(time.Millisecond))
	// Its completion multi fails on the server ("completion dropped"), or,
	// when it is written to the socket the server closed at expiry before
	// the library notices, in the library ("completion failed": go-zookeeper
	// hands back the raw write error). Either way nothing is applied.
	for _, id := range ids {
		l := w1.WaitLog(15*time.Second, pt.All(pt.AnyOf(pt.Msg(pt.MsgDropped), pt.Msg(pt.MsgCompletionFailed)), pt.Field("task", id)))
		t.Logf("w1 on %s: %s: %s", id, l.Msg, l.Str("error"))
	}
	w1.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgRegistered), pt.After(stopped)))
	results := e.WaitResults(30*time.Second, ids)
	h := e.History()
	h.Check(t)
	pt.Require(t, "results", h.Results(ids, results))
	for _, id := range ids {
		if r := results[id]; r.Worker != "w2" || r.Attempts != 2 {
			t.Errorf("task %s: result from %s attempt %d, want w2 attempt 2", id, r.Worker, r.Attempts)
		}
	}
	quiescent(t, e, false)
}

// An exec task's command must not outlive its worker's kill -9: it runs
// under the worker's guard, which kills its process group when the worker
// dies. (Without it, the command would run on while another worker runs the
// task again.)
func TestExecTaskDiesWithItsWorker(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	w := e.ReadyWorker(m, "w1", 1, "--allow-exec")
	// A unique argument to find the process by.
	arg := fmt.Sprintf("1000.%d", time.Now().UnixNano()%1000000)
	e.Submit("exec", fmt.Sprintf(`["sh","-c","sleep %s; echo done"]`, arg))
	w.WaitLog(pt.StartTimeout, pt.Msg(pt.MsgStarted))
	running := func() bool {
		out, _ := exec.Command("pgrep", "-f", "sleep "+arg).Output()
		return strings.TrimSpace(string(out)) != ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for !running() {
		if time.Now().After(deadline) {
			t.Fatal("the task's command never showed up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed := w.Kill()
	w.Wait(5 * time.Second)
	for running() {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("the command (sleep %s) outlived its worker's kill -9 by 5 s", arg)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the command was gone %v after the worker's kill -9", time.Since(killed).Round(time.Millisecond))
}
