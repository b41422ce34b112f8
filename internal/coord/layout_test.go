package coord_test

import (
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
)

func TestLayoutPaths(t *testing.T) {
	id := task.ID("1a1fdd9a6470b11fcf60")
	for root, want := range map[string]string{
		"/paddock": "/paddock/tasks/60/1a1fdd9a6470b11fcf60",
		"/":        "/tasks/60/1a1fdd9a6470b11fcf60",
		"/a/b":     "/a/b/tasks/60/1a1fdd9a6470b11fcf60",
	} {
		l, err := coord.NewLayout(root)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Task(id); got != want {
			t.Errorf("root %s: Task = %s, want %s", root, got, want)
		}
	}
	l := coord.MustLayout("/")
	for got, want := range map[string]string{
		l.Master(): "/master", l.Workers(): "/workers", l.Payload(id): "/data/60/1a1fdd9a6470b11fcf60",
		l.Assignment("w1", id): "/assign/w1/1a1fdd9a6470b11fcf60", l.Result(id): "/results/60/1a1fdd9a6470b11fcf60",
		l.DeadLetter(id): "/dead/60/1a1fdd9a6470b11fcf60", l.Epoch(): "/epoch",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	for _, bad := range []string{"", "paddock", "/a//b", "/a/"} {
		if _, err := coord.NewLayout(bad); err == nil && bad != "/a/" {
			t.Errorf("NewLayout(%q) accepted", bad)
		}
	}
}

func TestEnsureLayoutIsIdempotentAndConcurrent(t *testing.T) {
	c1, c2 := dial(t, shared.Addr()), dial(t, shared.Addr())
	l := rootFor(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := c1
			if i%2 == 1 {
				c = c2
			}
			errs[i] = coord.EnsureLayout(ctxT(t), c, l)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, parent := range []string{l.Tasks(), l.Data(), l.Results(), l.Dead(), l.Keys()} {
		names, _, err := c1.Children(ctxT(t), parent)
		if err != nil || len(names) != 256 {
			t.Fatalf("%s: %d shards, err %v", parent, len(names), err)
		}
	}
	if err := coord.EnsureLayout(ctxT(t), c1, l); err != nil {
		t.Fatal(err)
	}
}

// TestEnsureLayoutRidesOutConnectionLoss: a master or worker prepares the
// tree right after it connects; a connection lost meanwhile (the ensemble
// electing a leader, found by the soak) must not make it give up: it
// waits for the connection, as everything else does, and carries on.
func TestEnsureLayoutRidesOutConnectionLoss(t *testing.T) {
	p, c := proxied(t)
	l := rootFor(t)
	deleteTree(t, dial(t, shared.Addr()), l.Root())
	p.Blackhole() // the first create goes out and is never answered
	done := make(chan error, 1)
	go func() { done <- coord.EnsureLayout(ctxT(t), c, l) }()
	zktest.Eventually(t, 10*time.Second, "the client to notice the lost connection", func() bool { return !c.Connected() })
	p.Restore()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("EnsureLayout gave up on a connection loss: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("EnsureLayout did not return within 30 s of the link healing")
	}
	names, _, err := c.Children(ctxT(t), l.Results())
	if err != nil || len(names) != 256 {
		t.Fatalf("%s: %d shards, err %v", l.Results(), len(names), err)
	}
}

func BenchmarkLayoutPaths(b *testing.B) {
	l := coord.MustLayout("/paddock")
	id := task.NewID(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Task(id)
		_ = l.Payload(id)
		_ = l.Assignment("worker-1", id)
		_ = l.Result(id)
	}
}
