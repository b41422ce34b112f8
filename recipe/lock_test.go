package recipe_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/recipe"
)

func TestMutexExclusion(t *testing.T) {
	// 5 processes increment a counter znode with unconditional writes (a
	// lost update would show) and an in-process flag (an overlap would
	// show), 10 times each, under the lock.
	ctx := ctxT(t)
	admin := dial(t, shared.Addr())
	dir := recipeDir(t, admin)
	counter := dir + "-counter"
	deleteTree(t, admin, counter)
	if _, err := admin.Create(ctx, counter, []byte("0"), zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	const procs, rounds = 5, 10
	var inside atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for range procs {
		c := dial(t, shared.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := recipe.NewMutex(c, dir)
			for range rounds {
				if err := m.Lock(ctx); err != nil {
					errs <- err
					return
				}
				if !inside.CompareAndSwap(0, 1) {
					errs <- errors.New("two holders at once")
				}
				data, _, err := c.Get(ctx, counter)
				if err == nil {
					n, _ := strconv.Atoi(string(data))
					_, err = c.Set(ctx, counter, []byte(strconv.Itoa(n+1)), -1)
				}
				if err != nil {
					errs <- err
				}
				inside.Store(0)
				if err := m.Unlock(ctx); err != nil {
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
	data, _, err := admin.Get(ctx, counter)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != strconv.Itoa(procs*rounds) {
		t.Fatalf("counter %s, want %d: updates overlapped", data, procs*rounds)
	}
	if names, _, _ := admin.Children(ctx, dir); len(names) != 0 {
		t.Fatalf("lock znodes left behind: %v", names)
	}
}

func TestMutexTryLockAndMisuse(t *testing.T) {
	ctx := ctxT(t)
	a, b := dial(t, shared.Addr()), dial(t, shared.Addr())
	dir := recipeDir(t, a)
	ma, mb := recipe.NewMutex(a, dir), recipe.NewMutex(b, dir)
	if err := mb.Unlock(ctx); !errors.Is(err, recipe.ErrNotHeld) {
		t.Fatalf("Unlock of an unlocked Mutex: %v", err)
	}
	if ok, err := ma.TryLock(ctx); err != nil || !ok {
		t.Fatalf("TryLock of a free lock: %v %v", ok, err)
	}
	if ma.Key() == "" {
		t.Fatal("no key while held")
	}
	if err := ma.Lock(ctx); err == nil {
		t.Fatal("Lock of a held Mutex succeeded")
	}
	if ok, err := mb.TryLock(ctx); err != nil || ok {
		t.Fatalf("TryLock of a held lock: %v %v", ok, err)
	}
	// A failed TryLock leaves no znode behind to block the queue.
	if names, _, _ := a.Children(ctx, dir); len(names) != 1 {
		t.Fatalf("znodes after a failed TryLock: %v", names)
	}
	select {
	case <-ma.Lost():
		t.Fatal("Lost closed while held")
	default:
	}
	if err := ma.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ma.Lost():
	default:
		t.Fatal("Lost still open after Unlock")
	}
	if ok, err := mb.TryLock(ctx); err != nil || !ok {
		t.Fatalf("TryLock after release: %v %v", ok, err)
	}
	// Someone deletes the holder's znode: it learns it lost the lock.
	lost := mb.Lost()
	if err := a.Delete(ctx, mb.Key(), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("Lost did not close when the znode was deleted")
	}
	if err := mb.Unlock(ctx); !errors.Is(err, recipe.ErrNotHeld) {
		t.Fatalf("Unlock after the znode was deleted: %v", err)
	}
}

func TestMutexIsHerdFree(t *testing.T) {
	// 20 waiters on one connection; the holder's release must send exactly
	// one notification to them and wake one. (Sessions that survive a
	// stalled machine: see TestBagWatchCostIsConstant.)
	ctx := ctxT(t)
	h, c := dialTimeout(t, shared.Addr(), maxSession), dialTimeout(t, shared.Addr(), maxSession)
	dir := recipeDir(t, h)
	holder := recipe.NewMutex(h, dir)
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	const waiters = 20
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	acquired := make(chan *recipe.Mutex, waiters)
	for range waiters {
		m := recipe.NewMutex(c, dir)
		go func() {
			if m.Lock(wctx) == nil {
				acquired <- m
			}
		}()
	}
	sess := sessionOf(t, c)
	eventually(t, 10*time.Second, "every waiter to watch its predecessor", func() bool {
		return len(watchedPaths(t, sess.ID())) == waiters
	})
	before := settled(t, c)
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	var next *recipe.Mutex
	select {
	case next = <-acquired:
	case <-time.After(10 * time.Second):
		t.Fatal("no waiter acquired the released lock")
	}
	d := cost(before, settled(t, c))
	t.Logf("release with %d waiters: %d notification(s), %d request(s) by the waiters", waiters, d.WatchEvents, d.Requests)
	if d.WatchEvents != 1 {
		t.Fatalf("release sent %d notifications to the waiters, want 1", d.WatchEvents)
	}
	if d.Requests != 1 {
		t.Fatalf("the woken waiter made %d requests, want 1 (a listing)", d.Requests)
	}
	select {
	case m := <-acquired:
		t.Fatalf("a second waiter (%s) acquired while %s holds", m.Key(), next.Key())
	default:
	}
	if err := next.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMutexLostWithSession(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, pc := proxied(t)
	other := dial(t, shared.Addr())
	dir := recipeDir(t, other)
	m := recipe.NewMutex(pc, dir)
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	lost := m.Lost()
	om := recipe.NewMutex(other, dir)
	got := make(chan error, 1)
	go func() { got <- om.Lock(ctx) }()

	expire(t, shared, p, pc)
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("Lost did not close after the session expired")
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not get the lock of the expired holder")
	}
	if err := m.Unlock(ctx); !errors.Is(err, recipe.ErrSessionLost) {
		t.Fatalf("Unlock after expiry: %v, want ErrSessionLost", err)
	}
	// The same Mutex locks again on the new session once it is free.
	go func() { got <- m.Lock(ctx) }()
	if err := om.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMutexWaiterRequeuesAfterExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, pc := proxied(t)
	h := dial(t, shared.Addr())
	dir := recipeDir(t, h)
	holder := recipe.NewMutex(h, dir)
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	w := recipe.NewMutex(pc, dir)
	got := make(chan error, 1)
	go func() { got <- w.Lock(ctx) }()
	eventually(t, 5*time.Second, "the waiter to queue", func() bool {
		names, _, _ := h.Children(ctx, dir)
		return len(names) == 2
	})
	expire(t, shared, p, pc)
	// It queues again on its new session...
	eventually(t, 10*time.Second, "the waiter to queue again", func() bool {
		names, _, _ := h.Children(ctx, dir)
		return len(names) == 2
	})
	select {
	case err := <-got:
		t.Fatalf("waiter returned while the lock is held: %v", err)
	default:
	}
	// ...and gets the lock when it is released.
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the re-queued waiter did not get the lock")
	}
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
