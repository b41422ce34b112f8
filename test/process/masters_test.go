package process

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// startCluster2 starts the deployment of the 2/2/2 scenarios: two masters,
// two workers, two client runs of 120 tasks each, tasks flowing.
func startCluster2(t *testing.T) *scenario.Cluster {
	t.Helper()
	return scenario.StartCluster(newEnv(t), nil, tickTime, 120)
}

// 2/2/2: the leader is killed with SIGKILL while two clients run
// (scenario.LeaderKilled).
func TestLeaderKilled(t *testing.T) { scenario.LeaderKilled(startCluster2(t)) }

// 2/2/2: the leader gets SIGTERM while two clients run
// (scenario.LeaderTerminated).
func TestLeaderTerminated(t *testing.T) { scenario.LeaderTerminated(startCluster2(t)) }

// Master lag: the leader is frozen (SIGSTOP) past its session timeout
// while tasks flow, then continued (scenario.MasterLag).
func TestLeaderPaused(t *testing.T) { scenario.MasterLag(startCluster2(t)) }
