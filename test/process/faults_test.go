package process

import (
	"fmt"
	"strings"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// Workers' connections to ZooKeeper are reset while they are about to
// complete tasks, but their sessions survive (they reconnect well within
// the session timeout). Every task must still get its result: each worker
// keeps its registration, so no master takes its tasks back, and only the
// worker can finish them.
//
// Recipe: eight workers (concurrency 1, session timeout 4 s) reach
// ZooKeeper through a proxy, each running one 0.2 s task. They are frozen
// (SIGSTOP), the proxy cuts their connections, and they are continued
// 1.5 s later: past their ping interval (a third of the session timeout)
// and their tasks' end. On waking a worker writes a ping, which draws a
// reset, and its completion; when the completion reaches the dead socket
// before the library has noticed, go-zookeeper hands it the raw write
// error ("broken pipe"). That happens to about one worker in seven per
// round; rounds repeat (at most 4) until it does.
func TestWorkerConnectionResetDuringCompletion(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	p := zktest.NewProxy(t, zkConnect)
	const session = 4 * time.Second
	var workers []*pt.Proc
	for i := 1; i <= 8; i++ {
		workers = append(workers, e.ReadyWorker(m, fmt.Sprintf("w%d", i), 1, "--zk", p.Addr(), "--session-timeout", session.String()))
	}
	var all []string
	var hits []pt.Line
	for round := 1; round <= 4 && len(hits) == 0; round++ {
		ids := e.SubmitN(len(workers), "sleep", "0.2")
		all = append(all, ids...)
		for _, id := range ids {
			if _, _, err := pt.FindAny(pt.StartTimeout, "stderr", pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)), workers...); err != nil {
				t.Fatalf("task %s did not start: %v", id, err)
			}
		}
		for _, w := range workers {
			w.Stop()
		}
		p.Cut()
		p.Restore()
		time.Sleep(1500 * time.Millisecond) // the freeze (a fault, not a synchronisation)
		for _, w := range workers {
			w.Cont()
		}
		for _, id := range ids {
			l, _, err := pt.FindAny(session, "stderr", pt.All(pt.AnyOf(pt.Msg(pt.MsgFinished), pt.Msg(pt.MsgCompletionFailed), pt.Msg(pt.MsgDropped)), pt.Field("task", id)), workers...)
			if err != nil {
				t.Fatalf("task %s: no outcome logged: %v", id, err)
			}
			if l.Msg == pt.MsgCompletionFailed {
				hits = append(hits, l)
				t.Logf("round %d: %s", round, l)
			}
		}
	}
	if len(hits) == 0 {
		t.Log("no completion hit a dead socket in 4 rounds; checking the results anyway")
	}
	for _, w := range workers {
		if l, err := w.FindLog(0, pt.Msg(pt.MsgSessionExpired)); err == nil {
			t.Fatalf("a worker's session expired, which this scenario must avoid: %s", l)
		}
	}

	// Every task gets a result within a few seconds of the last round.
	procs := make([]*pt.Proc, len(all))
	for i, id := range all {
		procs[i] = e.Client("result", id, "--wait", "--json")
	}
	deadline := time.Now().Add(10 * time.Second)
	var missing []string
	for i, c := range procs {
		if code, ok := c.WaitExit(time.Until(deadline)); !ok || code != 0 {
			missing = append(missing, all[i])
		}
	}
	if len(missing) > 0 {
		tr := e.Tree()
		var ev []string
		for _, id := range missing {
			var lines []string
			for _, w := range workers {
				for _, l := range w.Logs() {
					if l.Str("task") == id {
						lines = append(lines, w.ID+": "+l.Msg+" "+l.Str("error"))
					}
				}
			}
			where := "nowhere"
			for w, ids := range tr.Assign {
				if contains(ids, id) {
					where = "assign/" + w + fmt.Sprintf(" (worker registered: %v)", contains(tr.Workers, w))
				}
			}
			ev = append(ev, fmt.Sprintf("task %s: assigned in %s; task znode %s; has a result: %v; worker log: %q",
				id, where, tr.Tasks[id], tr.RawResults[id] != "", lines))
		}
		t.Fatalf("PRODUCT BUG: %d task(s) have no result 10 s after the last fault although every worker kept its session: "+
			"the worker gave up on the completion after a raw socket error from go-zookeeper "+
			"(\"completion failed; the master will reassign the task\"), but no master reassigns the task of a live worker "+
			"and the worker does not run it again:\n  %s", len(missing), strings.Join(ev, "\n  "))
	}
	h := e.History()
	h.Check(t)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
