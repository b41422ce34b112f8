package e2e

import (
	"fmt"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
)

// startTimeout bounds how long a process may take to start and reach
// ZooKeeper (a binary start, a session, a few znodes) on a busy machine.
const startTimeout = 20 * time.Second

// newEnv is a deployment for t against the ZooKeeper at connect, under a
// root of its own.
func newEnv(t *testing.T, connect string) *pt.Env {
	t.Helper()
	return pt.NewEnv(t, bins, connect)
}

// leader starts a master and waits until it leads.
func leader(e *pt.Env, id string, extra ...string) *pt.Proc {
	e.TB.Helper()
	m := e.Master(id, extra...)
	m.WaitLog(startTimeout, pt.Msg(pt.MsgElected))
	return m
}

// backup starts a master and waits until it stands by as a backup.
func backup(e *pt.Env, id string, extra ...string) *pt.Proc {
	e.TB.Helper()
	m := e.Master(id, extra...)
	m.WaitLog(startTimeout, pt.Msg(pt.MsgBackup))
	return m
}

// worker starts a worker and waits until it is registered and the leading
// master m has read its registration.
func worker(e *pt.Env, m *pt.Proc, id string, concurrency int, extra ...string) *pt.Proc {
	e.TB.Helper()
	w := e.Worker(id, concurrency, extra...)
	w.WaitLog(startTimeout, pt.Msg(pt.MsgRegistered))
	if m != nil {
		m.WaitLog(startTimeout, pt.All(pt.Msg(pt.MsgWorkerReady), pt.Field("worker", id), pt.After(w.Started)))
	}
	return w
}

// submitN submits n tasks with `client submit --json` and returns their ids.
func submitN(e *pt.Env, n int, kind, data string, extra ...string) []string {
	e.TB.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.Submit(kind, data, extra...)
	}
	return ids
}

// taskIDs are the "task" fields of lines.
func taskIDs(ls []pt.Line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Str("task")
	}
	return out
}

func standaloneSetup(e *pt.Env, masters int, workers, clients, tasks string) evidence.Setup {
	return evidence.Setup{
		ZooKeeper: "standalone, 1 container", SessionTimeout: e.SessionTimeout.String(),
		Masters: masters, Workers: workers, Clients: clients, Tasks: tasks,
	}
}

// clientRun is a `client run` started by a scenario.
type clientRun struct {
	p    *pt.Proc
	want int
}

func startRuns(e *pt.Env, n, tasks, loops int, kind, data string, extra ...string) []clientRun {
	e.TB.Helper()
	var out []clientRun
	for range n {
		out = append(out, clientRun{p: e.StartRun(tasks, loops, kind, data, extra...), want: tasks})
	}
	return out
}

// finishRuns waits for the runs, records them and adds them to ck.
func finishRuns(r *recorder, e *pt.Env, ck *pt.Checker, runs []clientRun, timeout time.Duration) (maxLatency time.Duration) {
	e.TB.Helper()
	for _, c := range runs {
		s, code := e.RunDone(c.p, timeout)
		r.Run(c.p.Name, s, code)
		ck.AddRun(c.p.Name, c.want, s, code)
		maxLatency = max(maxLatency, time.Duration(s.LatencyMax*float64(time.Millisecond)))
	}
	return maxLatency
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
