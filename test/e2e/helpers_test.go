package e2e

import (
	"fmt"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
)

// newEnv is a deployment for t against the ZooKeeper at connect, under a
// root of its own.
func newEnv(t *testing.T, connect string) *pt.Env {
	t.Helper()
	return pt.NewEnv(t, bins, connect)
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
