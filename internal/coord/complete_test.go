package coord_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// retryFixture plays the leader (coord.Leader.Assign, as the master
// assigns) and a worker (coord.ReadAssigned, Queue.Complete) by hand.
type retryFixture struct {
	*fixture
	ld *coord.Leader
}

func newRetryFixture(t *testing.T) *retryFixture {
	f := newFixture(t)
	ld := leaderOf(t, f.c, f.l)
	if err := coord.CreateAssignDir(f.ctx, f.c, f.l, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := coord.CreateAssignDir(f.ctx, f.c, f.l, "w2"); err != nil {
		t.Fatal(err)
	}
	return &retryFixture{f, ld}
}

// submitRetrying submits a task of kind with policy p (nil: none).
func (f *retryFixture) submitRetrying(kind string, p *task.RetryPolicy) task.ID {
	f.t.Helper()
	id := f.id()
	s := spec(kind)
	s.Retry = p
	f.must(f.q.Submit(f.ctx, id, s, []byte("x")))
	return id
}

// take assigns the pending task to w as the leader does and reads the
// assignment as w does.
func (f *retryFixture) take(id task.ID, w string) coord.Assigned {
	f.t.Helper()
	recs, err := f.ld.ReadTasks(f.ctx, []task.ID{id})
	f.must(err)
	rec, ok := recs[id]
	if !ok {
		f.t.Fatalf("task %s is gone", id)
	}
	if rec.Spec.Worker != "" {
		f.t.Fatalf("task %s is not pending: %+v", id, rec.Spec)
	}
	it, err := f.ld.Assign(rec, w, time.Now().UTC())
	f.must(err)
	failed, err := f.ld.Apply(f.ctx, []coord.Item{it})
	f.must(err)
	f.must(failed[0])
	as, err := coord.ReadAssigned(f.ctx, f.c, f.l, w, id)
	f.must(err)
	return as
}

// end completes the assigned task as w with status st (and error msg).
func (f *retryFixture) end(id task.ID, w string, as coord.Assigned, st task.Status, msg string, final bool) (coord.Retried, error) {
	a := as.Assignment
	now := time.Now().UTC()
	r := task.Result{ID: id, Kind: a.Kind, Status: st, Error: msg, Worker: w, Attempts: a.Attempt, Epoch: a.Epoch,
		SubmittedAt: a.SubmittedAt, StartedAt: now, FinishedAt: now, Final: final}
	return f.q.Complete(f.ctx, w, as.Version, a.Retries, r)
}

func (f *retryFixture) spec(id task.ID) task.Spec {
	f.t.Helper()
	s, _, err := f.q.Spec(f.ctx, id)
	f.must(err)
	return s
}

func (f *retryFixture) result(id task.ID) task.Result {
	f.t.Helper()
	r, err := f.q.Result(f.ctx, id)
	f.must(err)
	return r
}

// errorsSay checks the attempts' errors: attempt numbers, workers, texts.
func errorsSay(t *testing.T, what string, got []task.AttemptError, want ...task.AttemptError) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d errors %+v, want %d", what, len(got), got, len(want))
	}
	for i := range want {
		if got[i].Attempt != want[i].Attempt || got[i].Worker != want[i].Worker || got[i].Error != want[i].Error || got[i].At.IsZero() {
			t.Errorf("%s: error %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// A failure with retries left goes back to pending in the "retry" multi:
// no result, the assignment gone, the Spec naming no worker and carrying
// the retry count, the error and not_before; and the shard's child watch
// fires, which is how the leader learns the task is pending again. The
// next assignment carries the retries; the last failure, with no retries
// left, writes a failed result holding every attempt's error.
func TestCompleteRetriesAFailure(t *testing.T) {
	f := newRetryFixture(t)
	p := &task.RetryPolicy{MaxRetries: 2, InitialMS: 60_000, Jitter: 0.1}
	id := f.submitRetrying("email", p)

	as := f.take(id, "w1")
	_, _, watch, err := f.c.ChildrenW(f.ctx, f.l.TaskShard(id.Shard()))
	f.must(err)
	before := time.Now()
	got, err := f.end(id, "w1", as, task.Failed, "smtp: 421", false)
	f.must(err)
	if got.Retry != 1 || got.Delay < 54*time.Second || got.Delay > 66*time.Second {
		t.Errorf("retried %+v, want retry 1 after 60s ± 10%%", got)
	}
	select {
	case ev := <-watch:
		if ev.Type != zk.EventNodeChildrenChanged {
			t.Errorf("shard watch: %v", ev.Type)
		}
	case <-f.ctx.Done():
		t.Fatal("the retry did not fire the shard's child watch")
	}
	s := f.spec(id)
	if s.Worker != "" || s.LastWorker != "w1" || s.Retries != 1 || s.Attempts != 1 || !s.NotBefore.Equal(got.NotBefore) ||
		s.NotBefore.Before(before.Add(got.Delay-time.Second)) || s.NotBefore.After(time.Now().Add(got.Delay)) {
		t.Errorf("spec after the retry: %+v (retried %+v)", s, got)
	}
	errorsSay(t, "spec", s.Errors, task.AttemptError{Attempt: 1, Worker: "w1", Error: "smtp: 421"})
	if ok, _ := f.c.Exists(f.ctx, f.l.Assignment("w1", id)); ok != nil {
		t.Error("the assignment is still there")
	}
	if _, err := f.q.Result(f.ctx, id); !errors.Is(err, coord.ErrNotFinished) {
		t.Errorf("result after a retry: %v, want none", err)
	}
	if s.AttemptLimit() != task.DefaultMaxAttempts+1 {
		t.Errorf("attempt limit %d: a retry must grant one more assignment", s.AttemptLimit())
	}

	as = f.take(id, "w2")
	if as.Assignment.Retries != 1 || as.Assignment.Attempt != 2 {
		t.Errorf("second assignment %+v, want retries 1, attempt 2", as.Assignment)
	}
	if got, err = f.end(id, "w2", as, task.Failed, "smtp: 450", false); err != nil || got.Retry != 2 {
		t.Fatalf("second failure: %+v, %v", got, err)
	}
	as = f.take(id, "w1")
	if got, err = f.end(id, "w1", as, task.Failed, "smtp: 550", false); err != nil || got != (coord.Retried{}) {
		t.Fatalf("third failure, no retries left: %+v, %v; want the result written", got, err)
	}
	r := f.result(id)
	if r.Status != task.Failed || r.Error != "smtp: 550" || r.Attempts != 3 {
		t.Errorf("result %+v", r)
	}
	errorsSay(t, "result", r.Errors, task.AttemptError{Attempt: 1, Worker: "w1", Error: "smtp: 421"},
		task.AttemptError{Attempt: 2, Worker: "w2", Error: "smtp: 450"}, task.AttemptError{Attempt: 3, Worker: "w1", Error: "smtp: 550"})
}

// A success after retries carries the earlier errors; a task that ran once
// has none (its error, if any, says it all).
func TestCompleteSuccessAfterRetry(t *testing.T) {
	f := newRetryFixture(t)
	id := f.submitRetrying("email", &task.RetryPolicy{MaxRetries: 3, InitialMS: 1})
	if _, err := f.end(id, "w1", f.take(id, "w1"), task.Failed, "flaky", false); err != nil {
		t.Fatal(err)
	}
	if got, err := f.end(id, "w2", f.take(id, "w2"), task.Succeeded, "", false); err != nil || got.Retry != 0 {
		t.Fatalf("success: %+v, %v", got, err)
	}
	r := f.result(id)
	if r.Status != task.Succeeded || r.Attempts != 2 {
		t.Errorf("result %+v", r)
	}
	errorsSay(t, "result", r.Errors, task.AttemptError{Attempt: 1, Worker: "w1", Error: "flaky"})

	once := f.submitRetrying("email", nil)
	if _, err := f.end(once, "w1", f.take(once, "w1"), task.Failed, "no policy", false); err != nil {
		t.Fatal(err)
	}
	if r := f.result(once); r.Status != task.Failed || len(r.Errors) != 0 {
		t.Errorf("a task that ran once: %+v", r)
	}
}

// A failure the worker marks final (SkipRetry, a missing payload) is not
// retried, whatever the policy.
func TestCompleteFinalFailureIsNotRetried(t *testing.T) {
	f := newRetryFixture(t)
	id := f.submitRetrying("email", &task.RetryPolicy{MaxRetries: 3})
	got, err := f.end(id, "w1", f.take(id, "w1"), task.Failed, "bad address", true)
	if err != nil || got.Retry != 0 {
		t.Fatalf("final failure: %+v, %v", got, err)
	}
	if r := f.result(id); r.Status != task.Failed || r.Error != "bad address" {
		t.Errorf("result %+v", r)
	}
}

// A task without a policy of its own takes its kind's default, asked at
// the failure; another kind without one is not retried.
func TestCompleteKindDefault(t *testing.T) {
	f := newRetryFixture(t)
	asked := []string{}
	f.q.WithRetryDefaults(func(kind string) *task.RetryPolicy {
		asked = append(asked, kind)
		if kind == "email" {
			return &task.RetryPolicy{MaxRetries: 1, InitialMS: 1}
		}
		return nil
	})
	email := f.submitRetrying("email", nil)
	if got, err := f.end(email, "w1", f.take(email, "w1"), task.Failed, "down", false); err != nil || got.Retry != 1 {
		t.Fatalf("email failure: %+v, %v; want retried by the kind's default", got, err)
	}
	if s := f.spec(email); s.Retries != 1 || s.Retry != nil {
		t.Errorf("spec %+v: want retries 1 and no policy written", s)
	}
	echo := f.submitRetrying("echo", nil)
	if got, err := f.end(echo, "w1", f.take(echo, "w1"), task.Failed, "down", false); err != nil || got.Retry != 0 {
		t.Fatalf("echo failure: %+v, %v; want failed", got, err)
	}
	// The task's own policy wins over the default: none asked for it.
	own := f.submitRetrying("email", &task.RetryPolicy{MaxRetries: 0})
	asked = nil
	if got, err := f.end(own, "w1", f.take(own, "w1"), task.Failed, "down", false); err != nil || got.Retry != 0 || len(asked) != 0 {
		t.Fatalf("own policy of no retries: %+v, %v, defaults asked for %v", got, err, asked)
	}
}

// A task cancelled, or rewritten, while its handler ran: the retry is
// revoked and nothing is written.
func TestCompleteRetryRevoked(t *testing.T) {
	f := newRetryFixture(t)
	p := &task.RetryPolicy{MaxRetries: 3}
	cancelled := f.submitRetrying("email", p)
	as := f.take(cancelled, "w1")
	if _, err := f.q.Cancel(f.ctx, cancelled, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.end(cancelled, "w1", as, task.Failed, "late", false); !errors.Is(err, coord.ErrRevoked) {
		t.Errorf("failure of a cancelled task: %v, want ErrRevoked", err)
	}
	if r := f.result(cancelled); r.Status != task.Cancelled {
		t.Errorf("result %+v, want the cancel's", r)
	}

	// The assignment rewritten under the worker (BadVersion on its
	// delete): the task is no longer this execution's to retry.
	moved := f.submitRetrying("email", p)
	as = f.take(moved, "w1")
	if _, err := f.c.Set(f.ctx, f.l.Assignment("w1", moved), []byte(`{"kind":"email","attempt":9}`), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.end(moved, "w1", as, task.Failed, "late", false); !errors.Is(err, coord.ErrRevoked) {
		t.Errorf("failure under a rewritten assignment: %v, want ErrRevoked", err)
	}
	if s := f.spec(moved); s.Retries != 0 || s.Worker != "w1" {
		t.Errorf("spec %+v changed by a revoked retry", s)
	}
}

// A "retry" whose reply was lost and whose resend is refused: the worker
// tells its own landed retry (its error in the task's errors, or in the
// result's once the task finished) from a revocation, and says so when
// the task and its result are both gone.
func TestRetryLandedAfterALostReply(t *testing.T) {
	f := newRetryFixture(t)
	id := f.submitRetrying("email", &task.RetryPolicy{MaxRetries: 1, InitialMS: 1})
	as := f.take(id, "w1")
	if _, err := f.end(id, "w1", as, task.Failed, "first", false); err != nil {
		t.Fatal(err)
	}
	mine := f.spec(id).Errors[0]
	other := mine
	other.Attempt = 7
	for _, tc := range []struct {
		e    task.AttemptError
		want bool
	}{{mine, true}, {other, false}} {
		if ok, err := f.q.RetryLanded(f.ctx, id, tc.e); ok != tc.want || err != nil {
			t.Errorf("pending task, error %+v: landed %v, %v; want %v", tc.e, ok, err, tc.want)
		}
	}
	// Finished since: the result's errors tell.
	if _, err := f.end(id, "w2", f.take(id, "w2"), task.Succeeded, "", false); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.q.RetryLanded(f.ctx, id, mine); !ok || err != nil {
		t.Errorf("finished task: landed %v, %v; want true", ok, err)
	}
	// Collected: nobody can tell.
	f.must(f.q.Collect(f.ctx, id, task.Succeeded))
	if ok, err := f.q.RetryLanded(f.ctx, id, mine); ok || !errors.Is(err, coord.ErrOutcomeUnknown) {
		t.Errorf("collected task: landed %v, %v; want ErrOutcomeUnknown", ok, err)
	}
}

// A small payload travels in the Spec and the Assignment: the worker reads
// the assignment alone (one request, not two). A larger one, or a task
// whose Spec lacks the copy (another client, an older master), is read
// from data/ as before. A retry keeps the copy.
func TestSmallPayloadsTravelInTheAssignment(t *testing.T) {
	f := newRetryFixture(t)
	large := strings.Repeat("p", task.InlineMax+1)
	for _, c := range []struct {
		name, payload string
		reads         int64
	}{
		{"small", "hello", 1},
		{"empty", "", 1},
		{"at the limit", large[:task.InlineMax], 1},
		{"larger", large, 2},
	} {
		id := f.id()
		s := spec("echo")
		s.Retry = &task.RetryPolicy{MaxRetries: 1, InitialMS: 1}
		f.must(f.q.Submit(f.ctx, id, s, []byte(c.payload)))
		if got := f.spec(id).Payload; (got != nil) != (c.reads == 1) {
			t.Errorf("%s: the Spec's copy is %q (present %v)", c.name, got, got != nil)
		}
		before := f.c.Stats().Requests
		as := f.take(id, "w1")
		// take also reads the task and applies the multi: 2 requests.
		if n := f.c.Stats().Requests - before - 2; n != c.reads {
			t.Errorf("%s: the worker read %d znodes, want %d", c.name, n, c.reads)
		}
		if string(as.Payload) != c.payload || as.NoPayload {
			t.Errorf("%s: payload %q (missing %v), want %q", c.name, as.Payload, as.NoPayload, c.payload)
		}
		if _, err := f.end(id, "w1", as, task.Failed, "try again", false); err != nil {
			t.Fatal(err)
		}
		if got := f.spec(id).Payload; (got != nil) != (c.reads == 1) || (got != nil && string(got) != c.payload) {
			t.Errorf("%s: after a retry the Spec's copy is %q (present %v)", c.name, got, got != nil)
		}
	}
	// A Spec without the copy, as a client of another language may write:
	// the worker reads data/.
	id := f.id()
	f.must(f.q.Submit(f.ctx, id, spec("echo"), []byte("hi")))
	s, st, err := f.q.Spec(f.ctx, id)
	f.must(err)
	s.Payload = nil
	b, err := task.Encode(s)
	f.must(err)
	_, err = f.c.Set(f.ctx, f.l.Task(id), b, st.Version)
	f.must(err)
	if as := f.take(id, "w2"); string(as.Payload) != "hi" || as.Assignment.Payload != nil {
		t.Errorf("without the copy: payload %q, the assignment's %q", as.Payload, as.Assignment.Payload)
	}
}
