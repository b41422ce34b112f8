package coord_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// backlogTasks is the backlog BENCHMARKS.md measures listings against.
const backlogTasks = 100000

// pendingBacklog submits backlogTasks echo tasks in batched multis (the
// benchmark is of the listing, not of submitting), on a client that b's
// end closes: TestMain fails a run that leaves a connection behind.
func pendingBacklog(b *testing.B) (*zkclient.Client, coord.Layout) {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: []string{shared.Addr()}, SessionTimeout: 10 * time.Second,
		ConnectTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	l := coord.MustLayout("/bench-backlog")
	zktest.DeleteTree(b, c.Conn(), l.Root())
	if err := coord.EnsureLayout(ctx, c, l); err != nil {
		b.Fatal(err)
	}
	q := coord.NewQueue(c, l, 0)
	start := time.Now().Add(-time.Hour)
	const chunk = 250
	err = zkclient.Pipeline(backlogTasks/chunk, func(k int) error {
		items := make([][]zkclient.Op, chunk)
		for i := range items {
			at := start.Add(time.Duration(k*chunk+i) * time.Millisecond)
			ops, err := q.SubmitOps(task.NewID(at), task.Spec{Kind: "echo", SubmittedAt: at}, []byte("x"))
			if err != nil {
				return err
			}
			items[i] = ops
		}
		failed, err := c.Batch(ctx, items)
		if err == nil && len(failed) > 0 {
			err = fmt.Errorf("%d submits refused", len(failed))
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return c, l
}

// BenchmarkListPending lists the oldest pending tasks of a 100,000-task
// backlog: the 256 shards in parallel, then the records shown.
func BenchmarkListPending(b *testing.B) {
	c, l := pendingBacklog(b)
	for _, tc := range []struct {
		name string
		opts coord.ListOptions
		want int
	}{
		{"limit=20", coord.ListOptions{State: coord.StatePending, Limit: 20}, 20},
		{"limit=1000", coord.ListOptions{State: coord.StatePending, Limit: 1000}, 1000},
		{"limit=100000", coord.ListOptions{State: coord.StatePending, Limit: backlogTasks}, backlogTasks},
		{"limit=100000,conns=4", coord.ListOptions{State: coord.StatePending, Limit: backlogTasks, Conns: 4}, backlogTasks},
		// A kind no task has: stops at the scan bound (10,000 reads).
		{"kind=none", coord.ListOptions{State: coord.StatePending, Kind: "none", Limit: 20}, 0},
		{"kind=none,conns=4", coord.ListOptions{State: coord.StatePending, Kind: "none", Limit: 20, Conns: 4}, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				ls, err := coord.List(context.Background(), c, l, tc.opts)
				if err != nil {
					b.Fatal(err)
				}
				if len(ls.Tasks) != tc.want || ls.Total != backlogTasks {
					b.Fatalf("listed %d of %d, want %d of %d", len(ls.Tasks), ls.Total, tc.want, backlogTasks)
				}
			}
		})
	}
}
