package master_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
)

// submitSpec writes a task with spec s (its times filled in).
func (e *env) submitSpec(s task.Spec, payload string) task.ID {
	e.t.Helper()
	id := task.NewID(time.Now())
	s.SubmittedAt = time.Now().UTC()
	if err := e.q.Submit(context.Background(), id, s, []byte(payload)); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// reads counts the leader's reads of each task record.
type reads struct {
	mu sync.Mutex
	n  map[task.ID]int
}

func (r *reads) hook(ids []task.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.n[id]++
	}
}

func (r *reads) of(id task.ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[id]
}

func (r *reads) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.n {
		n += c
	}
	return n
}

// countingMaster starts a master whose reads of task records are counted.
func (e *env) countingMaster(name string) (*reads, *proc) {
	r := &reads{n: map[task.ID]int{}}
	p := e.start(name, shared.Addr(), func(ctx context.Context, c *zkclient.Client) error {
		cfg := master.WithBeforeRead(master.Config{ID: name, Retention: time.Hour, Logger: e.logger(name)}, r.hook)
		return master.Run(ctx, c, e.l, cfg)
	})
	return r, p
}

func TestScheduledTaskRunsWhenDueAndIsReadOnceMeanwhile(t *testing.T) {
	e := newEnv(t)
	r, _ := e.countingMaster("m1")
	e.worker("w", shared.Addr(), 2)
	due := time.Now().Add(1500 * time.Millisecond)
	id := e.submitSpec(task.Spec{Kind: "echo", NotBefore: due}, "later")
	now := e.submit("echo", "now", 0)
	if res := e.wait(now, 10*time.Second); res.Status != task.Succeeded {
		t.Fatalf("a task behind nothing: %+v", res)
	}
	res := e.wait(id, 20*time.Second)
	if res.Status != task.Succeeded || res.StartedAt.Before(due.Truncate(time.Millisecond)) {
		t.Fatalf("scheduled for %v, started %v: %+v", due, res.StartedAt, res)
	}
	// Read when learned of, and once more when due: never while it waited.
	if n := r.of(id); n > 2 {
		t.Errorf("the leader read the scheduled task %d times", n)
	}
}

func TestScheduledBacklogCostsTheLeaderNothingUntilDue(t *testing.T) {
	e := newEnv(t)
	r, _ := e.countingMaster("m1")
	e.waitLog(10*time.Second, "m1", "took over")
	const n = 300
	for range n {
		e.submitSpec(task.Spec{Kind: "echo", NotBefore: time.Now().Add(time.Hour)}, "")
	}
	// No worker yet: the leader learns of the tasks only once it has room.
	e.worker("w", shared.Addr(), 4)
	zktest.Eventually(t, 20*time.Second, "the leader to have read the scheduled tasks", func() bool { return r.total() >= n })
	read := r.total()
	var ids []task.ID
	for range 20 {
		ids = append(ids, e.submit("echo", "x", 0))
	}
	for _, id := range ids {
		if res := e.wait(id, 20*time.Second); res.Status != task.Succeeded {
			t.Fatalf("%+v", res)
		}
	}
	if extra := r.total() - read; extra > len(ids) {
		t.Errorf("running %d tasks, the leader read %d records: the scheduled backlog was read again", len(ids), extra)
	}
}

func TestScheduledTaskSurvivesFailover(t *testing.T) {
	e := newEnv(t)
	r, m1 := e.countingMaster("m1")
	e.waitLog(10*time.Second, "m1", "took over")
	e.master("m2", shared.Addr(), time.Hour)
	e.worker("w", shared.Addr(), 2)
	due := time.Now().Add(2 * time.Second)
	id := e.submitSpec(task.Spec{Kind: "echo", NotBefore: due}, "later")
	zktest.Eventually(t, 10*time.Second, "m1 to read the task", func() bool { return r.of(id) > 0 })
	m1.stop()
	e.waitLog(10*time.Second, "m2", "took over")
	res := e.wait(id, 20*time.Second)
	if res.Status != task.Succeeded || res.StartedAt.Before(due.Truncate(time.Millisecond)) {
		t.Fatalf("scheduled for %v, started %v: %+v", due, res.StartedAt, res)
	}
}

// thumbWorker runs a worker that runs only kind "thumb".
func (e *env) thumbWorker(name string) *proc {
	return e.start(name, shared.Addr(), func(ctx context.Context, c *zkclient.Client) error {
		w, err := worker.New(worker.Config{ID: name, Concurrency: 1, Client: c, Root: e.l.Root(), Logger: e.logger(name)})
		if err != nil {
			return err
		}
		w.Handle("thumb", func(ctx context.Context, t *worker.Task) ([]byte, error) { return []byte("thumbed"), nil })
		return w.Run(ctx)
	})
}

func TestTaskOfAKindNoWorkerRunsWaitsForOne(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("plain", shared.Addr(), 2) // runs the built-in kinds only
	id := e.submit("thumb", "img", 0)
	zktest.Eventually(t, 10*time.Second, "client status to show the kind waited for", func() bool {
		st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
		return err == nil && st.WaitingForKind["thumb"] == 1
	})
	if _, err := e.q.Result(context.Background(), id); err == nil {
		t.Fatal("the task ended while no worker ran its kind")
	}
	e.thumbWorker("thumber")
	res := e.wait(id, 20*time.Second)
	if res.Status != task.Succeeded || res.Worker != "thumber" {
		t.Fatalf("%+v", res)
	}
	zktest.Eventually(t, 10*time.Second, "client status to show nothing waiting", func() bool {
		st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
		return err == nil && len(st.WaitingForKind) == 0
	})
}

func TestRoutingTimeoutDeadLettersTheTaskNamingItsKind(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("plain", shared.Addr(), 2)
	id := e.submitSpec(task.Spec{Kind: "thumb", RoutingTimeoutMS: 300}, "img")
	res := e.wait(id, 20*time.Second)
	if res.Status != task.Dead || !strings.HasPrefix(res.Error, task.ReasonRoutingTimeout) || !strings.Contains(res.Error, `"thumb"`) {
		t.Fatalf("%+v", res)
	}
	if d := res.FinishedAt.Sub(id.SubmittedAt()); d < 300*time.Millisecond {
		t.Fatalf("dead-lettered after %v, before its routing timeout", d)
	}
}

// A task in its retry backoff when the leader changes: the new leader reads
// its not_before like any scheduled task's and runs it then, not earlier.
func TestRetryBackoffSurvivesFailover(t *testing.T) {
	e := newEnv(t)
	m1 := e.master("m1", shared.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m1", "took over")
	e.master("m2", shared.Addr(), time.Hour)
	var mu sync.Mutex
	calls := 0
	e.start("flaky", shared.Addr(), func(ctx context.Context, c *zkclient.Client) error {
		w, err := worker.New(worker.Config{ID: "flaky", Concurrency: 1, Client: c, Root: e.l.Root(), Logger: e.logger("flaky")})
		if err != nil {
			return err
		}
		w.Handle("flaky", func(ctx context.Context, t *worker.Task) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			if calls++; calls == 1 {
				return nil, errors.New("first attempt fails")
			}
			return []byte("ok"), nil
		})
		return w.Run(ctx)
	})
	id := e.submitSpec(task.Spec{Kind: "flaky", Retry: &task.RetryPolicy{MaxRetries: 2, InitialMS: 2000, Jitter: 0.01}}, "x")
	var due time.Time
	zktest.Eventually(t, 20*time.Second, "the first attempt to fail and the task to be back, due later", func() bool {
		s, _, err := e.q.Spec(context.Background(), id)
		due = s.NotBefore
		return err == nil && s.Retries == 1
	})
	m1.stop()
	e.waitLog(10*time.Second, "m2", "took over")
	res := e.wait(id, 30*time.Second)
	if res.Status != task.Succeeded || len(res.Errors) != 1 || res.StartedAt.Before(due.Truncate(time.Millisecond)) {
		t.Fatalf("due %v: %+v", due, res)
	}
}
