package ops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// One ZooKeeper serves the package's tests that do not stop it.
var shared *zktest.Server

func TestMain(m *testing.M) { zktest.MainNoLeaks(m, &shared) }

func dial(t *testing.T, addr string) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(context.Background(), zkclient.Config{
		Servers: []string{addr}, SessionTimeout: time.Second, ConnectTimeout: 20 * time.Second,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func value(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	v, ok, err := ops.Value(g, name)
	if err != nil || !ok {
		t.Fatalf("%s: found %v, %v", name, ok, err)
	}
	return v
}

func TestZKCollector(t *testing.T) {
	proxy := zktest.NewProxy(t, shared.Addr())
	c := dial(t, proxy.Addr())
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(ops.NewZKCollector(c))
	ctx := context.Background()
	if value(t, reg, "paddock_zk_connected") != 1 {
		t.Error("not connected after Dial")
	}

	before := value(t, reg, "paddock_zk_requests_total")
	p := "/t-" + t.Name()
	zktest.DeleteTree(t, c.Conn(), p)
	if _, err := c.Create(ctx, p, nil, zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	_, ch, err := c.ExistsW(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, p, -1); err != nil {
		t.Fatal(err)
	}
	<-ch
	if got := value(t, reg, "paddock_zk_requests_total") - before; got < 3 {
		t.Errorf("%v requests counted for create, exists, delete", got)
	}
	zktest.Eventually(t, 5*time.Second, "the watch event to be counted", func() bool {
		return value(t, reg, "paddock_zk_watch_events_total") >= 1
	})

	// Cut off past its session timeout: disconnected, then expired, then
	// connected again with a new session.
	sess, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	zktest.Eventually(t, 10*time.Second, "paddock_zk_connected 0", func() bool { return value(t, reg, "paddock_zk_connected") == 0 })
	if err := ops.Connected(c)(); err == nil {
		t.Error("the readiness check passes while disconnected")
	}
	shared.WaitSessionGone(t, sess.ID())
	proxy.Restore()
	zktest.Eventually(t, 15*time.Second, "a new session", func() bool { return value(t, reg, "paddock_zk_connected") == 1 })
	if got := value(t, reg, "paddock_zk_session_expirations_total"); got != 1 {
		t.Errorf("session expirations %v, want 1", got)
	}
	if err := ops.Connected(c)(); err != nil {
		t.Errorf("reconnected, but: %v", err)
	}
}

// probe GETs url and decodes its report.
func probe(url string) (int, ops.Report, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ops.Report{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, ops.Report{}, err
	}
	var r ops.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return resp.StatusCode, r, fmt.Errorf("body %q: %w", b, err)
	}
	return resp.StatusCode, r, nil
}

// daemon serves what cmd/master and cmd/worker serve for a process
// connected with c, whose own readiness is ready, and returns its URL.
func daemon(t *testing.T, c *zkclient.Client, loop *ops.Loop, name string, ready func() error) string {
	t.Helper()
	s, err := ops.Listen(ops.Config{Addr: "127.0.0.1:0", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s.MustRegister(ops.NewZKCollector(c))
	s.Ready("zookeeper", ops.Connected(c))
	s.Ready(name, ready)
	s.Live("loop", loop.Check)
	s.Start()
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return "http://" + s.Addr()
}

// awaitProbe waits until url answers code, and returns its report.
func awaitProbe(t *testing.T, within time.Duration, url string, code int) ops.Report {
	t.Helper()
	var (
		last   ops.Report
		status int
		err    error
	)
	deadline := time.Now().Add(within)
	for {
		status, last, err = probe(url)
		if err == nil && status == code {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d within %v, last %d %+v %v", url, code, within, status, last, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadyzFollowsZooKeeper(t *testing.T) {
	srv := zktest.Start(t)
	l := coord.MustLayout("/probes")
	ctx := context.Background()
	mc, wc := dial(t, srv.Addr()), dial(t, srv.Addr())
	if err := coord.EnsureLayout(ctx, mc, l); err != nil {
		t.Fatal(err)
	}
	mm, wm := master.NewMetrics(), worker.NewMetrics()
	ml, wl := ops.NewLoop("master", ops.DefaultStall), ops.NewLoop("worker", ops.DefaultStall)
	murl := daemon(t, mc, ml, "election", mm.Ready)
	wurl := daemon(t, wc, wl, "registration", wm.Ready)

	// Not running yet: neither stands in the election nor is registered.
	r := awaitProbe(t, 5*time.Second, murl+"/readyz", http.StatusServiceUnavailable)
	if r.Checks[1].Reason != master.ErrNotStanding.Error() {
		t.Errorf("master before it runs: %+v", r)
	}
	r = awaitProbe(t, 5*time.Second, wurl+"/readyz", http.StatusServiceUnavailable)
	if r.Checks[1].Reason != worker.ErrNotRegistered.Error() {
		t.Errorf("worker before it runs: %+v", r)
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		_ = master.Run(rctx, mc, l, master.Config{ID: "m", Metrics: mm, Loop: ml, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		w, err := worker.New(worker.Config{Client: wc, Root: l.Root(), ID: "w", Metrics: wm, Loop: wl, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
		if err != nil {
			t.Error(err)
			return
		}
		w.HandleBuiltins()
		_ = w.Run(rctx)
	}()
	t.Cleanup(func() { cancel(); <-done; <-done })
	for _, u := range []string{murl, wurl} {
		awaitProbe(t, 20*time.Second, u+"/readyz", http.StatusOK)
		awaitProbe(t, 5*time.Second, u+"/livez", http.StatusOK)
	}

	// ZooKeeper goes away: neither can work, and both say why; their loops
	// wait for the connection and are alive.
	srv.Stop()
	for _, u := range []string{murl, wurl} {
		r := awaitProbe(t, 20*time.Second, u+"/readyz", http.StatusServiceUnavailable)
		if r.Checks[0].Name != "zookeeper" || r.Checks[0].OK || !strings.Contains(r.Checks[0].Reason, "not connected") {
			t.Errorf("%s/readyz without ZooKeeper: %+v", u, r)
		}
		awaitProbe(t, 5*time.Second, u+"/livez", http.StatusOK)
	}

	srv.Restart(t)
	for _, u := range []string{murl, wurl} {
		awaitProbe(t, 30*time.Second, u+"/readyz", http.StatusOK)
		awaitProbe(t, 5*time.Second, u+"/livez", http.StatusOK)
	}
}
