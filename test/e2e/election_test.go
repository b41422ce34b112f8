package e2e

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// Election alone (the seed's section 2): four `election --json` processes
// stand on one path; the leader is stopped six times, alternately with
// SIGTERM and SIGKILL, and a newcomer joins each time (scenario.Election).
func TestElection(t *testing.T) {
	r := newRecorder(t, "Election: leaders stopped repeatedly (SIGTERM and kill -9)",
		"Four `election` processes on one path; the leader is stopped six times, alternately with SIGTERM (it resigns) and SIGKILL "+
			"(its session must expire), and a newcomer joins after each round. Expected: at most one leader at any instant, the next "+
			"candidate in line elected each time, and a live process elected at the end.")
	zk := standalone(t)
	e := newEnv(t, zk.Addr())
	s := standaloneSetup(e, 0, "-", "-", "-")
	s.Masters = 0
	s.Clients = "4 election processes (one new per round)"
	r.Setup(s)
	scenario.Election(e, r, 6)
}
