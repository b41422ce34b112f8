package process

import (
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// atMost fails t unless d <= bound, and logs d.
func atMost(t *testing.T, what string, d, bound time.Duration) {
	t.Helper()
	if scenario.Within(t, what, d, bound) {
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
