package master_test

import (
	"context"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// submitKeyed submits a task with key, as submitted at.
func (e *env) submitKeyed(key string, at time.Time) task.ID {
	e.t.Helper()
	id := task.NewID(at)
	s := task.Spec{Kind: "echo", SubmittedAt: at.UTC(), Key: coord.KeyName(key)}
	if err := e.q.Submit(context.Background(), id, s, nil); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) exists(p string) bool {
	e.t.Helper()
	st, err := e.ctl.Exists(context.Background(), p)
	if err != nil {
		e.t.Fatal(err)
	}
	return st != nil
}

// requests is what c sent between two points, once the server has answered
// all of it (a Sync flushes the connection; it is not counted).
func requests(t *testing.T, c *zkclient.Client, f func()) int64 {
	t.Helper()
	before := c.Stats().Requests
	f()
	if err := c.Sync(context.Background(), "/"); err != nil {
		t.Fatal(err)
	}
	return c.Stats().Requests - before - 1
}

// The leader's sweep frees a key older than the retention, keeps a fresh
// one, and reads each key once in its term: a later sweep does not read
// the keys it has seen.
func TestSweepFreesOldKeysAndReadsEachOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sess, err := e.ctl.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cand, err := recipe.NewLeaderQueue(e.ctl, e.l.Master()).Join(ctx, sess, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cand.Lead(ctx, nil); err != nil {
		t.Fatal(err)
	}
	fence, err := coord.TakeOver(ctx, e.ctl, e.l, cand, "m1", coord.AllPartitions())
	if err != nil {
		t.Fatal(err)
	}
	const retention = 50 * time.Millisecond
	sweep, err := master.Sweeper(ctx, e.ctl, e.l, fence, retention, e.logger("m1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.submitKeyed("old", now.Add(-time.Second))
	e.submitKeyed("fresh", now)
	for i := range 20 {
		e.submitKeyed(string(rune('a'+i)), now)
	}
	first := requests(t, e.ctl, func() {
		if _, err := sweep(now); err != nil {
			t.Fatal(err)
		}
	})
	if e.exists(e.l.Key(coord.KeyName("old"))) {
		t.Fatal("the key older than the retention is still there")
	}
	if !e.exists(e.l.Key(coord.KeyName("fresh"))) {
		t.Fatal("the fresh key went")
	}
	second := requests(t, e.ctl, func() {
		if _, err := sweep(now); err != nil {
			t.Fatal(err)
		}
	})
	// The first read the 22 keys and removed one (one multi); the second
	// lists the same shards and reads nothing.
	t.Logf("first sweep %d requests, second %d", first, second)
	if first-second != 22+1 {
		t.Fatalf("first sweep %d requests, second %d: want the second to read no key (22 reads and a removal fewer)", first, second)
	}
	// Past the retention by the clock, the rest go without being read again.
	third := requests(t, e.ctl, func() {
		if _, err := sweep(now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	})
	if third != second+1 || e.exists(e.l.Key(coord.KeyName("fresh"))) {
		t.Fatalf("a second later: %d requests (want %d: one removal multi)", third, second+1)
	}
}

// A running master frees keys by its result retention: a key whose task is
// older goes at a sweep; a fresh one stays. (The short dead-letter
// retention only makes it sweep every second.)
func TestMasterFreesKeysByItsRetention(t *testing.T) {
	e := newEnv(t)
	old := e.submitKeyed("old", time.Now().Add(-2*time.Hour))
	e.submitKeyed("fresh", time.Now())
	e.start("m1", shared.Addr(), func(ctx context.Context, c *zkclient.Client) error {
		return master.Run(ctx, c, e.l, master.Config{ID: "m1", Retention: time.Hour, DeadRetention: 4 * time.Second, Logger: e.logger("m1")})
	})
	zktest.Eventually(t, 15*time.Second, "the old key to be freed", func() bool { return !e.exists(e.l.Key(coord.KeyName("old"))) })
	if !e.exists(e.l.Key(coord.KeyName("fresh"))) {
		t.Fatal("the fresh key went")
	}
	if !e.exists(e.l.Task(old)) {
		t.Fatal("the key's task went with it")
	}
}
