package dashboard_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/dashboard"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
)

// The page, its assets and the JSON: the JSON is coord.Status with every
// field the page shows, Extra's included.
func TestServesPageAndStatus(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	m := recipe.Self("m1")
	b, _ := json.Marshal(m)
	if _, err := c.Create(ctx, l.Master()+"/candidate-0000000000000000-", b, zk.FlagEphemeral|zk.FlagSequence); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(coord.WorkerInfo{Member: recipe.Self("w1"), Concurrency: 3, Kinds: []string{"echo"}})
	if _, err := c.Create(ctx, l.Worker("w1"), b, zk.FlagEphemeral); err != nil {
		t.Fatal(err)
	}
	if err := coord.NewQueue(c, l, 0).Submit(ctx, task.NewID(time.Now()), task.Spec{Kind: "echo"}, nil); err != nil {
		t.Fatal(err)
	}
	oldest := 42.0
	h := dashboard.New(c, l, dashboard.Options{Extra: func(st *coord.Status) { st.OldestPendingSeconds = &oldest }})
	srv := serve(t, h)

	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `id="leader-name"`) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET /: %s %v\n%s", resp.Status, resp.Header, body)
	}
	if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
		t.Fatalf("the page refers to another site:\n%s", body)
	}
	for _, asset := range []string{"app.js", "style.css"} {
		if resp, body := get(t, srv.URL+"/assets/"+asset); resp.StatusCode != http.StatusOK || len(body) < 1000 {
			t.Fatalf("GET /assets/%s: %s, %d bytes", asset, resp.Status, len(body))
		}
	}
	if resp, _ := get(t, srv.URL+"/nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nope: %s", resp.Status)
	}

	resp, body = get(t, srv.URL+"/api/status")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/status: %s %s", resp.Status, body)
	}
	st := decodeStatus(t, string(body))
	if st.Leader == nil || st.Leader.ID != "m1" || len(st.Workers) != 1 || st.Workers[0].Concurrency != 3 ||
		st.Pending != 1 || st.Submitted != 1 || st.OldestPendingSeconds == nil || *st.OldestPendingSeconds != 42 || st.Root != l.Root() {
		t.Fatalf("status %s", body)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"leader", "backups", "epoch", "taking_over", "workers", "pending", "running", "finished", "dead",
		"submitted_total", "ended_total", "recent_dead", "roles", "applicants", "at", "oldest_pending_seconds"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("no %q in %s", k, body)
		}
	}
}

// Nothing is read while nobody looks, and reading stops when the last
// viewer leaves.
func TestReadsOnlyWhileViewed(t *testing.T) {
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	const interval = 50 * time.Millisecond
	h := dashboard.New(c, l, dashboard.Options{Interval: interval})
	srv := serve(t, h)
	// Absence can only be observed over some time: ten intervals.
	quiet := func(when string) {
		t.Helper()
		before := c.Stats().Requests
		time.Sleep(10 * interval)
		if n := c.Stats().Requests - before; n != 0 {
			t.Fatalf("%s: %d ZooKeeper requests with nobody looking", when, n)
		}
	}
	quiet("before any viewer")

	s := openStream(t, srv.URL)
	first := decodeStatus(t, s.nextNamed(t, 10*time.Second, "status").data)
	second := decodeStatus(t, s.nextNamed(t, 10*time.Second, "status").data)
	if !second.At.After(first.At) {
		t.Fatalf("the second reading (%v) is not newer than the first (%v)", second.At, first.At)
	}
	if second.Throughput == nil {
		t.Fatal("no throughput after two readings")
	}
	s.Close()
	zktest.Eventually(t, 10*time.Second, "the reading loop to stop", func() bool { return h.Viewers() == 0 && !h.Looping() })
	quiet("after the last viewer left")
}

// However many viewers, ZooKeeper is read once per interval, and they all
// see the same readings.
func TestOneReadingPerIntervalForAllViewers(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	before := c.Stats().Requests
	if _, err := coord.ReadStatus(ctx, c, l); err != nil {
		t.Fatal(err)
	}
	perReading := c.Stats().Requests - before

	const interval = 200 * time.Millisecond
	const viewers = 5
	h := dashboard.New(c, l, dashboard.Options{Interval: interval})
	srv := serve(t, h)
	start := time.Now()
	before = c.Stats().Requests
	streams := make([]*stream, viewers)
	for i := range streams {
		streams[i] = openStream(t, srv.URL)
	}
	// Each viewer waits for 5 readings.
	seen := make([]map[time.Time]bool, viewers)
	for i, s := range streams {
		seen[i] = map[time.Time]bool{}
		for len(seen[i]) < 5 {
			seen[i][decodeStatus(t, s.nextNamed(t, 10*time.Second, "status").data).At] = true
		}
	}
	for _, s := range streams {
		s.Close()
	}
	zktest.Eventually(t, 10*time.Second, "the reading loop to stop", func() bool { return !h.Looping() })
	elapsed := time.Since(start)
	readings := (c.Stats().Requests - before) / perReading
	if (c.Stats().Requests-before)%perReading != 0 {
		t.Fatalf("%d requests is not a whole number of readings of %d", c.Stats().Requests-before, perReading)
	}
	if most := int64(elapsed/interval) + 1; readings > most {
		t.Fatalf("%d viewers caused %d readings in %v; at most %d expected (one per %v)", viewers, readings, elapsed, most, interval)
	}
	// Every viewer saw 5 readings, yet there were only as many readings as
	// the distinct ones they saw, together.
	union := map[time.Time]bool{}
	for _, m := range seen {
		for at := range m {
			union[at] = true
		}
	}
	if int64(len(union)) > readings {
		t.Fatalf("the viewers saw %d distinct readings, but ZooKeeper was read %d times", len(union), readings)
	}
	t.Logf("%d viewers, %d readings in %v (%d requests each)", viewers, readings, elapsed.Round(time.Millisecond), perReading)
}

// When ZooKeeper goes away the stream says so (and /api/status answers
// 503 with the reason); when it is back, the readings resume by themselves.
func TestUnreachableAndBack(t *testing.T) {
	srv := zktest.Start(t)
	c := dial(t, srv.Addr())
	l := layoutFor(t, c)
	h := dashboard.New(c, l, dashboard.Options{Interval: 100 * time.Millisecond})
	web := serve(t, h)
	s := openStream(t, web.URL)
	s.nextNamed(t, 10*time.Second, "status")

	srv.Stop()
	ev := s.nextNamed(t, 20*time.Second, "unreachable")
	var f struct {
		Error string    `json:"error"`
		At    time.Time `json:"at"`
	}
	if err := json.Unmarshal([]byte(ev.data), &f); err != nil || !strings.Contains(f.Error, "ZooKeeper") || f.At.IsZero() {
		t.Fatalf("unreachable event %q (%v)", ev.data, err)
	}
	resp, body := get(t, web.URL+"/api/status")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("GET /api/status while ZooKeeper is down: %s %s", resp.Status, body)
	}

	srv.Restart(t)
	s.nextNamed(t, 30*time.Second, "status")
	if resp, body := get(t, web.URL+"/api/status"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/status after ZooKeeper came back: %s %s", resp.Status, body)
	}
}

// Close ends the event streams, so that an http.Server's Shutdown (which
// waits for open requests) returns.
func TestCloseEndsStreams(t *testing.T) {
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	h := dashboard.New(c, l, dashboard.Options{})
	srv := serve(t, h)
	s := openStream(t, srv.URL)
	s.nextNamed(t, 10*time.Second, "status")
	h.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived Close")
	}
	if h.Looping() {
		t.Fatal("the reading loop outlived Close")
	}
}
