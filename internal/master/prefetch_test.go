package master_test

import (
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// A backlog drained a few slots at a time: each round reads the records
// of the next one's tasks while its multi is in flight (upcoming), and
// those reads must replace the next round's, not add to them.
func TestBacklogIsReadOncePerTaskWhileReadingAhead(t *testing.T) {
	e := newEnv(t)
	r, _ := e.countingMaster("m1")
	e.waitLog(10*time.Second, "m1", "took over")
	const n = 120
	ids := make([]task.ID, n)
	for i := range ids {
		ids[i] = e.submit("echo", "x", 0)
	}
	e.worker("w", shared.Addr(), 3) // rounds of at most 3 tasks: many rounds, each reading ahead
	for _, id := range ids {
		if res := e.wait(id, 30*time.Second); res.Status != task.Succeeded {
			t.Fatalf("%s: %+v", id, res)
		}
	}
	zktest.Eventually(t, 5*time.Second, "every task read", func() bool { return r.total() >= n })
	for _, id := range ids {
		if k := r.of(id); k != 1 {
			t.Errorf("task %s read %d times, want once", id, k)
		}
	}
}
