package recipe_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

func TestBarrierHoldsUntilRemoved(t *testing.T) {
	ctx := ctxT(t)
	admin := dial(t, shared.Addr())
	p := recipeDir(t, admin) + "/gate"
	b := recipe.NewBarrier(admin, p)
	// Not set: Wait returns at once.
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx); err != nil {
		t.Fatalf("setting a set barrier: %v", err)
	}
	const n = 3
	var passed atomic.Int32
	done := make(chan error, n)
	var clients []*zkclient.Client
	for range n {
		c := dial(t, shared.Addr())
		clients = append(clients, c)
		go func() {
			err := recipe.NewBarrier(c, p).Wait(ctx)
			passed.Add(1)
			done <- err
		}()
	}
	// Every waiter has set its watch once the server shows it.
	eventually(t, 5*time.Second, "the waiters to watch the barrier", func() bool {
		for _, c := range clients {
			if len(watchedPaths(t, sessionOf(t, c).ID())) != 1 {
				return false
			}
		}
		return true
	})
	if got := passed.Load(); got != 0 {
		t.Fatalf("%d waiters passed a set barrier", got)
	}
	if err := b.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter is still held after the barrier was removed")
		}
	}
	if err := b.Remove(ctx); err != nil {
		t.Fatalf("removing a removed barrier: %v", err)
	}
}

func TestBarrierWaiterSurvivesExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, pc := proxied(t)
	admin := dial(t, shared.Addr())
	path := recipeDir(t, admin) + "/gate"
	b := recipe.NewBarrier(admin, path)
	if err := b.Set(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- recipe.NewBarrier(pc, path).Wait(ctx) }()
	eventually(t, 5*time.Second, "the waiter to watch", func() bool {
		return len(watchedPaths(t, sessionOf(t, pc).ID())) == 1
	})
	s := expire(t, shared, p, pc)
	// The barrier is persistent: still set, the waiter waits again.
	eventually(t, 10*time.Second, "the waiter to watch again on its new session", func() bool {
		return len(watchedPaths(t, s.ID())) == 1
	})
	select {
	case err := <-done:
		t.Fatalf("the waiter passed a set barrier after expiry: %v", err)
	default:
	}
	if err := b.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter did not pass the removed barrier")
	}
}

// runDoubleBarrier has n participants, each on its own client, enter and
// leave, checking that nobody gets through Enter before all have called it
// and nobody through Leave before all have called it. The last participant
// starts only once the others are inside, waiting.
func runDoubleBarrier(t *testing.T, clients []*zkclient.Client, dir string) {
	t.Helper()
	ctx := ctxT(t)
	n := len(clients)
	var entering, entered, leaving atomic.Int32
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := recipe.NewDoubleBarrier(clients[i], dir, n, fmt.Sprintf("p%02d", i))
			entering.Add(1)
			if err := b.Enter(ctx); err != nil {
				errs <- err
				return
			}
			if got := entering.Load(); got != int32(n) {
				errs <- fmt.Errorf("p%02d entered with %d of %d participants arrived", i, got, n)
			}
			entered.Add(1)
			leaving.Add(1)
			if err := b.Leave(ctx); err != nil {
				errs <- err
				return
			}
			if got := leaving.Load(); got != int32(n) {
				errs <- fmt.Errorf("p%02d left with %d of %d participants leaving", i, got, n)
			}
		}()
	}
	for i := range n - 1 {
		start(i)
	}
	eventually(t, 10*time.Second, "the first participants to be in", func() bool {
		names, _, _ := clients[0].Children(ctx, dir)
		return len(names) == n-1
	})
	if got := entered.Load(); got != 0 {
		t.Fatalf("%d participants got through Enter before the last arrived", got)
	}
	start(n - 1)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	names, _, err := clients[0].Children(ctx, dir)
	if err != nil || len(names) != 0 {
		t.Fatalf("left behind after a round: %v %v", names, err)
	}
}

func TestDoubleBarrier(t *testing.T) {
	admin := dial(t, shared.Addr())
	dir := recipeDir(t, admin)
	var clients []*zkclient.Client
	for range 4 {
		clients = append(clients, dial(t, shared.Addr()))
	}
	// Two rounds on the same znodes: the last one out cleans up.
	runDoubleBarrier(t, clients, dir)
	runDoubleBarrier(t, clients, dir)
}

func TestDoubleBarrierAcrossExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, pc := proxied(t)
	a, b := dial(t, shared.Addr()), dial(t, shared.Addr())
	dir := recipeDir(t, a)
	const n = 3
	// A participant whose session expires while it waits to enter joins
	// again on its new session and counts.
	entered := make(chan error, n)
	go func() { entered <- recipe.NewDoubleBarrier(pc, dir, n, "expiring").Enter(ctx) }()
	eventually(t, 5*time.Second, "the first participant to be in", func() bool {
		names, _, _ := a.Children(ctx, dir)
		return len(names) == 1
	})
	s := expire(t, shared, p, pc)
	eventually(t, 10*time.Second, "the participant to join again", func() bool {
		st, _ := a.Exists(ctx, dir+"/expiring")
		return st != nil && st.EphemeralOwner == s.ID()
	})
	for _, x := range []struct {
		c    *zkclient.Client
		name string
	}{{a, "a"}, {b, "b"}} {
		go func() { entered <- recipe.NewDoubleBarrier(x.c, dir, n, x.name).Enter(ctx) }()
	}
	for range n {
		select {
		case err := <-entered:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the barrier did not open with all three in")
		}
	}
	// A participant whose session expires inside counts as gone: the
	// others leave without it, and its own Leave returns at once.
	expire(t, shared, p, pc)
	left := make(chan error, n)
	for _, x := range []struct {
		c    *zkclient.Client
		name string
	}{{a, "a"}, {b, "b"}, {pc, "expiring"}} {
		go func() { left <- recipe.NewDoubleBarrier(x.c, dir, n, x.name).Leave(ctx) }()
	}
	for range n {
		select {
		case err := <-left:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Leave blocked")
		}
	}
	if names, _, _ := a.Children(ctx, dir); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
}
