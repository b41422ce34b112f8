package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/worker"
	"github.com/prometheus/client_golang/prometheus"
)

func retry(p task.RetryPolicy) func(*task.Spec) {
	return func(s *task.Spec) { s.Retry = &p }
}

// A handler that fails twice then succeeds: the task runs three times, the
// handler sees the retries so far, and the result is the success carrying
// both earlier errors. Each failure is counted as retried, not failed.
func TestFailedTaskIsRetried(t *testing.T) {
	e := newEnv(t)
	m := worker.NewMetrics()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	cfg := e.config("w")
	cfg.Metrics = m
	w := e.newWorker(cfg)
	var (
		mu   sync.Mutex
		seen []int // Task.Retries of each run
	)
	w.Handle("flaky", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		mu.Lock()
		seen = append(seen, tk.Retries)
		mu.Unlock()
		if tk.Retries < 2 {
			return nil, fmt.Errorf("try %d failed", tk.Retries+1)
		}
		return []byte("done"), nil
	})
	e.start(w)
	id := e.submit("flaky", "", retry(task.RetryPolicy{MaxRetries: 3, InitialMS: 50}))
	r := e.wait(id)
	if r.Status != task.Succeeded || r.Output != "done" || r.Attempts != 3 {
		t.Errorf("result %+v, want succeeded at the third attempt", r)
	}
	if len(r.Errors) != 2 || r.Errors[0].Error != "try 1 failed" || r.Errors[1].Error != "try 2 failed" ||
		r.Errors[0].Attempt != 1 || r.Errors[1].Attempt != 2 || r.Errors[0].Worker != "w" {
		t.Errorf("result errors %+v, want the two failures", r.Errors)
	}
	mu.Lock()
	if fmt.Sprint(seen) != "[0 1 2]" {
		t.Errorf("the handler saw retries %v, want [0 1 2]", seen)
	}
	mu.Unlock()
	// The worker counts a task once its completion has landed, which is
	// when the result can be read: the count may come a moment after.
	for status, want := range map[string]float64{worker.StatusRetried: 2, string(task.Succeeded): 1, string(task.Failed): 0} {
		zktest.Eventually(t, 10*time.Second, fmt.Sprintf("tasks_total{flaky,%s} == %v", status, want), func() bool {
			v, _, err := ops.Value(reg, "paddock_worker_tasks_total", "kind", "flaky", "status", status)
			if err != nil {
				t.Fatal(err)
			}
			return v == want
		})
	}
}

// A panic is a failure like any other: retried while retries are left,
// and the result lists every panic once they are used up. Retries do not
// use up max_attempts (here 1): the task fails, it is not dead-lettered.
func TestPanicIsRetried(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	w.Handle("parse", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		return tk.Payload[:5], nil // panics on a short payload, every time
	})
	e.start(w)
	r := e.wait(e.submit("parse", "bad", retry(task.RetryPolicy{MaxRetries: 1, InitialMS: 10}), func(s *task.Spec) { s.MaxAttempts = 1 }))
	if r.Status != task.Failed || r.Attempts != 2 || len(r.Errors) != 2 {
		t.Fatalf("result %+v, want failed after one retry with both panics", r)
	}
	for _, ae := range r.Errors {
		if ae.Error != r.Error {
			t.Errorf("attempt error %q, want the panic's %q", ae.Error, r.Error)
		}
	}
}

// SkipRetry fails the task at once, whatever its retries; the kind's
// default (retry.<kind>) retries a task submitted without a policy.
func TestSkipRetryAndKindDefault(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	runs := map[string]int{}
	var mu sync.Mutex
	w.Handle("write", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		mu.Lock()
		runs[string(tk.Payload)]++
		mu.Unlock()
		if string(tk.Payload) == "skip" {
			return nil, worker.SkipRetry(errors.New("no such bucket"))
		}
		return nil, errors.New("disk full")
	})
	e.start(w)
	if r := e.wait(e.submit("write", "skip", retry(task.RetryPolicy{MaxRetries: 5, InitialMS: 1}))); r.Status != task.Failed || r.Attempts != 1 {
		t.Errorf("SkipRetry: %+v, want failed at the first attempt", r)
	}
	if err := coord.PaddockConfig(e.ctl, e.l).Set(context.Background(), "retry.write", "max=2,initial=1ms", ""); err != nil {
		t.Fatal(err)
	}
	zktest.Eventually(t, 10*time.Second, "the write policy in force", func() bool { return worker.RetryPolicy(w, "write") != nil })
	if r := e.wait(e.submit("write", "default")); r.Status != task.Failed || r.Attempts != 3 || len(r.Errors) != 3 {
		t.Errorf("kind default: %+v, want failed after two retries", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if runs["skip"] != 1 || runs["default"] != 3 {
		t.Errorf("runs %v", runs)
	}
}

// The worker that failed a task dies (its connection cut, its session
// left to expire: kill -9 as ZooKeeper sees it) while the task waits for
// its retry: nothing of the task depended on it. The task runs on another
// worker, no earlier than its not_before, and the result keeps the dead
// worker's error.
func TestRetryOutlivesItsWorker(t *testing.T) {
	e := newEnv(t)
	p := zktest.NewProxy(t, shared.Addr())
	cfg1 := e.config("w1")
	cfg1.ZK.Servers = []string{p.Addr()}
	w1 := e.newWorker(cfg1)
	failed := newSignal()
	w1.Handle("flaky", func(context.Context, *worker.Task) ([]byte, error) {
		failed.fire()
		return nil, errors.New("w1 broke")
	})
	e.start(w1)
	t.Cleanup(p.Restore) // before w1 is stopped: its Run then ends cleanly
	id := e.submit("flaky", "", retry(task.RetryPolicy{MaxRetries: 1, InitialMS: 2000, Jitter: 0.01}))
	failed.await(t, "the first run, on w1")
	var spec task.Spec
	zktest.Eventually(t, 10*time.Second, "the task pending again for its retry", func() bool {
		s, _, err := e.q.Spec(context.Background(), id)
		spec = s
		return err == nil && s.Retries == 1 && s.Worker == ""
	})
	p.Cut()

	w2 := e.newWorker(e.config("w2"))
	started := make(chan time.Time, 1)
	w2.Handle("flaky", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		started <- time.Now()
		return []byte(fmt.Sprint("retry ", tk.Retries)), nil
	})
	e.start(w2)
	r := e.wait(id)
	if r.Status != task.Succeeded || r.Worker != "w2" || r.Output != "retry 1" {
		t.Errorf("result %+v, want succeeded on w2 at its first retry", r)
	}
	if len(r.Errors) != 1 || r.Errors[0].Worker != "w1" || r.Errors[0].Error != "w1 broke" {
		t.Errorf("errors %+v, want w1's", r.Errors)
	}
	if at := <-started; at.Before(spec.NotBefore) {
		t.Errorf("the retry ran at %v, before its not_before %v", at, spec.NotBefore)
	}
}

// Retried at once (a 1 ms backoff) and given back to the same worker,
// possibly before it has forgotten the failed execution: every task still
// runs to its end.
func TestQuickRetriesOnOneWorker(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	w.Handle("flaky", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		if tk.Retries < 3 {
			return nil, errors.New("not yet")
		}
		return nil, nil
	})
	e.start(w)
	var ids []task.ID
	for range 10 {
		ids = append(ids, e.submit("flaky", "", retry(task.RetryPolicy{MaxRetries: 3, InitialMS: 1, MaxMS: 1})))
	}
	for _, id := range ids {
		if r := e.wait(id); r.Status != task.Succeeded || len(r.Errors) != 3 {
			t.Errorf("task %s: %+v, want succeeded after 3 retries", id, r)
		}
	}
}
