package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/worker"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func TestWorkerMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	submit, wait, q, ctl, l := e.submit, e.wait, e.q, e.ctl, e.l
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

	cfg := e.config("w")
	cfg.Concurrency, cfg.Roles, cfg.DrainTimeout, cfg.Metrics = 2, true, 100*time.Millisecond, m
	w := e.newWorker(cfg)
	w.HandleBuiltins()
	w.Handle("exec", worker.Exec(nil))
	stopWorker := e.start(w)
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
	// A kind the worker does not run reaches it only from a master that
	// ignores kinds (an older one): assigned here as such a master would.
	odd := submit("nosuch", "")
	a, err := task.Encode(task.Assignment{Kind: "nosuch", Attempt: 1, MaxAttempts: 3, Epoch: 1, Master: "old",
		SubmittedAt: odd.SubmittedAt(), AssignedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Create(ctx, l.Assignment("w", odd), a, 0); err != nil {
		t.Fatal(err)
	}
	if r := wait(odd); r.Status != task.Failed {
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
