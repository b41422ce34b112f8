package ops

import (
	"errors"
	"runtime"

	"github.com/paddock-zk/paddock/zkclient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry is a process's metrics registry: the Go runtime's and the
// process's collectors, and paddock_build_info for version. A registry of
// its own (not Prometheus' global default) lets tests run several daemons
// in one process without their metrics clashing.
func NewRegistry(version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "paddock_build_info",
			Help:        "Always 1; its labels say which build of Paddock runs.",
			ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	return reg
}

// zkCollector exports a zkclient.Client's counters, read when scraped.
type zkCollector struct {
	c                                    *zkclient.Client
	requests, events, expired, connected *prometheus.Desc
}

// NewZKCollector exports c's traffic and session state: paddock_zk_*.
// Counting stays on c (atomic increments); this reads the counters at
// scrape time.
func NewZKCollector(c *zkclient.Client) prometheus.Collector {
	return &zkCollector{
		c:         c,
		requests:  prometheus.NewDesc("paddock_zk_requests_total", "Requests this process sent to ZooKeeper (a multi counts once).", nil, nil),
		events:    prometheus.NewDesc("paddock_zk_watch_events_total", "Watch notifications this process received from ZooKeeper.", nil, nil),
		expired:   prometheus.NewDesc("paddock_zk_session_expirations_total", "ZooKeeper sessions of this process the server expired (each loses the process's ephemeral znodes).", nil, nil),
		connected: prometheus.NewDesc("paddock_zk_connected", "1 while this process is connected to ZooKeeper with a live session, else 0.", nil, nil),
	}
}

func (z *zkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- z.requests
	ch <- z.events
	ch <- z.expired
	ch <- z.connected
}

func (z *zkCollector) Collect(ch chan<- prometheus.Metric) {
	st := z.c.Stats()
	ch <- prometheus.MustNewConstMetric(z.requests, prometheus.CounterValue, float64(st.Requests))
	ch <- prometheus.MustNewConstMetric(z.events, prometheus.CounterValue, float64(st.WatchEvents))
	ch <- prometheus.MustNewConstMetric(z.expired, prometheus.CounterValue, float64(st.SessionExpirations))
	ch <- prometheus.MustNewConstMetric(z.connected, prometheus.GaugeValue, b2f(z.c.Connected()))
}

// ErrNotConnected is the readiness verdict of a process that has no live
// ZooKeeper session: it can neither take nor report work.
var ErrNotConnected = errors.New("not connected to ZooKeeper (reconnecting)")

// Connected is a readiness check: c is connected with a live session.
func Connected(c *zkclient.Client) func() error {
	return func() error {
		if !c.Connected() {
			return ErrNotConnected
		}
		return nil
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
