package worker

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/prometheus/client_golang/prometheus"
)

// OtherKind is the kind label of tasks whose kind this worker does not run
// (the master sends a kind nobody advertises to any worker, which fails
// it): a label value per name would let clients grow the metrics without
// bound.
const OtherKind = "other"

// What became of a task a worker started, besides a result's status
// (succeeded, failed, cancelled): the status label's other values.
const (
	// StatusWithdrawn: its assignment vanished while it ran (reassigned or
	// cancelled), so it was stopped.
	StatusWithdrawn = "withdrawn"
	// StatusDropped: it finished but the completion was refused; the task
	// had been reassigned, cancelled or completed elsewhere.
	StatusDropped = "dropped"
	// StatusAbandoned: the worker shut down before it could complete it;
	// the master gives it to another worker.
	StatusAbandoned = "abandoned"
	// StatusUnknown: the completion's reply was lost and the task was gone
	// when the worker looked (most likely it landed and was collected).
	StatusUnknown = "unknown"
	// StatusRetried: it failed with retries left, so it went back to
	// pending to run again after its backoff, instead of failing: counted
	// apart so that failed counts only the tasks that end failed.
	StatusRetried = "retried"
)

// DurationBuckets are the bounds (seconds) of
// paddock_worker_task_duration_seconds: tasks from a millisecond (echo) to
// ten minutes (exec), about three buckets per decade.
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300, 600}

// Metrics is a worker's Prometheus collector (register it on the process's
// registry) and the source of its readiness.
type Metrics struct {
	tasks    *prometheus.CounterVec
	duration *prometheus.HistogramVec

	running, concurrency, roles *prometheus.Desc
	nRunning, nConcurrency      atomic.Int64
	nRoles                      atomic.Int64

	registered atomic.Bool
	draining   atomic.Bool
	onReady    func()
	readyOnce  sync.Once
}

// OnReady makes f run once, the first time the worker is registered: when
// a service manager may consider it started (systemd's READY=1). Call it
// before Run.
func (m *Metrics) OnReady(f func()) { m.onReady = f }

// setRegistered records the registration's state.
func (m *Metrics) setRegistered(ok bool) {
	m.registered.Store(ok)
	if ok && m.onReady != nil {
		m.readyOnce.Do(m.onReady)
	}
}

// NewMetrics returns a worker's metrics, all zero.
func NewMetrics() *Metrics {
	return &Metrics{
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_worker_tasks_total",
			Help: `Tasks this worker ran, by kind ("other": a kind it does not run) and status: the result it wrote (succeeded, failed, cancelled), or retried (failed, to run again after a backoff), withdrawn, dropped, abandoned, unknown.`,
		}, []string{"kind", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paddock_worker_task_duration_seconds",
			Help:    "How long the tasks this worker completed ran (from start to result, without the completion's round trip), by kind.",
			Buckets: DurationBuckets,
		}, []string{"kind"}),
		running:     prometheus.NewDesc("paddock_worker_tasks_running", "Tasks running on this worker now (each holds one of its slots).", nil, nil),
		concurrency: prometheus.NewDesc("paddock_worker_concurrency", "Tasks this worker runs at once: --concurrency, or the live worker.concurrency setting.", nil, nil),
		roles:       prometheus.NewDesc("paddock_worker_roles_held", "Roles (client role add) this worker holds now.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.tasks.Describe(ch)
	m.duration.Describe(ch)
	ch <- m.running
	ch <- m.concurrency
	ch <- m.roles
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.tasks.Collect(ch)
	m.duration.Collect(ch)
	ch <- prometheus.MustNewConstMetric(m.running, prometheus.GaugeValue, float64(m.nRunning.Load()))
	ch <- prometheus.MustNewConstMetric(m.concurrency, prometheus.GaugeValue, float64(m.nConcurrency.Load()))
	ch <- prometheus.MustNewConstMetric(m.roles, prometheus.GaugeValue, float64(m.nRoles.Load()))
}

// Readiness verdicts of a worker.
var (
	ErrNotRegistered = errors.New("not registered (registering, or again after a lost session)")
	ErrDraining      = errors.New("draining: shutting down, taking no more tasks")
)

// Ready is the worker's readiness check: it is registered and takes work.
// (That it is connected is the client's check.)
func (m *Metrics) Ready() error {
	switch {
	case m.draining.Load():
		return ErrDraining
	case !m.registered.Load():
		return ErrNotRegistered
	}
	return nil
}

// prepare creates the series of every kind the worker runs, so that rate()
// and increase() see their first task.
func (m *Metrics) prepare(kinds []string) {
	for _, k := range kinds {
		for _, s := range []string{string(task.Succeeded), string(task.Failed), StatusRetried} {
			m.tasks.WithLabelValues(k, s)
		}
		m.duration.WithLabelValues(k)
	}
}
