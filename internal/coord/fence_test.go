package coord_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

func TestFenceStopsADeposedLeader(t *testing.T) {
	ctx := ctxT(t)
	c1 := dial(t, shared.Addr())
	c2 := dial(t, shared.Addr())
	l := layoutFor(t, c1)
	s1, _ := c1.Session(ctx)
	s2, _ := c2.Session(ctx)
	el1, el2 := recipe.NewLeaderQueue(c1, l.Master()), recipe.NewLeaderQueue(c2, l.Master())
	cand1, _ := el1.Join(ctx, s1, nil)
	cand2, _ := el2.Join(ctx, s2, nil)
	if err := cand1.Lead(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f1, err := coord.TakeOver(ctx, c1, l, cand1, "one", coord.AllPartitions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := coord.FencedMulti(ctx, c1, f1, zkclient.CreateOp(l.Worker("x"), nil, zk.FlagPersistent)); err != nil {
		t.Fatalf("the leader's fenced write failed: %v", err)
	}
	// A second leader takes over (here: the first resigns but keeps its
	// fence, like a leader that missed the news).
	if err := cand1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cand2.Lead(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f2, err := coord.TakeOver(ctx, c2, l, cand2, "two", coord.AllPartitions())
	if err != nil {
		t.Fatal(err)
	}
	if f2.Epoch != f1.Epoch+1 {
		t.Fatalf("epochs %d then %d", f1.Epoch, f2.Epoch)
	}
	_, err = coord.FencedMulti(ctx, c1, f1, zkclient.CreateOp(l.Worker("y"), nil, zk.FlagPersistent))
	if !errors.Is(err, coord.ErrDeposed) {
		t.Fatalf("deposed leader's write: %v", err)
	}
	if st, _ := c1.Exists(ctx, l.Worker("y")); st != nil {
		t.Fatal("a deposed leader's write landed")
	}
	// A caller's own failing op is a MultiError counted in its ops.
	_, err = coord.FencedMulti(ctx, c2, f2, zkclient.CheckOp(l.Worker("x"), -1), zkclient.CheckOp(l.Worker("nope"), -1))
	var me *zkclient.MultiError
	if !errors.As(err, &me) || me.Index != 1 || errors.Is(err, coord.ErrDeposed) {
		t.Fatalf("want MultiError at 1, got %v", err)
	}
}

func TestFenceStopsALeaderWhoseSessionExpired(t *testing.T) {
	// The seed's lagging master: its session expires while it is cut off;
	// the library reconnects with a new session; its writes must not land.
	ctx := ctxT(t)
	p := zktest.NewProxy(t, shared.Addr())
	c := dial(t, p.Addr())
	l := layoutFor(t, c)
	f := leadAll(t, c, l, "lagging")
	expire(t, shared, p, c)
	_, err := coord.FencedMulti(ctx, c, f, zkclient.CreateOp(l.Worker("late"), nil, zk.FlagPersistent))
	if !errors.Is(err, coord.ErrDeposed) {
		t.Fatalf("write after expiry: %v", err)
	}
	if st, _ := c.Exists(ctx, l.Worker("late")); st != nil {
		t.Fatal("a write after session expiry landed")
	}
}

func TestFencedBatchIsolatesAFailingItem(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	f, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "m", coord.AllPartitions())
	if err != nil {
		t.Fatal(err)
	}
	items := [][]zkclient.Op{
		{zkclient.CreateOp(l.Worker("a"), nil, zk.FlagPersistent)},
		{zkclient.CreateOp(l.Worker("b"), nil, zk.FlagPersistent), zkclient.CheckOp(l.Worker("missing"), -1)},
		{zkclient.CreateOp(l.Worker("c"), nil, zk.FlagPersistent)},
	}
	failed, err := coord.FencedBatch(ctx, c, f, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[1] == nil || failed[1].Index != 1 || !errors.Is(failed[1], zk.ErrNoNode) {
		t.Fatalf("failed = %v", failed)
	}
	for name, want := range map[string]bool{"a": true, "b": false, "c": true} {
		st, _ := c.Exists(ctx, l.Worker(name))
		if (st != nil) != want {
			t.Errorf("%s exists=%v, want %v", name, st != nil, want)
		}
	}
}

// A batch larger than one multi may carry (jute.maxbuffer, about 1 MiB)
// goes in several: sent whole, the server would drop the connection, and
// the leader would send the same batch again for ever.
func TestFencedBatchSplitsWhatOneMultiCannotCarry(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	f := leadAll(t, c, l, "m")
	big := bytes.Repeat([]byte("e"), 300<<10)
	var items [][]zkclient.Op
	for i := range 5 { // 1.5 MB in all
		items = append(items, []zkclient.Op{zkclient.CreateOp(l.Worker(fmt.Sprintf("big%d", i)), big, zk.FlagPersistent)})
	}
	items = append(items, []zkclient.Op{zkclient.CheckOp(l.Worker("missing"), -1)})
	before := c.Stats().Requests
	failed, err := coord.FencedBatch(ctx, c, f, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[5] == nil || !errors.Is(failed[5], zk.ErrNoNode) {
		t.Fatalf("failed = %v, want the last item alone, numbered in the whole batch", failed)
	}
	if n := c.Stats().Requests - before; n < 3 {
		t.Errorf("%d multis for 1.5 MB: want at least 3 of at most 768 KiB", n)
	}
	for i := range 5 {
		if st, _ := c.Exists(ctx, l.Worker(fmt.Sprintf("big%d", i))); st == nil {
			t.Errorf("item %d did not land", i)
		}
	}
}

// With several leaders, each is fenced on its own partitions: another's
// take-over of different partitions leaves it leading; the take-over of
// one of its partitions deposes it, and a single leader is deposed by any
// take-over (it leads them all).
func TestPartitionFences(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	write := func(f coord.Fence, name string) error {
		_, err := coord.FencedMulti(ctx, c, f, zkclient.CreateOp(l.Worker(name), nil, zk.FlagPersistent))
		return err
	}
	all, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "all", coord.AllPartitions())
	if err != nil {
		t.Fatal(err)
	}
	even, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "even", []int{0, 2, 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := write(all, "a"); !errors.Is(err, coord.ErrDeposed) {
		t.Fatalf("the single leader wrote after another took some of its partitions: %v", err)
	}
	odd, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "odd", []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := write(even, "b"); err != nil {
		t.Fatalf("a leader was deposed by the take-over of partitions it does not lead: %v", err)
	}
	if !even.Owns(2) || even.Owns(1) || !all.Owns(7) {
		t.Fatal("Owns")
	}
	if _, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "thief", []int{4}); err != nil {
		t.Fatal(err)
	}
	if err := write(even, "c"); !errors.Is(err, coord.ErrDeposed) {
		t.Fatalf("a leader wrote after one of its partitions was taken over: %v", err)
	}
	if err := write(odd, "d"); err != nil {
		t.Fatal(err)
	}
}

// A partition znode removed by hand is made again by the next take-over.
func TestTakeOverRemakesAMissingPartition(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	if err := c.Delete(ctx, l.Partition(3), -1); err != nil {
		t.Fatal(err)
	}
	f, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "m", coord.AllPartitions())
	if err != nil {
		t.Fatalf("take-over with a partition missing: %v", err)
	}
	if _, err := coord.FencedMulti(ctx, c, f, zkclient.CreateOp(l.Worker("x"), nil, zk.FlagPersistent)); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
}

// A leader with nothing to write learns at once that another master took
// over one of its partitions (WatchFence); a take-over of other
// partitions leaves it leading, and ending its context ends the watch
// with nothing to report.
func TestWatchFenceEndsWhenAPartitionIsTakenOver(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	odd, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "odd", []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	watch := func(f coord.Fence) (<-chan error, context.CancelFunc) {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		var ended sync.WaitGroup
		ended.Go(func() { done <- coord.WatchFence(wctx, c, l, f) })
		t.Cleanup(func() { cancel(); ended.Wait() })
		return done, cancel
	}
	done, _ := watch(odd)
	if _, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "even", []int{0, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "thief", []int{3}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		// Partition 1 never moved: only the thief's take-over ended it.
		if !errors.Is(err, coord.ErrDeposed) || !strings.Contains(err.Error(), l.Partition(3)) {
			t.Fatalf("WatchFence: %v, want ErrDeposed naming %s", err, l.Partition(3))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WatchFence did not end after partition 3 was taken over")
	}

	// A leader of every partition is fenced by the epoch, which any
	// take-over moves.
	all, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "all", coord.AllPartitions())
	if err != nil {
		t.Fatal(err)
	}
	done, _ = watch(all)
	if _, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "other", []int{5}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, coord.ErrDeposed) || !strings.Contains(err.Error(), l.Epoch()) {
			t.Fatalf("WatchFence: %v, want ErrDeposed naming %s", err, l.Epoch())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WatchFence did not end after the epoch moved")
	}

	mine, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), "mine", []int{7})
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := watch(mine)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("WatchFence after its context ended: %v, want nil", err)
	}
}
