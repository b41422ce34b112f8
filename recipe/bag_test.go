package recipe_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// bagEvents records a bag watcher's callbacks as "+id" and "-id".
type bagEvents struct {
	mu  sync.Mutex
	got []string
	ch  chan string
}

func newBagEvents() *bagEvents { return &bagEvents{ch: make(chan string, 1000)} }

func (e *bagEvents) add(id int64)    { e.record(fmt.Sprintf("+%d", id)) }
func (e *bagEvents) remove(id int64) { e.record(fmt.Sprintf("-%d", id)) }
func (e *bagEvents) record(s string) {
	e.mu.Lock()
	e.got = append(e.got, s)
	e.mu.Unlock()
	e.ch <- s
}

// expect waits for the next callbacks, in order, each within d.
func (e *bagEvents) expect(t *testing.T, d time.Duration, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-e.ch:
			if got != w {
				t.Fatalf("bag callback %s, want %s", got, w)
			}
		case <-time.After(d):
			t.Fatalf("no bag callback %s within %v", w, d)
		}
	}
}

func (e *bagEvents) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-e.ch:
		t.Fatalf("unexpected bag callback %s", got)
	default:
	}
}

func TestBagPaths(t *testing.T) {
	b := recipe.NewBag(nil, "/foo")
	if got := b.ItemPath(1354); got != "/foo/item/item0000001354" {
		t.Fatal(got)
	}
	if got := b.TokenPath(1354); got != "/foo/token/token0000001354" {
		t.Fatal(got)
	}
}

func TestBagAddRemoveGet(t *testing.T) {
	// The original's cases, on a real server.
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	b := recipe.NewBag(c, dir)
	id0, err := b.Add(ctx, []byte("zero"), true)
	if err != nil {
		t.Fatal(err)
	}
	id1, err := b.Add(ctx, []byte("one"), true)
	if err != nil {
		t.Fatal(err)
	}
	if id0 != 0 || id1 != 1 {
		t.Fatalf("ids %d, %d on a fresh bag, want 0, 1", id0, id1)
	}
	children := func(sub string) []string {
		t.Helper()
		names, _, err := c.Children(ctx, dir+"/"+sub)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	if got := children("item"); !slices.Equal(got, []string{"item0000000000", "item0000000001"}) {
		t.Fatalf("items %v", got)
	}
	if got := children("token"); !slices.Equal(got, []string{"token0000000001"}) {
		t.Fatalf("tokens %v, want exactly token0000000001", got)
	}
	if got := children("pending"); len(got) != 0 {
		t.Fatalf("pending markers left: %v", got)
	}

	if ok, err := b.Remove(ctx, 1); err != nil || !ok {
		t.Fatalf("Remove(1): %v %v", ok, err)
	}
	if ok, err := b.Remove(ctx, 2); err != nil || ok {
		t.Fatalf("Remove(2) of an id that never existed: %v %v", ok, err)
	}
	if got := children("token"); !slices.Equal(got, []string{"token0000000001"}) {
		t.Fatalf("tokens after remove %v", got)
	}
	if data, err := b.Get(ctx, 0); err != nil || string(data) != "zero" {
		t.Fatalf("Get(0): %q %v", data, err)
	}
	if _, err := b.Get(ctx, 1); !errors.Is(err, recipe.ErrNoItem) {
		t.Fatalf("Get(1) after remove: %v", err)
	}
	next, err := b.Add(ctx, []byte("again"), false)
	if err != nil {
		t.Fatal(err)
	}
	if next <= 1 {
		t.Fatalf("id %d after removing 1", next)
	}
	t.Logf("after removing id 1 the next id is %d", next)
	items, err := b.Items(ctx)
	if err != nil || !slices.Equal(items, []int64{0, next}) {
		t.Fatalf("Items %v %v, want [0 %d]", items, err, next)
	}
	if got := children("token"); !slices.Equal(got, []string{fmt.Sprintf("token%010d", next)}) {
		t.Fatalf("tokens %v", got)
	}
}

func TestBagListeners(t *testing.T) {
	ctx := ctxT(t)
	a, w := dial(t, shared.Addr()), dial(t, shared.Addr())
	dir := recipeDir(t, a)
	b := recipe.NewBag(a, dir)
	first, err := b.Add(ctx, []byte("x"), false)
	if err != nil {
		t.Fatal(err)
	}
	ev := newBagEvents()
	initial, err := recipe.NewBag(w, dir).Watch(ctx, ev.add, ev.remove)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(initial, []int64{first}) {
		t.Fatalf("initial %v", initial)
	}
	// The original promised callbacks within 250 ms.
	const prompt = 250 * time.Millisecond
	id, err := b.Add(ctx, []byte("y"), false)
	if err != nil {
		t.Fatal(err)
	}
	ev.expect(t, prompt, fmt.Sprintf("+%d", id))
	if _, err := b.Remove(ctx, first); err != nil {
		t.Fatal(err)
	}
	ev.expect(t, prompt, fmt.Sprintf("-%d", first))
	var x int64
	for range 3 {
		x, err = b.Add(ctx, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		ev.expect(t, prompt, fmt.Sprintf("+%d", x))
		if _, err := b.Remove(ctx, x); err != nil {
			t.Fatal(err)
		}
		ev.expect(t, prompt, fmt.Sprintf("-%d", x))
	}
	// A gap: any child created under item/ takes a sequence number. The
	// watcher reads the missing id and reports only the real item.
	if _, err := a.Create(ctx, dir+"/item/not-an-item", nil, zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	last, err := b.Add(ctx, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if last != x+2 {
		t.Fatalf("no gap before id %d (previous %d)", last, x)
	}
	ev.expect(t, prompt, fmt.Sprintf("+%d", last))
	settled(t, w)
	ev.none(t)
	// Concurrent adders: every id reported once.
	var wg sync.WaitGroup
	ids := make(chan int64, 20)
	for range 4 {
		c := dial(t, shared.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				id, err := recipe.NewBag(c, dir).Add(ctx, nil, false)
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[fmt.Sprintf("+%d", id)] = true
	}
	for len(want) > 0 {
		select {
		case got := <-ev.ch:
			if !want[got] {
				t.Fatalf("unexpected or repeated callback %s", got)
			}
			delete(want, got)
		case <-time.After(5 * time.Second):
			t.Fatalf("callbacks missing: %v", want)
		}
	}
	settled(t, w)
	ev.none(t)
}

// bagWithItems makes a bag holding n items: n-1 created in bulk (multis of
// 1000) and the last with Add, which writes the token. A bulk multi lost
// with the connection may have been applied: the items are counted again
// before the next.
func bagWithItems(t *testing.T, c *zkclient.Client, dir string, n int) *recipe.Bag {
	t.Helper()
	ctx := ctxT(t)
	b := recipe.NewBag(c, dir)
	if _, err := b.Add(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	prefix := dir + "/item/item"
	for done := 1; done < n-1; {
		var ops []zkclient.Op
		for i := done; i < n-1 && len(ops) < 1000; i++ {
			ops = append(ops, zkclient.CreateOp(prefix, []byte("bulk"), zk.FlagSequence))
		}
		_, err := c.Multi(ctx, ops...)
		if err == nil {
			done += len(ops)
			continue
		}
		if err := c.Retry(ctx, err); err != nil {
			t.Fatal(err)
		}
		items, err := b.Items(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done = len(items)
	}
	if _, err := b.Add(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBagWatchCostIsConstant(t *testing.T) {
	// A watcher's cost per add and per remove must not depend on the size
	// of the bag: it never lists item/ after its start. The counts are
	// exact: measured over unbroken connections (steady) with sessions
	// that survive a stall of the loaded machine (dialTimeout), since a
	// dropped connection makes requests be sent again and an expired
	// session a resync, neither of which is the watcher's cost per change.
	type costs struct{ add, remove zkclient.Stats }
	measure := func(t *testing.T, n int) costs {
		ctx := ctxT(t)
		a, w := dialTimeout(t, shared.Addr(), maxSession), dialTimeout(t, shared.Addr(), maxSession)
		dir := recipeDir(t, a)
		b := bagWithItems(t, a, dir, n)
		ev := newBagEvents()
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		initial, err := recipe.NewBag(w, dir).Watch(wctx, ev.add, ev.remove)
		if err != nil {
			t.Fatal(err)
		}
		if len(initial) != n {
			t.Fatalf("watcher started with %d items, want %d", len(initial), n)
		}
		var c costs
		try := 0
		steady(t, []*zkclient.Client{a, w}, func() {
			before := settled(t, w)
			id, err := b.Add(ctx, []byte("new"), false)
			if err != nil {
				t.Fatal(err)
			}
			ev.expect(t, 5*time.Second, fmt.Sprintf("+%d", id))
			mid := settled(t, w)
			c.add = cost(before, mid)
			gone := initial[n/2+try]
			try++
			if _, err := b.Remove(ctx, gone); err != nil {
				t.Fatal(err)
			}
			ev.expect(t, 5*time.Second, fmt.Sprintf("-%d", gone))
			c.remove = cost(mid, settled(t, w))
		})
		ev.none(t)
		t.Logf("bag of %d: an add costs the watcher %d request(s) and %d notification(s); a remove %d and %d",
			n, c.add.Requests, c.add.WatchEvents, c.remove.Requests, c.remove.WatchEvents)
		return c
	}
	var small, large costs
	t.Run("10", func(t *testing.T) { small = measure(t, 10) })
	t.Run("10000", func(t *testing.T) { large = measure(t, 10000) })
	if t.Failed() {
		return
	}
	if small != large {
		t.Fatalf("watch cost grows with the bag: %+v with 10 items, %+v with 10000", small, large)
	}
	if small.add.Requests > 2 || small.add.WatchEvents != 1 {
		t.Fatalf("an add costs %+v, want 1 notification and at most 2 requests", small.add)
	}
}

func TestBagEphemeralItemsGoWithSession(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, pc := proxied(t)
	w := dial(t, shared.Addr())
	dir := recipeDir(t, w)
	b := recipe.NewBag(pc, dir)
	eph, err := b.Add(ctx, []byte("mine"), true)
	if err != nil {
		t.Fatal(err)
	}
	per, err := b.Add(ctx, []byte("kept"), false)
	if err != nil {
		t.Fatal(err)
	}
	ev := newBagEvents()
	if _, err := recipe.NewBag(w, dir).Watch(ctx, ev.add, ev.remove); err != nil {
		t.Fatal(err)
	}
	expire(t, shared, p, pc)
	ev.expect(t, 5*time.Second, fmt.Sprintf("-%d", eph))
	items, err := recipe.NewBag(w, dir).Items(ctx)
	if err != nil || !slices.Equal(items, []int64{per}) {
		t.Fatalf("items after expiry %v %v, want [%d]", items, err, per)
	}
	// The adder works on its new session.
	id, err := b.Add(ctx, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	ev.expect(t, 5*time.Second, fmt.Sprintf("+%d", id))
}

func TestBagWatcherResyncsAfterExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, pw := proxied(t)
	a := dial(t, shared.Addr())
	dir := recipeDir(t, a)
	b := recipe.NewBag(a, dir)
	keep, _ := b.Add(ctx, nil, false)
	gone, err := b.Add(ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ev := newBagEvents()
	initial, err := recipe.NewBag(pw, dir).Watch(ctx, ev.add, ev.remove)
	if err != nil || !slices.Equal(initial, []int64{keep, gone}) {
		t.Fatalf("initial %v %v", initial, err)
	}
	// Changes while the watcher is cut off and its session expires.
	old := sessionOf(t, pw)
	p.Blackhole()
	if _, err := b.Remove(ctx, gone); err != nil {
		t.Fatal(err)
	}
	added, err := b.Add(ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	shared.WaitSessionGone(t, old.ID())
	p.Restore()
	ev.expect(t, 10*time.Second, fmt.Sprintf("-%d", gone), fmt.Sprintf("+%d", added))
	// And it keeps following the bag.
	id, err := b.Add(ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ev.expect(t, 5*time.Second, fmt.Sprintf("+%d", id))
	if _, err := b.Remove(ctx, keep); err != nil {
		t.Fatal(err)
	}
	ev.expect(t, 5*time.Second, fmt.Sprintf("-%d", keep))
}

func TestBagAddRecoversLostReply(t *testing.T) {
	// What Add does when the reply to its multi is lost: the marker says
	// whether the multi was applied, and its zxid finds the item among
	// those added since.
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	b := recipe.NewBag(c, dir)
	if _, err := b.Add(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	mark := dir + "/pending/lost-reply"
	res, err := c.Multi(ctx, zkclient.CreateOp(dir+"/item/item", []byte("lost"), zk.FlagSequence), zkclient.CreateOp(mark, nil, zk.FlagPersistent))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // others add after it
		if _, err := b.Add(ctx, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	id, found, err := b.RecoverAdd(ctx, mark)
	if err != nil || !found || b.ItemPath(id) != res[0].String {
		t.Fatalf("recovered %d %v %v, want %s", id, found, err, res[0].String)
	}
	// No marker: the multi was not applied, Add tries again.
	if _, found, err := b.RecoverAdd(ctx, dir+"/pending/never"); found || err != nil {
		t.Fatalf("recovered an Add that was not applied: %v %v", found, err)
	}
	// Applied, then removed before the recovery: ErrNoItem, marker cleaned.
	if _, err := b.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.RecoverAdd(ctx, mark); !errors.Is(err, recipe.ErrNoItem) {
		t.Fatalf("recovering a removed item: %v", err)
	}
	if st, _ := c.Exists(ctx, mark); st != nil {
		t.Fatal("marker left behind")
	}
}
