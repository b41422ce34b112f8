package paddock_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/zkclient"
)

func TestSubmitWaitCollect(t *testing.T) {
	c, _ := deploy(t)
	ctx := ctxT(t)
	id, err := c.Submit(ctx, paddock.Task{Kind: "echo", Payload: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := paddock.ParseID(string(id)); err != nil {
		t.Fatalf("Submit returned %q: %v", id, err)
	}
	r, err := c.Wait(ctx, id)
	if err != nil || r.Status != paddock.Succeeded || r.Output != "hello" || r.ID != id || r.Worker != "w1" || r.Attempts != 1 {
		t.Fatalf("Wait: %+v, %v", r, err)
	}
	if again, err := c.Result(ctx, id); err != nil || again.Output != "hello" {
		t.Fatalf("Result before Collect: %+v, %v", again, err)
	}
	if err := c.Collect(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Result(ctx, id); !errors.Is(err, paddock.ErrUnknownTask) {
		t.Fatalf("Result after Collect: %v, want ErrUnknownTask", err)
	}
	if _, err := c.Wait(ctx, id); !errors.Is(err, paddock.ErrUnknownTask) {
		t.Fatalf("Wait after Collect: %v, want ErrUnknownTask", err)
	}
	if err := c.Collect(ctx, r); err != nil {
		t.Fatalf("collecting twice: %v", err)
	}

	id, r, err = c.SubmitAndWait(ctx, paddock.Task{Kind: "fail", Payload: []byte("no")})
	if err != nil || r.ID != id || r.Status != paddock.Failed || r.Error == "" {
		t.Fatalf("SubmitAndWait of a failing task: %s %+v, %v", id, r, err)
	}
}

func TestCancel(t *testing.T) {
	c, _ := deploy(t)
	ctx := ctxT(t)
	id, err := c.Submit(ctx, paddock.Task{Kind: "sleep", Payload: []byte("60")})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the task to run", func() bool {
		in, err := c.Inspect(ctx, id, 0)
		return err == nil && in.State == paddock.StateRunning
	})
	if _, err := c.Result(ctx, id); !errors.Is(err, paddock.ErrNotFinished) {
		t.Fatalf("Result of a running task: %v, want ErrNotFinished", err)
	}
	r, err := c.Cancel(ctx, id)
	if err != nil || r.Status != paddock.Cancelled || !strings.Contains(r.Error, "cancelled by client ") {
		t.Fatalf("Cancel: %+v, %v", r, err)
	}
	if r, err := c.Cancel(ctx, id); !errors.Is(err, paddock.ErrFinished) || r.Status != paddock.Cancelled {
		t.Fatalf("second Cancel: %+v, %v; want ErrFinished with the cancelled result", r, err)
	}
	if r, err := c.Wait(ctx, id); err != nil || r.Status != paddock.Cancelled {
		t.Fatalf("Wait after Cancel: %+v, %v", r, err)
	}
	unknown := paddock.ID("0000000000000000000a")
	if _, err := c.Cancel(ctx, unknown); !errors.Is(err, paddock.ErrUnknownTask) {
		t.Fatalf("Cancel of an unknown task: %v", err)
	}
}

func TestSubmitManyRunsEveryTask(t *testing.T) {
	c, _ := deploy(t)
	ctx := ctxT(t)
	tasks := make([]paddock.Task, 40)
	for i := range tasks {
		tasks[i] = paddock.Task{Kind: "echo", Payload: []byte(fmt.Sprint(i))}
	}
	ids, err := c.SubmitMany(ctx, tasks)
	if err != nil || len(ids) != len(tasks) {
		t.Fatalf("SubmitMany: %d ids, %v", len(ids), err)
	}
	seen := map[paddock.ID]bool{}
	for i, id := range ids {
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
		r, err := c.Wait(ctx, id)
		if err != nil || r.Output != fmt.Sprint(i) {
			t.Fatalf("task %d: %+v, %v", i, r, err)
		}
	}
}

// Nothing is written when any task of a call is refused, or the payload
// is too large: the tree's submitted count stays 0.
func TestValidationBeforeAnyWrite(t *testing.T) {
	c := initialized(t)
	ctx := ctxT(t)
	big := make([]byte, paddock.DefaultMaxPayload+1)
	for _, tc := range []struct {
		task paddock.Task
		want error
		says string
	}{
		{paddock.Task{Kind: "Not A Kind"}, paddock.ErrBadTask, "Kind"},
		{paddock.Task{Kind: "echo", Timeout: -time.Second}, paddock.ErrBadTask, "Timeout"},
		{paddock.Task{Kind: "echo", RoutingTimeout: -1}, paddock.ErrBadTask, "RoutingTimeout"},
		{paddock.Task{Kind: "echo", MaxAttempts: 1001}, paddock.ErrBadTask, "MaxAttempts"},
		{paddock.Task{Kind: "echo", Retry: &paddock.RetryPolicy{MaxRetries: -1}}, paddock.ErrBadTask, "MaxRetries"},
		{paddock.Task{Kind: "echo", Retry: &paddock.RetryPolicy{MaxRetries: 1, Jitter: 1}}, paddock.ErrBadTask, "Jitter"},
		{paddock.Task{Kind: "echo", Retry: &paddock.RetryPolicy{MaxRetries: 1, Multiplier: 0.5}}, paddock.ErrBadTask, "Multiplier"},
		{paddock.Task{Kind: "echo", Retry: &paddock.RetryPolicy{MaxRetries: 1, Initial: time.Hour}}, paddock.ErrBadTask, "Initial"},
		{paddock.Task{Kind: "echo", Payload: big}, paddock.ErrPayloadTooLarge, "524288"},
	} {
		if _, err := c.Submit(ctx, tc.task); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Submit(%+v): %v; want %v naming %s", tc.task, err, tc.want, tc.says)
		}
	}
	ids, err := c.SubmitMany(ctx, []paddock.Task{{Kind: "echo"}, {Kind: "echo", Timeout: -1}})
	if ids != nil || !errors.Is(err, paddock.ErrBadTask) || !strings.Contains(err.Error(), "task 1") {
		t.Errorf("SubmitMany with a bad second task: %v, %v", ids, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Submitted != 0 || st.Pending != 0 {
		t.Fatalf("after refused submissions: submitted %d, pending %d (%v); want nothing written", st.Submitted, st.Pending, err)
	}
}

func TestSubmitManyErrorSaysWhichFailed(t *testing.T) {
	c := initialized(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	ids, err := c.SubmitMany(ctx, []paddock.Task{{Kind: "echo"}, {Kind: "echo"}, {Kind: "echo"}})
	var sme *paddock.SubmitManyError
	if !errors.As(err, &sme) || len(sme.Failed()) != 3 || len(ids) != 3 || !errors.Is(err, context.Canceled) {
		t.Fatalf("SubmitMany with a cancelled context: %v, %v", ids, err)
	}
	if !strings.Contains(err.Error(), "3 of 3 tasks not submitted; task 0: context canceled") {
		t.Errorf("message: %v", err)
	}
}

func TestSubmitToAnUninitializedRoot(t *testing.T) {
	c := newClient(t, rootFor(t))
	ctx := ctxT(t)
	if _, err := c.Submit(ctx, paddock.Task{Kind: "echo"}); !errors.Is(err, paddock.ErrNotInitialized) {
		t.Fatalf("Submit without a tree: %v, want ErrNotInitialized", err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, paddock.Task{Kind: "echo"}); err != nil {
		t.Fatalf("Submit after Init: %v", err)
	}
}

// Every field of a Task reaches the task record as docs/PROTOCOL.md
// defines it.
func TestTaskFieldsReachTheRecord(t *testing.T) {
	c := initialized(t)
	ctx := ctxT(t)
	notBefore := time.Now().Add(time.Hour).Round(time.Millisecond)
	retry := &paddock.RetryPolicy{MaxRetries: 4, Initial: 2 * time.Second, Max: time.Minute, Multiplier: 3, Jitter: 0.1}
	id, err := c.Submit(ctx, paddock.Task{Kind: "echo", Payload: []byte("abc"), Timeout: 1500 * time.Microsecond,
		MaxAttempts: 5, Retry: retry, NotBefore: notBefore, RoutingTimeout: 90 * time.Second, Key: "order-17"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.Inspect(ctx, id, 10)
	if err != nil || in.Spec == nil || in.Payload == nil {
		t.Fatalf("Inspect: %+v, %v", in, err)
	}
	s := in.Spec
	key := sha256.Sum256([]byte("order-17"))
	switch {
	case s.Kind != "echo" || s.Size != 3 || in.Payload.Preview != "abc":
		t.Errorf("kind/payload: %+v %+v", s, in.Payload)
	case s.Timeout() != 2*time.Millisecond:
		t.Errorf("timeout %v: a positive timeout under a millisecond must round up", s.Timeout())
	case s.MaxAttempts != 5 || s.RoutingTimeout() != 90*time.Second:
		t.Errorf("max attempts %d, routing timeout %v", s.MaxAttempts, s.RoutingTimeout())
	case s.Retry == nil || *s.Retry != *retry:
		t.Errorf("retry %+v, want %+v", s.Retry, retry)
	case !s.NotBefore.Equal(notBefore):
		t.Errorf("not before %v, want %v", s.NotBefore, notBefore)
	case s.Key != hex.EncodeToString(key[:]):
		t.Errorf("key %q, want the hex SHA-256 of the caller's key", s.Key)
	case !strings.Contains(s.Client, "/") || s.SubmittedAt.IsZero():
		t.Errorf("client %q submitted at %v", s.Client, s.SubmittedAt)
	}
}

func TestIdempotencyKey(t *testing.T) {
	c := initialized(t)
	ctx := ctxT(t)
	first, err := c.Submit(ctx, paddock.Task{Kind: "echo", Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Submit(ctx, paddock.Task{Kind: "echo", Payload: []byte("other"), Key: "k1"})
	if err != nil || again != first {
		t.Fatalf("second submit with the key: %s, %v; want %s and no error", again, err, first)
	}
	ids, err := c.SubmitMany(ctx, []paddock.Task{{Kind: "echo", Key: "k1"}, {Kind: "echo", Key: "k2"}, {Kind: "echo", Key: "k2"}})
	if err != nil || ids[0] != first || ids[1] == first || ids[2] != ids[1] {
		t.Fatalf("SubmitMany with keys: %v, %v", ids, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Pending != 2 {
		t.Fatalf("pending %d (%v), want 2: one task per key", st.Pending, err)
	}
	long := strings.Repeat("k", paddock.MaxKeyLen+1)
	if _, err := c.Submit(ctx, paddock.Task{Kind: "echo", Key: long}); !errors.Is(err, paddock.ErrBadTask) {
		t.Fatalf("a key of %d bytes: %v, want ErrBadTask", len(long), err)
	}
}

// A task whose workers die under it is dead-lettered; the listing,
// inspection, requeue and purge calls find it and repair it.
func TestDeadLetterListInspectRequeuePurge(t *testing.T) {
	c, d := deploy(t)
	ctx := ctxT(t)
	id, err := c.Submit(ctx, paddock.Task{Kind: "sleep", Payload: []byte("60"), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the task to run", func() bool {
		ls, err := c.List(ctx, paddock.ListOptions{State: paddock.StateRunning})
		return err == nil && len(ls.Tasks) == 1 && ls.Tasks[0].ID == id
	})
	if err := d.worker.stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dead letter", func() bool {
		in, err := c.Inspect(ctx, id, 0)
		return err == nil && in.State == paddock.StateDead
	})
	ls, err := c.List(ctx, paddock.ListOptions{State: paddock.StateDead, Reason: "max-attempts"})
	if err != nil || len(ls.Tasks) != 1 || ls.Tasks[0].ID != id || ls.Tasks[0].Worker != "w1" {
		t.Fatalf("dead letters: %+v, %v", ls, err)
	}
	in, err := c.Inspect(ctx, id, 0)
	if err != nil || in.DeadLetter == nil || in.DeadLetter.Reason != "max-attempts" || in.Result == nil || in.Result.Status != paddock.Dead {
		t.Fatalf("inspection of the dead letter: %+v, %v", in, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Dead != 1 || len(st.RecentDead) != 1 || st.RecentDead[0].ID != string(id) {
		t.Fatalf("status: %+v, %v", st, err)
	}

	if err := c.Requeue(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.Requeue(ctx, id); !errors.Is(err, paddock.ErrNotDead) || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("requeueing a pending task: %v", err)
	}
	if got, err := c.RequeueDead(ctx, "", nil); err != nil || got.Matched != 0 || len(got.Requeued) != 0 {
		t.Fatalf("RequeueDead with no dead letter: %+v, %v", got, err)
	}
	if _, err := c.Cancel(ctx, id); err != nil { // no worker is left: a result to purge
		t.Fatal(err)
	}
	found, err := c.FindPurgeable(ctx, paddock.PurgeOptions{Finished: true, Dead: true, Before: time.Now().Add(time.Minute)})
	if err != nil || len(found) != 1 || found[0].ID != id || found[0].State != paddock.StateFinished || !found[0].Payload {
		t.Fatalf("FindPurgeable: %+v, %v", found, err)
	}
	done, err := c.Purge(ctx, found)
	if err != nil || done.Removed != 1 {
		t.Fatalf("Purge: %+v, %v", done, err)
	}
	if _, err := c.Inspect(ctx, id, 0); !errors.Is(err, paddock.ErrUnknownTask) {
		t.Fatalf("Inspect after Purge: %v, want ErrUnknownTask", err)
	}
}

func TestDialUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	start := time.Now()
	_, err = paddock.Dial(ctxT(t), paddock.Config{Servers: []string{addr}, ConnectTimeout: 300 * time.Millisecond})
	if !errors.Is(err, paddock.ErrUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Dial: %v, want ErrUnreachable naming %s", err, addr)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("gave up after %v with a 300ms connect timeout", took)
	}
	if _, err := paddock.Dial(ctxT(t), paddock.Config{Servers: servers, Root: "no-slash"}); err == nil || !strings.Contains(err.Error(), "Root") {
		t.Fatalf("Dial with a bad root: %v", err)
	}
}

// A Client over a caller's connection leaves it open; every call after
// Close fails with ErrClosed.
func TestCloseAndNew(t *testing.T) {
	zc := dialZK(t)
	c, err := paddock.New(zc, paddock.Config{Root: rootFor(t), Name: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := c.Submit(ctx, paddock.Task{Kind: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	if in, err := c.Inspect(ctx, id, 0); err != nil || in.Spec.Client != "tester" {
		t.Fatalf("the spec's client: %+v, %v; want Config.Name", in.Spec, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Submit(ctx, paddock.Task{Kind: "echo"}); !errors.Is(err, paddock.ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	if _, err := c.Wait(ctx, id); !errors.Is(err, paddock.ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}
	if _, err := zkclient.RetryRead(ctx, zc, func() (bool, error) { return true, zc.Sync(ctx, "/") }); err != nil {
		t.Fatalf("the caller's connection after Close: %v", err)
	}
	if _, err := paddock.New(zc, paddock.Config{MaxPayload: paddock.MaxPayloadLimit + 1}); err == nil {
		t.Fatal("New accepted a MaxPayload over the limit")
	}
}

// A string that is not a task id is refused before it names a znode.
func TestBadIDs(t *testing.T) {
	c := initialized(t)
	ctx := ctxT(t)
	for name, call := range map[string]func() error{
		"Wait":    func() error { _, err := c.Wait(ctx, "nope"); return err },
		"Result":  func() error { _, err := c.Result(ctx, "x"); return err },
		"Collect": func() error { return c.Collect(ctx, paddock.Result{}) },
		"Cancel":  func() error { _, err := c.Cancel(ctx, "../../x"); return err },
		"Inspect": func() error { _, err := c.Inspect(ctx, "0000000000000000000G", 0); return err },
		"Requeue": func() error { return c.Requeue(ctx, "1") },
		"Purge": func() error {
			_, err := c.Purge(ctx, []paddock.Purgeable{{ID: "x", State: paddock.StateDead}})
			return err
		},
	} {
		if err := call(); !errors.Is(err, paddock.ErrBadID) {
			t.Errorf("%s with a bad id: %v, want ErrBadID", name, err)
		}
	}
}
