package coord_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

func keyed(kind, key string) task.Spec {
	s := spec(kind)
	s.Key = coord.KeyName(key)
	return s
}

// taskCount counts the task znodes of the tree, over its 256 shards.
func taskCount(t *testing.T, c *zkclient.Client, l coord.Layout) int {
	t.Helper()
	var n atomic.Int64
	if err := zkclient.Pipeline(256, func(i int) error {
		st, err := c.Exists(ctxT(t), l.TaskShard(fmt.Sprintf("%02x", i)))
		if err == nil {
			n.Add(int64(st.NumChildren))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return int(n.Load())
}

func exists(t *testing.T, c *zkclient.Client, p string) bool {
	t.Helper()
	st, err := c.Exists(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	return st != nil
}

func TestKeyNameIsTheHexSHA256(t *testing.T) {
	// FIPS 180-2's example: what any client computes for "abc".
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := coord.KeyName("abc"); got != abc {
		t.Fatalf("KeyName(abc) = %s, want %s", got, abc)
	}
	if p := coord.MustLayout("/p").Key(abc); p != "/p/keys/ba/"+abc {
		t.Errorf("key path %s, want the shard of the name's first two digits", p)
	}
}

// A second submit with the key writes nothing and names the first task,
// even once that task is gone (collected).
func TestKeyedSubmitTwiceGivesTheFirstID(t *testing.T) {
	f := newFixture(t)
	ctx, c, l, q := f.ctx, f.c, f.l, f.q
	first, second := task.NewID(time.Now()), task.NewID(time.Now())
	if err := q.Submit(ctx, first, keyed("echo", "order-17"), []byte("a")); err != nil {
		t.Fatal(err)
	}
	err := q.Submit(ctx, second, keyed("echo", "order-17"), []byte("b"))
	var dup *coord.DuplicateKeyError
	if !errors.As(err, &dup) || dup.ID != first || dup.Key != coord.KeyName("order-17") || !errors.Is(err, coord.ErrDuplicateKey) {
		t.Fatalf("second submit: %v, want a DuplicateKeyError naming %s", err, first)
	}
	if exists(t, c, l.Task(second)) || exists(t, c, l.Payload(second)) {
		t.Fatal("the duplicate wrote its task")
	}
	data, _, err := c.Get(ctx, l.Key(coord.KeyName("order-17")))
	if err != nil || string(data) != string(first) {
		t.Fatalf("key data %q (%v), want the first id", data, err)
	}
	s, _, err := q.Spec(ctx, first)
	if err != nil || s.Key != coord.KeyName("order-17") {
		t.Fatalf("spec key %q (%v)", s.Key, err)
	}
	// Finished and collected: the key still names it.
	finish(t, c, l, first, task.Succeeded)
	if err := q.Collect(ctx, first, task.Succeeded); err != nil {
		t.Fatal(err)
	}
	if err := q.Submit(ctx, second, keyed("echo", "order-17"), []byte("b")); !errors.As(err, &dup) || dup.ID != first {
		t.Fatalf("after collect: %v", err)
	}
	if n := taskCount(t, c, l); n != 0 {
		t.Fatalf("%d tasks", n)
	}
}

// Eight clients submit with one key at once: one task, and all eight end
// up with its id.
func TestConcurrentKeyedSubmitsMakeOneTask(t *testing.T) {
	f := newFixture(t)
	ctx, c, l := f.ctx, f.c, f.l
	const n = 8
	ids := make([]task.ID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cl := c
		if i%2 == 1 {
			cl = dial(t, shared.Addr())
		}
		ids[i] = task.NewID(time.Now())
		wg.Go(func() { errs[i] = coord.NewQueue(cl, l, 0).Submit(ctx, ids[i], keyed("echo", "once"), nil) })
	}
	wg.Wait()
	var winner task.ID
	for i, err := range errs {
		if err == nil {
			if winner != "" {
				t.Fatalf("two submits won: %s and %s", winner, ids[i])
			}
			winner = ids[i]
		}
	}
	for i, err := range errs {
		var dup *coord.DuplicateKeyError
		if err != nil && (!errors.As(err, &dup) || dup.ID != winner) {
			t.Errorf("submit %d: %v, want a duplicate of %s", i, err, winner)
		}
	}
	if winner == "" {
		t.Fatal("no submit won")
	}
	if got := taskCount(t, c, l); got != 1 {
		t.Fatalf("%d tasks, want 1", got)
	}
}

// A reply lost after the multi landed: the retry finds the key (and the
// task) its own and succeeds, keyed or not, with one task each.
func TestSubmitLostReplyIsSuccess(t *testing.T) {
	f := newFixture(t)
	ctx, c, l, q := f.ctx, f.c, f.l, f.q
	var calls atomic.Int32
	defer coord.SetSubmitReplyHook(func(err error) error {
		if calls.Add(1) == 1 && err == nil {
			return zk.ErrConnectionClosed // landed, but the reply is lost
		}
		return err
	})()
	for _, s := range []task.Spec{keyed("echo", "lost"), spec("echo")} {
		calls.Store(0)
		id := task.NewID(time.Now())
		if err := q.Submit(ctx, id, s, []byte("x")); err != nil {
			t.Fatalf("key %q: %v, want success (the first attempt landed)", s.Key, err)
		}
		if calls.Load() != 2 {
			t.Fatalf("key %q: %d multis, want 2 (the lost one and its retry)", s.Key, calls.Load())
		}
		if !exists(t, c, l.Task(id)) {
			t.Fatal("the task is missing")
		}
	}
	if n := taskCount(t, c, l); n != 2 {
		t.Fatalf("%d tasks, want 2", n)
	}
}

// A key znode another tool filled with garbage: a clear error, nothing
// written; a Spec key that is not a key name is refused before any write.
func TestKeyWithMalformedData(t *testing.T) {
	f := newFixture(t)
	ctx, c, l, q := f.ctx, f.c, f.l, f.q
	name := coord.KeyName("garbage")
	if _, err := c.Create(ctx, l.Key(name), []byte("not an id"), zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	id := task.NewID(time.Now())
	err := q.Submit(ctx, id, keyed("echo", "garbage"), nil)
	if !errors.Is(err, task.ErrMalformed) || errors.Is(err, coord.ErrDuplicateKey) {
		t.Fatalf("submit on a garbage key: %v", err)
	}
	t.Log(err)
	if exists(t, c, l.Task(id)) || exists(t, c, l.Payload(id)) {
		t.Fatal("something was written")
	}
	s := spec("echo")
	s.Key = "../../tasks"
	if err := q.Submit(ctx, id, s, nil); !errors.Is(err, task.ErrMalformed) {
		t.Fatalf("a key that is not a key name: %v", err)
	}
}

// A tree made before keys: unkeyed submits work, a keyed one says what to
// do; init adds the shards.
func TestKeyedSubmitToATreeWithoutKeys(t *testing.T) {
	f := newFixture(t)
	ctx, c, l, q := f.ctx, f.c, f.l, f.q
	deleteTree(t, c, l.Keys())
	if err := q.Submit(ctx, task.NewID(time.Now()), spec("echo"), nil); err != nil {
		t.Fatalf("unkeyed: %v", err)
	}
	id := task.NewID(time.Now())
	err := q.Submit(ctx, id, keyed("echo", "k"), nil)
	if !errors.Is(err, coord.ErrNoKeyShards) || !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("keyed, no keys/: %v", err)
	}
	t.Log(err)
	if exists(t, c, l.Task(id)) {
		t.Fatal("the task was written without its key")
	}
	if err := coord.EnsureLayout(ctx, c, l); err != nil {
		t.Fatal(err)
	}
	if err := q.Submit(ctx, id, keyed("echo", "k"), nil); err != nil {
		t.Fatalf("keyed after init: %v", err)
	}
}

// 500 tasks in one SubmitMany, two of them repeats (one of a key taken
// before, one of a key earlier in the same call): 498 tasks, two
// DuplicateKeyErrors naming the holders, and a handful of multis.
func TestSubmitManyWithDuplicates(t *testing.T) {
	f := newFixture(t)
	ctx, c, l, q := f.ctx, f.c, f.l, f.q
	earlier := task.NewID(time.Now())
	if err := q.Submit(ctx, earlier, keyed("echo", "taken"), nil); err != nil {
		t.Fatal(err)
	}
	const n = 500
	subs := make([]coord.Submission, n)
	for i := range subs {
		s := spec("echo")
		if i%5 == 0 {
			s = keyed("echo", fmt.Sprint("k", i))
		}
		subs[i] = coord.Submission{ID: task.NewID(time.Now()), Spec: s, Payload: []byte(fmt.Sprint(i))}
	}
	subs[150].Spec = keyed("echo", "taken")
	subs[400].Spec = keyed("echo", "k10")
	before := settled(t, c)
	errs, err := q.SubmitMany(ctx, subs)
	spent := cost(before, settled(t, c))
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		var dup *coord.DuplicateKeyError
		switch i {
		case 150:
			if !errors.As(err, &dup) || dup.ID != earlier {
				t.Errorf("150: %v, want a duplicate of %s", err, earlier)
			}
		case 400:
			if !errors.As(err, &dup) || dup.ID != subs[10].ID {
				t.Errorf("400: %v, want a duplicate of %s", err, subs[10].ID)
			}
		default:
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}
	}
	if got := taskCount(t, c, l); got != n-2+1 {
		t.Fatalf("%d tasks, want %d", got, n-2+1)
	}
	// Two chunks of 256, each sent again once without its repeat, and a
	// read of each repeat's key.
	t.Logf("%d tasks: %d requests", n, spent.Requests)
	if spent.Requests > 8 {
		t.Fatalf("%d requests for %d tasks, want few multis", spent.Requests, n)
	}
}

// The sweep frees keys older than the retention and those holding
// garbage, keeps fresh ones and what is not a key, and reads a key once:
// a sweep that finds nothing new costs the 256 listings only.
func TestExpireKeys(t *testing.T) {
	f := newFixture(t)
	ctx, c, l, q := f.ctx, f.c, f.l, f.q
	ld := leaderOf(t, c, l)
	now := time.Now()
	old, fresh := task.NewID(now.Add(-2*time.Hour)), task.NewID(now)
	if err := q.Submit(ctx, old, keyed("echo", "old"), nil); err != nil {
		t.Fatal(err)
	}
	if err := q.Submit(ctx, fresh, keyed("echo", "fresh"), nil); err != nil {
		t.Fatal(err)
	}
	garbage := l.Key(coord.KeyName("garbage"))
	if _, err := c.Create(ctx, garbage, []byte("junk"), zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	foreign := l.KeyShard("00") + "/not-a-key"
	if _, err := c.Create(ctx, foreign, []byte("junk"), zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	ages := coord.NewKeyAges()
	n, err := ld.ExpireKeys(ctx, ages, now, time.Hour, 256)
	if err != nil || n.Removed != 2 {
		t.Fatalf("first sweep: %+v, %v; want 2 removed", n, err)
	}
	if exists(t, c, l.Key(coord.KeyName("old"))) || exists(t, c, garbage) {
		t.Fatal("the old key or the garbage one is still there")
	}
	if !exists(t, c, l.Key(coord.KeyName("fresh"))) || !exists(t, c, foreign) {
		t.Fatal("the fresh key or the foreign znode went")
	}
	if !exists(t, c, l.Task(old)) {
		t.Fatal("the sweep took the task along with its key")
	}
	// Freed: the key takes a new task.
	if err := q.Submit(ctx, task.NewID(now), keyed("echo", "old"), nil); err != nil {
		t.Fatalf("submit with a freed key: %v", err)
	}
	sweep := func() (coord.Removed, int64) {
		before := settled(t, c)
		n, err := ld.ExpireKeys(ctx, ages, now, time.Hour, 256)
		if err != nil {
			t.Fatal(err)
		}
		return n, cost(before, settled(t, c)).Requests
	}
	n, second := sweep() // reads the new "old" key only
	if n.Removed != 0 || second != 256+1 {
		t.Fatalf("second sweep: %+v in %d requests, want 256 listings and 1 read", n, second)
	}
	n, third := sweep()
	if n.Removed != 0 || third != 256 {
		t.Fatalf("third sweep: %+v in %d requests, want the 256 listings only", n, third)
	}
	if ages.Len() != 2 {
		t.Fatalf("%d keys remembered, want 2", ages.Len())
	}
	// A key past the retention by the clock's advance goes without a read.
	n, later := func() (coord.Removed, int64) {
		before := settled(t, c)
		n, err := ld.ExpireKeys(ctx, ages, now.Add(2*time.Hour), time.Hour, 256)
		if err != nil {
			t.Fatal(err)
		}
		return n, cost(before, settled(t, c)).Requests
	}()
	if n.Removed != 2 || later != 256+1 {
		t.Fatalf("two hours later: %+v in %d requests, want 2 removed in one multi after the listings", n, later)
	}
	if ages.Len() != 0 {
		t.Fatalf("%d keys remembered after they went", ages.Len())
	}
}
