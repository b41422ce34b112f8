package process

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// 1/1/1: the only worker is killed with SIGKILL mid-task; a new worker,
// started after the kill, takes its tasks (scenario.WorkerKilledMidTask).
func TestWorkerKilledMidTask(t *testing.T) { scenario.WorkerKilledMidTask(newEnv(t), nil, false) }

// The same with the new worker already registered when the first one is
// killed: the tasks are reassigned within the session timeout + 1 s.
func TestWorkerKilledMidTaskStandby(t *testing.T) { scenario.WorkerKilledMidTask(newEnv(t), nil, true) }

// 1/1/1: clients waiting for their tasks (client submit --wait) are killed
// with SIGKILL (scenario.ClientKilled).
func TestClientKilled(t *testing.T) { scenario.ClientKilled(newEnv(t), nil) }

// 1/2/1: two workers; one is killed with SIGKILL with tasks in flight
// (scenario.WorkerKilledOtherFinishes).
func TestWorkerKilledOtherFinishes(t *testing.T) { scenario.WorkerKilledOtherFinishes(newEnv(t), nil) }

// 2/2/1: two clients run 200 echo tasks each at once against two workers
// (scenario.TwoClientsTwoWorkers).
func TestTwoClientsTwoWorkers(t *testing.T) { scenario.TwoClientsTwoWorkers(newEnv(t), nil, 200) }

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
