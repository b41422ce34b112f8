package coord_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

func spec(kind string) task.Spec {
	return task.Spec{Kind: kind, SubmittedAt: time.Now().UTC()}
}

func TestSubmitWaitCollect(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 0)
	id := task.NewID(time.Now())
	if err := q.Submit(ctx, id, spec("echo"), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Result(ctx, id); !errors.Is(err, coord.ErrNotFinished) {
		t.Fatalf("before completion: %v", err)
	}
	got := make(chan task.Result, 1)
	go func() {
		r, err := q.Wait(ctx, id)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	// Play the master and the worker by hand.
	if _, err := c.Create(ctx, l.AssignDir("w"), nil, zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	s, st, err := q.Spec(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s.Attempts, s.Worker = 1, "w"
	ops, err := q.AssignOps(id, st.Version, s, task.Assignment{Kind: "echo", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	_, ast, _ := c.Get(ctx, l.Assignment("w", id))
	r := task.Result{ID: id, Kind: "echo", Status: task.Succeeded, Output: "hi", Worker: "w", Attempts: 1, FinishedAt: time.Now()}
	if _, err := q.Complete(ctx, "w", ast.Version, 0, r); err != nil {
		t.Fatal(err)
	}
	// A second completion of the same task is dropped.
	if _, err := q.Complete(ctx, "w", ast.Version, 0, r); !errors.Is(err, coord.ErrRevoked) {
		t.Fatalf("duplicate completion: %v", err)
	}
	select {
	case r := <-got:
		if r.Status != task.Succeeded || r.Output != "hi" {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
	}
	if err := q.Collect(ctx, id, task.Succeeded); err != nil {
		t.Fatal(err)
	}
	if err := q.Collect(ctx, id, task.Succeeded); err != nil {
		t.Fatalf("second collect: %v", err)
	}
	if _, err := q.Result(ctx, id); !errors.Is(err, coord.ErrUnknownTask) {
		t.Fatalf("after collect: %v", err)
	}
	for _, p := range []string{l.Task(id), l.Payload(id), l.Result(id), l.Assignment("w", id)} {
		if st, _ := c.Exists(ctx, p); st != nil {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestSubmitRefusesOversizedPayloadWritingNothing(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 1024)
	id := task.NewID(time.Now())
	err := q.Submit(ctx, id, spec("echo"), make([]byte, 1025))
	if !errors.Is(err, coord.ErrPayloadTooLarge) {
		t.Fatalf("got %v", err)
	}
	if st, _ := c.Exists(ctx, l.Payload(id)); st != nil {
		t.Fatal("payload written")
	}
	if err := q.Submit(ctx, id, task.Spec{Kind: "Bad Kind"}, nil); !errors.Is(err, task.ErrMalformed) {
		t.Fatalf("bad kind accepted: %v", err)
	}
}

func TestCancelPendingAndAssigned(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 0)

	pending := task.NewID(time.Now())
	if err := q.Submit(ctx, pending, spec("sleep"), []byte("10")); err != nil {
		t.Fatal(err)
	}
	r, err := q.Cancel(ctx, pending, "test")
	if err != nil || r.Status != task.Cancelled {
		t.Fatalf("cancel pending: %+v %v", r, err)
	}
	if _, err := q.Cancel(ctx, pending, "test"); !errors.Is(err, coord.ErrFinished) {
		t.Fatalf("cancel twice: %v", err)
	}

	assigned := task.NewID(time.Now())
	if err := q.Submit(ctx, assigned, spec("sleep"), []byte("10")); err != nil {
		t.Fatal(err)
	}
	c.Create(ctx, l.AssignDir("w"), nil, zk.FlagPersistent)
	s, st, _ := q.Spec(ctx, assigned)
	s.Attempts, s.Worker = 1, "w"
	ops, _ := q.AssignOps(assigned, st.Version, s, task.Assignment{Kind: "sleep", Attempt: 1})
	if _, err := c.Multi(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Cancel(ctx, assigned, "test"); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Exists(ctx, l.Assignment("w", assigned)); st != nil {
		t.Fatal("the assignment survived the cancel: the worker would not stop")
	}
	if _, err := q.Cancel(ctx, task.NewID(time.Now()), "test"); !errors.Is(err, coord.ErrUnknownTask) {
		t.Fatalf("cancel unknown: %v", err)
	}
}

func TestWaitUnknownTask(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 0)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := q.Wait(wctx, task.NewID(time.Now())); !errors.Is(err, coord.ErrUnknownTask) {
		t.Fatalf("got %v", err)
	}
}

func TestStatusCounts(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 0)
	for range 5 {
		if err := q.Submit(ctx, task.NewID(time.Now()), spec("echo"), nil); err != nil {
			t.Fatal(err)
		}
	}
	st, err := coord.ReadStatus(ctx, c, l)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 5 || st.Running != 0 || st.Leader != nil || len(st.Workers) != 0 {
		t.Fatalf("status %+v", st)
	}
}
