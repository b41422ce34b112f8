package recipe_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/recipe"
)

func TestSemaphoreBound(t *testing.T) {
	// 6 processes take a 2-permit semaphore 5 times each; never more than
	// 2 hold a lease at once.
	ctx := ctxT(t)
	admin := dial(t, shared.Addr())
	dir := recipeDir(t, admin)
	const permits, procs, rounds = 2, 6, 5
	var holding, peak atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, procs*rounds)
	for range procs {
		c := dial(t, shared.Addr())
		s := recipe.NewSemaphore(c, dir, permits)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				l, err := s.Acquire(ctx)
				if err != nil {
					errs <- err
					return
				}
				n := holding.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				if n > permits {
					errs <- fmt.Errorf("%d leases held at once", n)
				}
				// Hold it for a few round trips, so that holders overlap.
				for range 10 {
					if err := c.Sync(ctx, dir); err != nil {
						errs <- err
					}
				}
				holding.Add(-1)
				if err := l.Release(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := peak.Load(); got != permits {
		t.Fatalf("at most %d leases were held at once, want %d", got, permits)
	}
	for _, sub := range []string{"/leases", "/locks"} {
		if names, _, _ := admin.Children(ctx, dir+sub); len(names) != 0 {
			t.Fatalf("%s left behind: %v", sub, names)
		}
	}
}

func TestSemaphoreIsHerdFree(t *testing.T) {
	// Two leases held, ten acquirers waiting on one connection. A release
	// wakes the acquirer holding the internal lock (it watches leases/),
	// and its acquisition wakes the next in the lock queue: two
	// notifications, however many wait.
	ctx := ctxT(t)
	// Sessions that survive a stalled machine: see TestBagWatchCostIsConstant.
	h, c := dialTimeout(t, shared.Addr(), maxSession), dialTimeout(t, shared.Addr(), maxSession)
	dir := recipeDir(t, h)
	const waiters = 10
	hs := recipe.NewSemaphore(h, dir, 2)
	l1, err := hs.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := hs.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan *recipe.Lease, waiters)
	for range waiters {
		s := recipe.NewSemaphore(c, dir, 2)
		go func() {
			if l, err := s.Acquire(wctx); err == nil {
				got <- l
			}
		}()
	}
	sess := sessionOf(t, c)
	eventually(t, 10*time.Second, "the acquirers to settle on their watches", func() bool {
		// 9 exists watches on lock predecessors and, by the internal
		// lock's holder, a children watch on leases/ (which wchc omits).
		return len(watchedPaths(t, sess.ID())) == waiters-1 && serverWatches(t) == waiters
	})
	before := settled(t, c)
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var l3 *recipe.Lease
	select {
	case l3 = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no acquirer got the released lease")
	}
	eventually(t, 10*time.Second, "the next acquirer to settle", func() bool {
		return len(watchedPaths(t, sess.ID())) == waiters-2 && serverWatches(t) == waiters-1
	})
	d := cost(before, settled(t, c))
	t.Logf("release with %d acquirers waiting: %d notification(s), %d request(s) by the acquirers", waiters, d.WatchEvents, d.Requests)
	if d.WatchEvents != 2 {
		t.Fatalf("a release sent %d notifications to the acquirers, want 2", d.WatchEvents)
	}
	// The woken lock holder: a count of leases/ and the lock's release;
	// the next: a listing of locks/, its lease, a count, a count with watch.
	if d.Requests != 6 {
		t.Fatalf("a release cost the acquirers %d requests, want 6", d.Requests)
	}
	select {
	case l := <-got:
		t.Fatalf("a second acquirer (%s) got a lease with 2 held", l.Key())
	default:
	}
	for _, l := range []*recipe.Lease{l2, l3} {
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSemaphoreLeaseLostWithSession(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, pc := proxied(t)
	other := dial(t, shared.Addr())
	dir := recipeDir(t, other)
	l, err := recipe.NewSemaphore(pc, dir, 1).Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lost := l.Lost()
	got := make(chan *recipe.Lease, 1)
	go func() {
		if l, err := recipe.NewSemaphore(other, dir, 1).Acquire(ctx); err == nil {
			got <- l
		}
	}()
	eventually(t, 5*time.Second, "the second acquirer to wait", func() bool {
		names, _, _ := other.Children(ctx, dir+"/leases")
		return len(names) == 2
	})
	expire(t, shared, p, pc)
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("Lost did not close after the session expired")
	}
	var l2 *recipe.Lease
	select {
	case l2 = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the expired holder's lease was not freed")
	}
	if err := l.Release(ctx); !errors.Is(err, recipe.ErrSessionLost) {
		t.Fatalf("Release after expiry: %v, want ErrSessionLost", err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// The expired client acquires again on its new session.
	l3, err := recipe.NewSemaphore(pc, dir, 1).Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l3.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
