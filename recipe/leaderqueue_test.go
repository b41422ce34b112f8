package recipe_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
)

func TestLeaderQueueOrderAndSuccession(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	sess, _ := c.Session(ctx)
	el := recipe.NewLeaderQueue(c, dir)
	var cands []*recipe.Candidate
	for _, name := range []string{"a", "b", "c"} {
		cd, err := el.Join(ctx, sess, []byte(name))
		if err != nil {
			t.Fatal(err)
		}
		cands = append(cands, cd)
	}
	if !(cands[0].Seq() < cands[1].Seq() && cands[1].Seq() < cands[2].Seq()) {
		t.Fatalf("sequence numbers out of order")
	}
	if err := cands[0].Lead(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// b and c wait; b is elected as soon as a resigns, c stays behind b.
	elected := make(chan string, 2)
	var waiting atomic.Int32
	for i, name := range []string{"b", "c"} {
		go func() {
			err := cands[i+1].Lead(ctx, func(s recipe.Standing) {
				if s.Position > 0 {
					waiting.Add(1)
				}
			})
			if err == nil {
				elected <- name
			}
		}()
	}
	eventually(t, 5*time.Second, "b and c to queue", func() bool { return waiting.Load() == 2 })
	select {
	case who := <-elected:
		t.Fatalf("%s elected while a leads", who)
	default:
	}
	if err := cands[0].Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-elected; got != "b" {
		t.Fatalf("elected %s after a resigned, want b", got)
	}
	names, _ := el.Candidates(ctx)
	if len(names) != 2 {
		t.Fatalf("candidates %v", names)
	}
}

func TestLeaderQueueIsHerdFree(t *testing.T) {
	// 50 candidates queue; the leader's departure must wake exactly one of
	// them: the others' watches are on their predecessors, which stay.
	// (Sessions that survive a stalled machine: see
	// TestBagWatchCostIsConstant.)
	ctx := ctxT(t)
	c := dialTimeout(t, shared.Addr(), maxSession)
	dir := recipeDir(t, c)
	sess, _ := c.Session(ctx)
	el := recipe.NewLeaderQueue(c, dir)
	leaderConn := dialTimeout(t, shared.Addr(), maxSession) // the leader resigns through its own connection
	const n = 50
	cands := make([]*recipe.Candidate, n)
	leaderSess, _ := leaderConn.Session(ctx)
	for i := range cands {
		s, el := sess, el
		if i == 0 {
			s, el = leaderSess, recipe.NewLeaderQueue(leaderConn, dir)
		}
		cd, err := el.Join(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		cands[i] = cd
	}
	var wakeups atomic.Int32
	settled := make(chan struct{}, n)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := 1; i < n; i++ {
		go func() {
			first := true
			_ = cands[i].Lead(lctx, func(recipe.Standing) {
				if first {
					first = false
					settled <- struct{}{}
					return
				}
				wakeups.Add(1)
			})
		}()
	}
	for i := 1; i < n; i++ {
		<-settled
	}
	before := c.Stats().WatchEvents
	if err := leaderConn.Delete(ctx, cands[0].Key(), -1); err != nil {
		t.Fatal(err)
	}
	// Candidate 1 is elected (its observe counts the election as a wakeup).
	eventually(t, 10*time.Second, "the successor's election", func() bool { return wakeups.Load() >= 1 })
	// ZooKeeper delivers a watch notification before the replies that
	// follow it on the same connection: after this round trip every
	// notification the deletion caused has arrived.
	if err := c.Sync(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().WatchEvents - before; got != 1 {
		t.Fatalf("leader departure sent %d watch notifications to the 49 candidates, want 1", got)
	}
	if got := wakeups.Load(); got != 1 {
		t.Fatalf("leader departure woke %d candidates, want 1", got)
	}
}

func TestLeaderQueueCandidacyLostWithSession(t *testing.T) {
	p := zktest.NewProxy(t, shared.Addr())
	c := dial(t, p.Addr())
	dir := recipeDir(t, c)
	ctx := ctxT(t)
	sess, _ := c.Session(ctx)
	el := recipe.NewLeaderQueue(c, dir)
	leader, err := el.Join(ctx, sess, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Lead(ctx, nil); err != nil {
		t.Fatal(err)
	}
	gone := leader.Gone(ctx)
	expire(t, shared, p, c)
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("Gone did not fire after the session expired")
	}
	if err := leader.Lead(ctx, nil); !errors.Is(err, recipe.ErrSessionLost) {
		t.Fatalf("Lead on an expired candidacy: %v", err)
	}
	// The candidacy does not come back by itself.
	if st, _ := c.Exists(ctx, leader.Key()); st != nil {
		t.Fatal("the expired candidate znode still exists")
	}
}

func TestLeaderQueueGoneWhenZnodeDeleted(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	sess, _ := c.Session(ctx)
	cd, err := recipe.NewLeaderQueue(c, dir).Join(ctx, sess, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone := cd.Gone(ctx)
	other := dial(t, shared.Addr())
	if err := other.Delete(ctx, cd.Key(), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("Gone did not fire after the znode was deleted")
	}
	if err := cd.Lead(ctx, nil); !errors.Is(err, recipe.ErrCandidacyLost) {
		t.Fatalf("want ErrCandidacyLost, got %v", err)
	}
	if err := cd.Resign(ctx); err != nil {
		t.Fatalf("resigning a deleted candidacy: %v", err)
	}
	_ = zk.ErrNoNode
}

// The original PettingZoo leader-queue test cases, against real ZooKeeper.
func TestLeaderQueueOriginalCases(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	sess, _ := c.Session(ctx)
	q := recipe.NewLeaderQueue(c, dir)
	join := func() *recipe.Candidate {
		cd, err := q.Join(ctx, sess, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cd
	}
	// Two candidates get consecutive sequence numbers, the first in front.
	c0, c1 := join(), join()
	if c1.Seq() != c0.Seq()+1 {
		t.Fatalf("sequence numbers %d, %d", c0.Seq(), c1.Seq())
	}
	pos := func(cd *recipe.Candidate) int {
		p, err := cd.Position(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if pos(c0) != 0 || pos(c1) != 1 {
		t.Fatalf("positions %d %d", pos(c0), pos(c1))
	}
	if n, _ := q.Len(ctx); n != 2 {
		t.Fatalf("len %d", n)
	}
	// Removing c0 leaves c1 at the front ({-1: c0, 0: c1} -> {-1: c1}).
	if err := c0.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if has, _ := q.Has(ctx, c0.Key()); has {
		t.Fatal("c0 still queued")
	}
	if _, err := c0.Position(ctx); !errors.Is(err, recipe.ErrCandidacyLost) {
		t.Fatalf("a removed candidate's position: %v", err)
	}
	if err := c0.Resign(ctx); err != nil {
		t.Fatalf("removing a candidate that is not queued: %v", err)
	}
	if pos(c1) != 0 {
		t.Fatal("c1 not at the front")
	}
	// Add two more, remove c1: c3's predecessor is c2, and c2 leads.
	c2, c3 := join(), join()
	if err := c1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	var st recipe.Standing
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	elected := make(chan struct{})
	go func() {
		if c3.Lead(wctx, func(s recipe.Standing) { st = s }) == nil {
			close(elected)
		}
	}()
	eventually(t, 5*time.Second, "c3 to settle", func() bool { return pos(c3) == 1 })
	// on_elected fires once every predecessor was deleted by someone else.
	other := dial(t, shared.Addr())
	if err := other.Delete(ctx, c2.Key(), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-elected:
	case <-time.After(5 * time.Second):
		t.Fatal("c3 not elected once its predecessors were gone")
	}
	if st.Position != 0 || st.Queue != 1 {
		t.Fatalf("standing %+v", st)
	}
}

// A znode named like a candidate, at the front of the queue, that is not
// ephemeral (another tool made it) is not one: Rank, which deals shares of
// the work by place in line (several leaders), must not count it, as Lead
// does not wait for it. Counted, it took place 0 and its share was led by
// nobody.
func TestLeaderQueueRankSkipsPersistentZnodes(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	sess, _ := c.Session(ctx)
	el := recipe.NewLeaderQueue(c, dir)
	a, err := el.Join(ctx, sess, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := el.Join(ctx, sess, []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, dir+"/candidate-ffffffffffffffff-0000000000", []byte("not a candidate"), zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	for i, cd := range []*recipe.Candidate{a, b} {
		for range 2 { // the second time from what Rank learnt
			pos, queue, _, err := cd.Rank(ctx)
			if err != nil || pos != i || queue != 2 {
				t.Fatalf("candidate %d: Rank = position %d of %d (%v), want %d of 2", i, pos, queue, err, i)
			}
		}
	}
	if err := a.Lead(ctx, nil); err != nil {
		t.Fatalf("Lead with the persistent znode in front: %v", err)
	}
}
