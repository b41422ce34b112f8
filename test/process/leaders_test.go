package process

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// 3/2/2 with master.leaders 3: one of three leading masters is killed with
// SIGKILL while two clients run (scenario.SeveralLeaders).
func TestSeveralLeadersOneKilled(t *testing.T) {
	scenario.SeveralLeaders(newEnv(t), nil, tickTime, 120)
}
