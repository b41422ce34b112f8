package master

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/prometheus/client_golang/prometheus"
)

// OtherKind is the kind label of tasks whose kind no live worker
// advertises: clients may write any valid kind name, and a label value per
// name would let them grow the metrics without bound.
const OtherKind = "other"

// Where a master stands in the election.
const (
	standNone   int32 = iota // joining, or between two candidacies
	standBackup              // queued behind the leader
	standLeader              // elected and took over
)

// Metrics is a master's Prometheus collector (register it on the process's
// registry) and the source of its readiness. The controller counts where
// things happen, and publishes its gauges as a snapshot after each turn of
// its loop: a scrape never waits for the loop and never costs a ZooKeeper
// request. Gauges of the leader's view (paddock_tasks_pending, ...) are
// exported only while this master leads, so sum() over masters is right;
// the counters and paddock_master_* are exported by every master.
type Metrics struct {
	assigned   *prometheus.CounterVec
	reassigned prometheus.Counter
	dead       *prometheus.CounterVec
	expired    prometheus.Counter
	deposed    prometheus.Counter

	partitions, isLeader, epoch, pending, running, oldest, workers, unlisted, scheduled, waiting *prometheus.Desc

	standing  atomic.Int32
	onReady   func()
	readyOnce sync.Once
	term      atomic.Int64               // epoch while leading, else 0
	parts     atomic.Int32               // partitions led, while leading
	view      atomic.Pointer[leaderView] // nil unless leading and the view is known
	now       func() time.Time
}

// leaderView is what the leader knows of its work, as of its last turn.
type leaderView struct {
	pending  int       // tasks known to wait for a worker
	running  int       // tasks assigned to workers
	workers  int       // registered workers
	oldest   time.Time // lower bound of the oldest pending submission; zero: none
	unlisted int       // task shards that changed since last listed
	// scheduled: read, due later; waiting: read, due, of a kind no live
	// worker runs (by kind). Neither is in pending.
	scheduled int
	waiting   map[string]int
}

// NewMetrics returns a master's metrics, all zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		assigned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_tasks_assigned_total",
			Help: `Tasks this master assigned while leading, by kind ("other": a kind no live worker advertises).`,
		}, []string{"kind"}),
		reassigned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paddock_tasks_reassigned_total",
			Help: "Tasks of lost workers this master returned to pending while leading.",
		}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paddock_tasks_dead_lettered_total",
			Help: "Tasks this master dead-lettered while leading, by reason (malformed, max-attempts, routing-timeout).",
		}, []string{"reason"}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paddock_results_expired_total",
			Help: "Uncollected results and dead letters this master removed after the retention while leading.",
		}),
		deposed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paddock_master_deposed_total",
			Help: "Times this master lost leadership without resigning: a fenced write failed or its session expired.",
		}),
		partitions: prometheus.NewDesc("paddock_master_partitions", "Partitions of the tasks this master leads (16 of 16 with one leader; see master.leaders); 0 while it does not lead.", nil, nil),
		isLeader:   prometheus.NewDesc("paddock_master_is_leader", "1 while this master leads (elected and took over), else 0.", nil, nil),
		epoch:      prometheus.NewDesc("paddock_master_epoch", "The epoch this master leads under; 0 while it does not lead.", nil, nil),
		pending:    prometheus.NewDesc("paddock_tasks_pending", "Tasks waiting for a worker, as the leader knows them (a lower bound while paddock_task_shards_unlisted > 0). Leader only.", nil, nil),
		running:    prometheus.NewDesc("paddock_tasks_running", "Tasks assigned to workers and not finished. Leader only.", nil, nil),
		oldest:     prometheus.NewDesc("paddock_oldest_pending_task_age_seconds", "Age of the oldest task waiting for a worker; 0 when none waits. Leader only.", nil, nil),
		workers:    prometheus.NewDesc("paddock_workers", "Registered workers. Leader only.", nil, nil),
		scheduled:  prometheus.NewDesc("paddock_tasks_scheduled", "Tasks the leader has read that are due later (not_before, or a retry's backoff); not counted in paddock_tasks_pending. Leader only.", nil, nil),
		waiting:    prometheus.NewDesc("paddock_tasks_waiting_for_kind", "Due tasks of a kind no live worker runs, by kind: they wait for such a worker (or their routing timeout); not counted in paddock_tasks_pending. Leader only.", []string{"kind"}, nil),
		unlisted:   prometheus.NewDesc("paddock_task_shards_unlisted", "Task shards that changed (new or finished tasks) since the leader last listed them; it lists them when workers have room. While > 0, paddock_tasks_pending may miss submissions. Leader only.", nil, nil),
		now:        time.Now,
	}
	// Series that exist from the start make rate() and increase() see the
	// first event.
	for _, r := range []string{task.ReasonMalformed, task.ReasonMaxAttempts, task.ReasonRoutingTimeout} {
		m.dead.WithLabelValues(r)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.assigned.Describe(ch)
	m.reassigned.Describe(ch)
	m.dead.Describe(ch)
	m.expired.Describe(ch)
	m.deposed.Describe(ch)
	for _, d := range []*prometheus.Desc{m.partitions, m.isLeader, m.epoch, m.pending, m.running, m.oldest, m.workers, m.unlisted, m.scheduled, m.waiting} {
		ch <- d
	}
}

// OldestPending is how long the oldest pending task has waited, as the
// leader knows it (the status page shows it); ok is false when this master
// does not lead or has not looked at the task shards yet. Zero: none waits.
func (m *Metrics) OldestPending() (age time.Duration, ok bool) {
	v := m.view.Load()
	if v == nil || m.standing.Load() != standLeader {
		return 0, false
	}
	secs, _ := m.oldestAge(v)
	return time.Duration(secs * float64(time.Second)), true
}

func (m *Metrics) oldestAge(v *leaderView) (seconds float64, any bool) {
	if v.oldest.IsZero() {
		return 0, false
	}
	return max(0, m.now().Sub(v.oldest).Seconds()), true
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.assigned.Collect(ch)
	m.reassigned.Collect(ch)
	m.dead.Collect(ch)
	m.expired.Collect(ch)
	m.deposed.Collect(ch)
	leading := m.standing.Load() == standLeader
	ch <- prometheus.MustNewConstMetric(m.isLeader, prometheus.GaugeValue, b2f(leading))
	ch <- prometheus.MustNewConstMetric(m.epoch, prometheus.GaugeValue, float64(m.term.Load()))
	ch <- prometheus.MustNewConstMetric(m.partitions, prometheus.GaugeValue, float64(m.parts.Load()))
	v := m.view.Load()
	if v == nil || !leading {
		return
	}
	age, _ := m.oldestAge(v)
	ch <- prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, float64(v.pending))
	ch <- prometheus.MustNewConstMetric(m.running, prometheus.GaugeValue, float64(v.running))
	ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(m.workers, prometheus.GaugeValue, float64(v.workers))
	ch <- prometheus.MustNewConstMetric(m.unlisted, prometheus.GaugeValue, float64(v.unlisted))
	ch <- prometheus.MustNewConstMetric(m.scheduled, prometheus.GaugeValue, float64(v.scheduled))
	for k, n := range v.waiting {
		ch <- prometheus.MustNewConstMetric(m.waiting, prometheus.GaugeValue, float64(n), k)
	}
}

// Waiting is what the leader holds back, as of its last turn (the status
// page and `client status` show it): tasks due later, and due tasks by a
// kind no live worker runs. ok is false when this master does not lead or
// has not looked at the task shards yet.
func (m *Metrics) Waiting() (scheduled int, byKind map[string]int, ok bool) {
	v := m.view.Load()
	if v == nil || m.standing.Load() != standLeader {
		return 0, nil, false
	}
	return v.scheduled, v.waiting, true
}

// OnReady makes f run once, the first time the master stands in the
// election: when a service manager may consider it started (systemd's
// READY=1). Call it before Run.
func (m *Metrics) OnReady(f func()) { m.onReady = f }

// ErrNotStanding is the readiness verdict of a master that is not in the
// election: starting, or between a lost candidacy and the next.
var ErrNotStanding = errors.New("not standing in the election (joining)")

// Ready is the master's readiness check: it stands in the election, as the
// leader or a backup. (That it is connected is the client's check.)
func (m *Metrics) Ready() error {
	if m.standing.Load() == standNone {
		return ErrNotStanding
	}
	return nil
}

// stand records where the master stands; leading under epoch when it
// leads. The leader's view goes with leadership.
func (m *Metrics) stand(s int32, epoch int64) {
	if s != standNone && m.onReady != nil {
		m.readyOnce.Do(m.onReady)
	}
	if s != standLeader {
		epoch = 0
		m.view.Store(nil)
		m.parts.Store(0)
	}
	m.term.Store(epoch)
	m.standing.Store(s)
}

func (m *Metrics) publish(v leaderView) { m.view.Store(&v) }

// kindLabel bounds the kind label to the kinds live workers advertise.
func kindLabel(kind string, advertised map[string]bool) string {
	if advertised[kind] {
		return kind
	}
	return OtherKind
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
