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
	for status, want := range map[string]float64{worker.StatusRetried: 2, string(task.Succeeded): 1, string(task.Failed): 0} {
		if v, _, err := ops.Value(reg, "paddock_worker_tasks_total", "kind", "flaky", "status", status); err != nil || v != want {
			t.Errorf("tasks_total{flaky,%s} = %v (%v), want %v", status, v, err, want)
		}
	}
}

// A panic is a failure like any other: retried while retries are left,
// and the result lists every panic once they are used up.
func TestPanicIsRetried(t *testing.T) {
	e := newEnv(t)
	w := e.newWorker(e.config("w"))
	w.Handle("parse", func(_ context.Context, tk *worker.Task) ([]byte, error) {
		return tk.Payload[:5], nil // panics on a short payload, every time
	})
	e.start(w)
	r := e.wait(e.submit("parse", "bad", retry(task.RetryPolicy{MaxRetries: 1, InitialMS: 10})))
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
