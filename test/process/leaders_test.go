package process

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// The fault-heaviest scenarios with several leaders, in every run of this
// suite whatever proctest.LeadersEnv says (`make test-leaders` runs them
// all that way, too long for `make test`).

// 3/2/2: three masters lead a third of the partitions each; one that does
// not lead partition 0 is killed (scenario.SeveralLeaders).
func TestSeveralLeadersOneKilled(t *testing.T) {
	scenario.SeveralLeaders(newEnv(t), nil, tickTime, 120)
}

// startSeveral starts the 2/2/2 deployment (startCluster2) with
// master.leaders at 3: m1 leads the even partitions, m2 the odd ones.
func startSeveral(t *testing.T) *scenario.Cluster {
	t.Helper()
	e := newEnv(t)
	e.Leaders = 3
	return scenario.StartCluster(e, nil, tickTime, 120)
}

// 2/2/2 with two leaders: the one leading partition 0 is killed with
// SIGKILL under load; the other takes its share over.
func TestSeveralLeadersLeaderKilled(t *testing.T) { scenario.LeaderKilled(startSeveral(t)) }

// 2/2/2 with two leaders: the one leading partition 0 is frozen past its
// session timeout; woken, none of its writes lands and it stands again.
func TestSeveralLeadersLeaderPaused(t *testing.T) { scenario.MasterLag(startSeveral(t)) }

// 2/2/2 with two leaders: a worker is killed under load; each leader takes
// back the tasks of its own partitions.
func TestSeveralLeadersWorkerKilled(t *testing.T) { scenario.WorkerKilledUnderLoad(startSeveral(t)) }
