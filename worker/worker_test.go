package worker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/worker"
)

func TestHandlerGetsTheTaskAndReturnsTheOutput(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	seen := make(chan worker.Task, 1)
	w.Handle("describe", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		seen <- *tk
		return append([]byte("seen \xff "), tk.Payload...), nil
	})
	e.start(w)
	id := e.submit("describe", "hello", timeout(time.Minute))
	r := e.wait(id)
	if r.Status != task.Succeeded || r.Output != "seen \uFFFD hello" || r.Worker != "w" || r.Kind != "describe" {
		t.Errorf("result %+v, want succeeded on w with the output as text (invalid bytes as U+FFFD)", r)
	}
	tk := <-seen
	if tk.ID != string(id) || tk.Kind != "describe" || string(tk.Payload) != "hello" || tk.Attempt != 1 || tk.Retries != 0 ||
		!tk.SubmittedAt.Equal(id.SubmittedAt()) {
		t.Errorf("task %+v, want id %s, kind describe, payload hello, attempt 1, no retries, submitted at %v", tk, id, id.SubmittedAt())
	}
	if early, late := r.StartedAt.Add(time.Minute-time.Second), r.FinishedAt.Add(time.Minute); tk.Deadline.Before(early) || tk.Deadline.After(late) {
		t.Errorf("deadline %v, want the minute's timeout from its start %v", tk.Deadline, r.StartedAt)
	}
}

// Only workers that advertise a kind get its tasks: each advertises the
// kinds it has handlers for.
func TestKindsAreAdvertisedAndRouted(t *testing.T) {
	e := newEnv(t)
	for _, kind := range []string{"alpha", "beta"} {
		w := e.newWorker(e.config("w-" + kind))
		w.Handle(kind, func(context.Context, *worker.Task) ([]byte, error) { return []byte(kind), nil })
		e.start(w)
	}
	zktest.Eventually(t, 10*time.Second, "both workers registered with their kinds", func() bool {
		st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
		if err != nil || len(st.Workers) != 2 {
			return false
		}
		for _, ws := range st.Workers {
			if !slices.Equal(ws.Kinds, []string{strings.TrimPrefix(ws.Name, "w-")}) {
				t.Fatalf("worker %s advertises %v", ws.Name, ws.Kinds)
			}
		}
		return true
	})
	for range 3 {
		for _, kind := range []string{"alpha", "beta"} {
			if r := e.wait(e.submit(kind, "")); r.Worker != "w-"+kind || r.Output != kind {
				t.Errorf("a %s task ran on %s (output %q)", kind, r.Worker, r.Output)
			}
		}
	}
}

func TestHandlerErrorFailsTheTask(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	w.Handle("write", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		if string(tk.Payload) == "skip" {
			return nil, worker.SkipRetry(errors.New("no such bucket"))
		}
		return []byte("partial"), errors.New("disk full")
	})
	e.start(w)
	if r := e.wait(e.submit("write", "")); r.Status != task.Failed || r.Error != "disk full" || r.Output != "partial" {
		t.Errorf("result %+v, want failed with the handler's error and what it output", r)
	}
	// SkipRetry changes nothing written: the error reads as the handler's.
	if r := e.wait(e.submit("write", "skip")); r.Status != task.Failed || r.Error != "no such bucket" {
		t.Errorf("result %+v, want failed with the error inside SkipRetry", r)
	}
}

func TestPanicFailsTheTaskNotTheWorker(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	w.Handle("parse", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		// A bug: short payloads index out of range.
		return tk.Payload[:5], nil
	})
	e.start(w)
	r := e.wait(e.submit("parse", "bad"))
	if r.Status != task.Failed || r.Error != `task kind "parse" panicked: runtime error: slice bounds out of range [:5] with capacity 3` {
		t.Errorf("result %+v, want failed with the panic's message", r)
	}
	if r := e.wait(e.submit("parse", "a long enough payload")); r.Status != task.Succeeded || r.Worker != "w" {
		t.Errorf("after the panic: %+v, want the same worker still running tasks", r)
	}
}

func TestTimeoutFailsTheTask(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	cause := make(chan error, 1)
	w.Handle("hang", func(ctx context.Context, _ *worker.Task) ([]byte, error) {
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	e.start(w)
	r := e.wait(e.submit("hang", "", timeout(300*time.Millisecond)))
	if r.Status != task.Failed || r.Error != "timed out after 300ms" {
		t.Errorf("result %+v, want failed: timed out after 300ms", r)
	}
	if err := <-cause; !errors.Is(err, worker.ErrTimeout) {
		t.Errorf("the handler's ctx ended with %v, want ErrTimeout", err)
	}
}

func TestCancelCancelsTheHandler(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	started := newSignal()
	cause := make(chan error, 1)
	w.Handle("hang", func(ctx context.Context, _ *worker.Task) ([]byte, error) {
		started.fire()
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	e.start(w)
	id := e.submit("hang", "")
	started.await(t, "the handler to start")
	if _, err := e.q.Cancel(context.Background(), id, "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-cause:
		if !errors.Is(err, worker.ErrWithdrawn) {
			t.Errorf("the handler's ctx ended with %v, want ErrWithdrawn", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's ctx was not cancelled")
	}
	if r := e.wait(id); r.Status != task.Cancelled || r.Error != "cancelled by test" {
		t.Errorf("result %+v, want the cancel's", r)
	}
}

func TestMiddlewareWrapsEveryKind(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	tag := func(name string) worker.Middleware {
		return func(next worker.HandlerFunc) worker.HandlerFunc {
			return func(ctx context.Context, tk *worker.Task) ([]byte, error) {
				out, err := next(ctx, tk)
				return []byte(name + "(" + string(out) + ")"), err
			}
		}
	}
	w.Use(tag("a"), tag("b"))
	w.Handle("echo", worker.Echo)
	w.Handle("fail", worker.Fail)
	e.start(w)
	if r := e.wait(e.submit("echo", "x")); r.Output != "a(b(x))" {
		t.Errorf("echo: %+v, want output a(b(x))", r)
	}
	if r := e.wait(e.submit("fail", "y")); r.Output != "a(b())" || r.Status != task.Failed {
		t.Errorf("fail: %+v, want failed with output a(b())", r)
	}
}

// On shutdown a task that finishes within the drain timeout completes; one
// that does not is cancelled (ErrShutdown) and left to another worker.
func TestDrainLetsTasksFinishThenAbandonsTheRest(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("w1")
	cfg.DrainTimeout = 500 * time.Millisecond
	w1 := e.newWorker(cfg)
	stopping := newSignal()
	started := map[string]signal{"finish": newSignal(), "stuck": newSignal()}
	cause := make(chan error, 1)
	w1.Handle("hold", func(ctx context.Context, tk *worker.Task) ([]byte, error) {
		started[string(tk.Payload)].fire()
		if string(tk.Payload) == "finish" {
			<-stopping.ch
			return []byte("finished in the drain"), nil
		}
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	stop := e.start(w1)
	finish, stuck := e.submit("hold", "finish"), e.submit("hold", "stuck")
	for name, s := range started {
		s.await(t, name+" to start")
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// The drain has begun once the worker says it is draining.
	zktest.Eventually(t, 10*time.Second, "w1 to advertise it is draining", func() bool {
		st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
		return err == nil && len(st.Workers) == 1 && st.Workers[0].Draining
	})
	stopping.fire()
	<-stopped
	if r := e.wait(finish); r.Status != task.Succeeded || r.Worker != "w1" {
		t.Errorf("the task that finished in the drain: %+v, want succeeded on w1", r)
	}
	if err := <-cause; !errors.Is(err, worker.ErrShutdown) {
		t.Errorf("the stuck handler's ctx ended with %v, want ErrShutdown", err)
	}
	if _, err := e.q.Result(context.Background(), stuck); !errors.Is(err, coord.ErrNotFinished) {
		t.Errorf("the abandoned task's result: %v, want none yet", err)
	}
	w2 := e.newWorker(e.config("w2"))
	w2.Handle("hold", worker.Echo)
	e.start(w2)
	if r := e.wait(stuck); r.Status != task.Succeeded || r.Worker != "w2" || r.Attempts != 2 {
		t.Errorf("the abandoned task: %+v, want succeeded on w2, attempt 2", r)
	}
}

// The retry.<kind> settings of the distributed config are each kind's
// default retry policy, live.
func TestRetryDefaultsFollowTheConfig(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	w.Handle("echo", worker.Echo)
	e.start(w)
	cfg := coord.PaddockConfig(e.ctl, e.l)
	ctx := context.Background()
	if err := cfg.Set(ctx, "retry.echo", `{"max_retries":4,"initial_ms":100}`, ""); err != nil {
		t.Fatal(err)
	}
	zktest.Eventually(t, 10*time.Second, "the echo policy", func() bool {
		p := worker.RetryPolicy(w, "echo")
		return p != nil && *p == task.RetryPolicy{MaxRetries: 4, InitialMS: 100}
	})
	// The worker's own override wins.
	if err := cfg.Set(ctx, "retry.echo", "1", "w"); err != nil {
		t.Fatal(err)
	}
	zktest.Eventually(t, 10*time.Second, "w's own echo policy", func() bool {
		p := worker.RetryPolicy(w, "echo")
		return p != nil && *p == task.RetryPolicy{MaxRetries: 1}
	})
	if p := worker.RetryPolicy(w, "sleep"); p != nil {
		t.Errorf("sleep has a policy %+v; none was set", p)
	}
}
