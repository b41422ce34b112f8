package process

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// Four `election --json` processes stand on one path; the leader is
// stopped five times, alternately with SIGTERM and SIGKILL, and replaced
// by a newcomer each time (scenario.Election).
func TestElection(t *testing.T) { scenario.Election(newEnv(t), nil, 5) }
