package master_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// A leader that takes over a backlog keeps its ids in the pending set
// (10 bytes each, with the set's overhead about 40), not the listings it
// learned them from: an earlier version held every shard's listing, each id
// as a string, until the shard next changed, which for a backlog is never
// (about 80 bytes a task more: 1,000,000 pending took 150 MB).
func TestTakeOverKeepsOnlyThePendingSet(t *testing.T) {
	e := newEnv(t)
	const n = 40000
	now := time.Now().UTC()
	subs := make([]coord.Submission, n)
	for i := range subs {
		subs[i] = coord.Submission{ID: task.NewID(now), Spec: task.Spec{Kind: "echo", SubmittedAt: now}, Payload: []byte("x")}
	}
	errs, err := e.q.SubmitMany(context.Background(), subs)
	if err = errors.Join(append(errs, err)...); err != nil {
		t.Fatal(err)
	}
	subs = nil
	// The connection's buffers (a few MB) are not the leader's state.
	mc := e.dial("m1", shared.Addr())
	before := heapAlloc()
	e.startOn("m1", mc, e.runMaster("m1", 0))
	e.waitLog(30*time.Second, "m1", "learned of tasks")
	perTask := (float64(heapAlloc()) - float64(before)) / n
	t.Logf("the leader holds %.0f bytes per pending task", perTask)
	if perTask > 70 {
		t.Errorf("the leader holds %.0f bytes per pending task: more than the pending set's ~40", perTask)
	}
}

// heapAlloc is the Go heap that reachable objects hold.
func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
