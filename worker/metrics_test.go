package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func dial(t *testing.T) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(context.Background(), zkclient.Config{
		Servers: []string{shared.Addr()}, SessionTimeout: time.Second, ConnectTimeout: 10 * time.Second,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// run runs f (a master or a worker) on a connection of its own until the
// returned stop is called (or the test ends).
func run(t *testing.T, f func(ctx context.Context, c *zkclient.Client) error) (stop func()) {
	c := dial(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f(ctx, c); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestWorkerMetrics(t *testing.T) {
	ctl := dial(t)
	l := coord.MustLayout("/t-" + t.Name())
	zktest.DeleteTree(t, ctl.Conn(), l.Root())
	ctx := context.Background()
	if err := coord.EnsureLayout(ctx, ctl, l); err != nil {
		t.Fatal(err)
	}
	q := coord.NewQueue(ctl, l, 0)
	submit := func(kind, data string) task.ID {
		id := task.NewID(time.Now())
		if err := q.Submit(ctx, id, task.Spec{Kind: kind, SubmittedAt: time.Now().UTC()}, []byte(data)); err != nil {
			t.Fatal(err)
		}
		return id
	}
	wait := func(id task.ID) task.Result {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		r, err := q.Wait(wctx, id)
		if err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
		return r
	}

	m := worker.NewMetrics()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	value := func(name string, labels ...string) (float64, bool) {
		v, ok, err := ops.Value(reg, name, labels...)
		if err != nil {
			t.Fatal(err)
		}
		return v, ok
	}
	await := func(want float64, name string, labels ...string) {
		t.Helper()
		zktest.Eventually(t, 20*time.Second, fmt.Sprintf("%s%v == %v", name, labels, want), func() bool {
			v, ok := value(name, labels...)
			return ok && v == want
		})
	}
	if err := m.Ready(); !errors.Is(err, worker.ErrNotRegistered) {
		t.Errorf("readiness before it runs: %v", err)
	}

	run(t, func(ctx context.Context, c *zkclient.Client) error {
		return master.Run(ctx, c, l, master.Config{ID: "m", Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	})
	stopWorker := run(t, func(ctx context.Context, c *zkclient.Client) error {
		return worker.Run(ctx, c, l, worker.Config{ID: "w", Concurrency: 2, Kinds: task.Builtin(true), Roles: true,
			DrainTimeout: 100 * time.Millisecond, Metrics: m, Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))})
	})
	zktest.Eventually(t, 10*time.Second, "the worker to be ready", func() bool { return m.Ready() == nil })
	await(2, "paddock_worker_concurrency")
	// Every kind it runs has its series from the start.
	if v, ok := value("paddock_worker_tasks_total", "kind", "sleep", "status", "succeeded"); !ok || v != 0 {
		t.Errorf("sleep/succeeded: %v (present %v), want a 0 series", v, ok)
	}

	for i := range 3 {
		wait(submit("echo", fmt.Sprint(i)))
	}
	wait(submit("fail", "x"))
	if r := wait(submit("nosuch", "")); r.Status != task.Failed {
		t.Fatalf("unknown kind: %+v", r)
	}
	await(3, "paddock_worker_tasks_total", "kind", "echo", "status", "succeeded")
	await(1, "paddock_worker_tasks_total", "kind", "fail", "status", "failed")
	await(1, "paddock_worker_tasks_total", "kind", worker.OtherKind, "status", "failed")
	await(3, "paddock_worker_task_duration_seconds", "kind", "echo")

	// A running task holds a slot; cancelled, it is withdrawn.
	long := submit("sleep", "30")
	await(1, "paddock_worker_tasks_running")
	if _, err := q.Cancel(ctx, long, "test"); err != nil {
		t.Fatal(err)
	}
	await(1, "paddock_worker_tasks_total", "kind", "sleep", "status", worker.StatusWithdrawn)
	await(0, "paddock_worker_tasks_running")

	// The live setting moves the gauge.
	if err := coord.PaddockConfig(ctl, l).Set(ctx, coord.KeyWorkerConcurrency, "5", "w"); err != nil {
		t.Fatal(err)
	}
	await(5, "paddock_worker_concurrency")

	// A role without a command is held as long as it exists.
	roles := recipe.NewRoleMatch(ctl, l.Roles())
	if err := roles.Add(ctx, "r1", ""); err != nil {
		t.Fatal(err)
	}
	await(1, "paddock_worker_roles_held")
	if err := roles.Remove(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	await(0, "paddock_worker_roles_held")

	// Shutting down with a task running: not ready, and the task is
	// abandoned once the drain times out.
	submit("sleep", "30")
	await(1, "paddock_worker_tasks_running")
	stopWorker()
	if err := m.Ready(); !errors.Is(err, worker.ErrDraining) {
		t.Errorf("readiness after shutdown: %v", err)
	}
	await(1, "paddock_worker_tasks_total", "kind", "sleep", "status", worker.StatusAbandoned)
	await(0, "paddock_worker_tasks_running")

	if problems, err := testutil.CollectAndLint(m); err != nil || len(problems) > 0 {
		t.Errorf("metrics that break Prometheus' conventions: %v %v", problems, err)
	}
	out, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, "paddock_worker_task_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `le="0.001"`) || !strings.Contains(string(out), `le="600"`) {
		t.Errorf("duration buckets should span 1 ms to 10 min:\n%s", out)
	}
}
