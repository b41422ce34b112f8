package process

import (
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// startTimeout bounds how long a process may take to start and reach
// ZooKeeper (a binary start, a session, a few znodes) on a busy machine.
const startTimeout = 20 * time.Second

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
// master m has read its registration (so tasks go to it from now on).
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

// atMost fails t unless d <= bound.
func atMost(t *testing.T, what string, d, bound time.Duration) {
	t.Helper()
	if d > bound {
		t.Errorf("%s took %v, more than its bound %v", what, d.Round(time.Millisecond), bound)
	} else {
		t.Logf("%s: %v (bound %v)", what, d.Round(time.Millisecond), bound)
	}
}

// quiescent checks that nothing is left in flight under the Env's root:
// no task pending or assigned. With collect, no result or payload either
// (every client collected what it submitted).
func quiescent(t *testing.T, e *pt.Env, collect bool) *pt.Tree {
	t.Helper()
	tr := e.Tree()
	if len(tr.Tasks) != 0 {
		t.Errorf("%d tasks left under %s/tasks: %v", len(tr.Tasks), e.Root, tr.Tasks)
	}
	if n := tr.Assigned(); n != 0 {
		t.Errorf("%d assignments left under %s/assign: %v", n, e.Root, tr.Assign)
	}
	if collect {
		if len(tr.Results) != 0 {
			t.Errorf("%d results left uncollected: %v", len(tr.Results), tr.RawResults)
		}
		if len(tr.Data) != 0 {
			t.Errorf("%d payloads left: %v", len(tr.Data), tr.Data)
		}
	}
	return tr
}
