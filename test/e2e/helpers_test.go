package e2e

import (
	"testing"

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
