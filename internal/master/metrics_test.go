package master_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// observed is a master whose metrics the test reads from a registry of
// its own, as a scrape would.
type observed struct {
	*proc
	m   *master.Metrics
	reg *prometheus.Registry
}

func (e *env) observedMaster(name, addr string, retention time.Duration) *observed {
	m := master.NewMetrics()
	reg := prometheus.NewPedanticRegistry() // also checks the collector's consistency
	reg.MustRegister(m)
	p := e.start(name, addr, func(ctx context.Context, c *zkclient.Client) error {
		return master.Run(ctx, c, e.l, master.Config{ID: name, Retention: retention, Logger: e.logger(name), Metrics: m})
	})
	return &observed{p, m, reg}
}

// value is the metric's value (summed over the series matching labels),
// and whether any series matches.
func (o *observed) value(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	v, ok, err := ops.Value(o.reg, name, labels...)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

func (o *observed) get(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, _ := o.value(t, name, labels...)
	return v
}

// await waits until the metric has the value want.
func (o *observed) await(t *testing.T, within time.Duration, want float64, name string, labels ...string) {
	t.Helper()
	zktest.Eventually(t, within, fmt.Sprintf("%s%v == %v (last %v)", name, labels, want, o.get(t, name, labels...)), func() bool {
		v, ok := o.value(t, name, labels...)
		return ok && v == want
	})
}

// leaderGauges are exported only while a master leads.
var leaderGauges = []string{"paddock_tasks_pending", "paddock_tasks_running", "paddock_oldest_pending_task_age_seconds",
	"paddock_workers", "paddock_task_shards_unlisted"}

func TestMasterMetricsCountTheWork(t *testing.T) {
	e := newEnv(t)
	// A backlog from before any master: the leader lists every shard when
	// it takes over, so it knows these exactly without a worker.
	first := e.submit("echo", "1", 0)
	for i := range 3 {
		e.submit("echo", fmt.Sprint(i+2), 0)
	}
	e.submit("nosuch", "", 0) // a kind no worker advertises: once read, it waits, and is not pending

	m := e.observedMaster("m1", shared.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m1", "elected: leading")
	if err := m.m.Ready(); err != nil {
		t.Errorf("leader not ready: %v", err)
	}
	m.await(t, 10*time.Second, 1, "paddock_master_is_leader")
	if ep := m.get(t, "paddock_master_epoch"); ep < 1 {
		t.Errorf("epoch %v while leading", ep)
	}
	m.await(t, 10*time.Second, 5, "paddock_tasks_pending")
	m.await(t, 10*time.Second, 0, "paddock_task_shards_unlisted")
	if age, least := m.get(t, "paddock_oldest_pending_task_age_seconds"), time.Since(first.SubmittedAt()).Seconds(); age < least-0.01 {
		t.Errorf("oldest pending age %.3fs, want >= %.3fs", age, least)
	}

	// With every slot busy (there are none) a new submission is not
	// listed: the pending count is a lower bound, the shard says so, and
	// the oldest age still counts from the oldest task.
	e.submit("echo", "unseen", 0)
	m.await(t, 10*time.Second, 1, "paddock_task_shards_unlisted")
	if p := m.get(t, "paddock_tasks_pending"); p != 5 {
		t.Errorf("pending %v, want the 5 listed", p)
	}

	e.worker("w", shared.Addr(), 4)
	m.await(t, 20*time.Second, 0, "paddock_tasks_pending")
	m.await(t, 20*time.Second, 0, "paddock_tasks_running")
	m.await(t, 10*time.Second, 1, "paddock_workers")
	m.await(t, 10*time.Second, 5, "paddock_tasks_assigned_total", "kind", "echo")
	if n := m.get(t, "paddock_tasks_assigned_total", "kind", master.OtherKind); n != 0 {
		t.Errorf("%v tasks of a kind no worker runs were assigned", n)
	}
	m.await(t, 10*time.Second, 1, "paddock_tasks_waiting_for_kind", "kind", "nosuch")
	if age := m.get(t, "paddock_oldest_pending_task_age_seconds"); age != 0 {
		t.Errorf("oldest pending age %v with nothing pending", age)
	}

	// Garbage where a task should be is dead-lettered.
	bad := task.NewID(time.Now())
	if _, err := e.ctl.Multi(context.Background(),
		zkclient.CreateOp(e.l.Payload(bad), []byte("x"), persistent),
		zkclient.CreateOp(e.l.Task(bad), []byte("not json"), persistent)); err != nil {
		t.Fatal(err)
	}
	e.wait(bad, 20*time.Second)
	m.await(t, 10*time.Second, 1, "paddock_tasks_dead_lettered_total", "reason", task.ReasonMalformed)
	if v, ok := m.value(t, "paddock_tasks_dead_lettered_total", "reason", task.ReasonMaxAttempts); !ok || v != 0 {
		t.Errorf("max-attempts dead letters: %v (present %v), want a 0 series", v, ok)
	}
	if problems, err := testutil.CollectAndLint(m.m); err != nil || len(problems) > 0 {
		t.Errorf("metrics that break Prometheus' conventions: %v %v", problems, err)
	}
}

func TestMasterMetricsReassignedAndExpired(t *testing.T) {
	e := newEnv(t)
	m := e.observedMaster("m1", shared.Addr(), 1500*time.Millisecond)
	proxy := zktest.NewProxy(t, shared.Addr())
	doomed := e.worker("doomed", proxy.Addr(), 1)
	e.waitLog(10*time.Second, "doomed", "worker registered")
	id := e.submit("sleep", "30", 0)
	e.waitLog(10*time.Second, "doomed", "task started")
	m.await(t, 10*time.Second, 1, "paddock_tasks_running")
	doomed.crash(t, proxy)
	m.await(t, 15*time.Second, 1, "paddock_tasks_reassigned_total")
	m.await(t, 10*time.Second, 0, "paddock_workers")
	m.await(t, 10*time.Second, 1, "paddock_tasks_pending")

	// Nobody collects the results of these: they expire.
	e.worker("w", shared.Addr(), 2)
	if _, err := e.q.Cancel(context.Background(), id, "test"); err != nil {
		t.Fatal(err)
	}
	e.wait(e.submit("echo", "forgotten", 0), 20*time.Second)
	m.await(t, 15*time.Second, 2, "paddock_results_expired_total")
}

func TestMasterMetricsFollowLeadership(t *testing.T) {
	e := newEnv(t)
	proxy := zktest.NewProxy(t, shared.Addr())
	m1 := e.observedMaster("m1", proxy.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m1", "elected: leading")
	m2 := e.observedMaster("m2", shared.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m2", "standing by as backup")
	m1.await(t, 10*time.Second, 1, "paddock_master_is_leader")
	epoch := m1.get(t, "paddock_master_epoch")

	// A backup is ready, and exports no leader gauges: sum() over the
	// masters counts the leader's view once.
	if err := m2.m.Ready(); err != nil {
		t.Errorf("backup not ready: %v", err)
	}
	for _, name := range leaderGauges {
		if _, ok := m2.value(t, name); ok {
			t.Errorf("backup exports the leader gauge %s", name)
		}
	}
	for _, name := range []string{"paddock_master_is_leader", "paddock_master_epoch"} {
		if v, ok := m2.value(t, name); !ok || v != 0 {
			t.Errorf("backup's %s = %v (exported: %v), want 0", name, v, ok)
		}
	}

	// m1 lags past its session timeout: m2 takes over under a newer
	// epoch; m1 comes back, is fenced, and counts itself deposed.
	sess, err := m1.c.Session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	shared.WaitSessionGone(t, sess.ID())
	e.waitLog(10*time.Second, "m2", "elected: leading")
	m2.await(t, 10*time.Second, 1, "paddock_master_is_leader")
	m2.await(t, 10*time.Second, epoch+1, "paddock_master_epoch")
	proxy.Restore()
	e.waitLog(15*time.Second, "m1", "deposed: stepping down to backup")
	m1.await(t, 10*time.Second, 1, "paddock_master_deposed_total")
	m1.await(t, 10*time.Second, 0, "paddock_master_is_leader")
	m1.await(t, 10*time.Second, 0, "paddock_master_epoch")
	e.waitLog(15*time.Second, "m1", "standing by as backup")
	zktest.Eventually(t, 10*time.Second, "m1 ready as a backup", func() bool { return m1.m.Ready() == nil })
	for _, name := range leaderGauges {
		if _, ok := m1.value(t, name); ok {
			t.Errorf("deposed master still exports %s", name)
		}
	}
	if d := m2.get(t, "paddock_master_deposed_total"); d != 0 {
		t.Errorf("m2 deposed %v times", d)
	}

	m2.stop()
	if err := m2.m.Ready(); !errors.Is(err, master.ErrNotStanding) {
		t.Errorf("a stopped master's readiness: %v", err)
	}
}
