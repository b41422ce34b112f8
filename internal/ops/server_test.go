package ops

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/zktest"
)

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func report(t *testing.T, body string) Report {
	t.Helper()
	var r Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("probe body %q: %v", body, err)
	}
	return r
}

func TestListenRefusesABadAddress(t *testing.T) {
	for _, addr := range []string{"bogus", "127.0.0.1:99999", "256.0.0.1:0"} {
		if s, err := Listen(Config{Addr: addr}); err == nil {
			_ = s.Close(context.Background())
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
	s, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if _, err := Listen(Config{Addr: s.Addr()}); err == nil {
		t.Errorf("a second Listen on the busy %s succeeded", s.Addr())
	}
}

func TestServerEndpoints(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0", Version: "v-test"})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr()
	var broken atomic.Bool
	broken.Store(true)
	s.Live("loop", func() error { return nil })
	s.Ready("always", func() error { return nil })
	s.Ready("flaky", func() error {
		if broken.Load() {
			return errors.New("not yet")
		}
		return nil
	})
	s.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "status page") }))
	s.Start()
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	if code, body := get(t, base+"/livez"); code != http.StatusOK || !report(t, body).OK {
		t.Errorf("/livez: %d %s", code, body)
	}
	code, body := get(t, base+"/readyz")
	r := report(t, body)
	if code != http.StatusServiceUnavailable || r.OK || len(r.Checks) != 2 ||
		r.Checks[0] != (CheckResult{Name: "always", OK: true}) || r.Checks[1] != (CheckResult{Name: "flaky", Reason: "not yet"}) {
		t.Errorf("/readyz while a check fails: %d %s", code, body)
	}
	broken.Store(false)
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || !report(t, body).OK {
		t.Errorf("/readyz once it passes: %d %s", code, body)
	}
	code, body = get(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `paddock_build_info{goversion="go`) || !strings.Contains(body, `version="v-test"} 1`) ||
		!strings.Contains(body, "go_goroutines ") || !strings.Contains(body, "process_resident_memory_bytes ") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	if code, body := get(t, base+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d", code)
	}
	if code, body := get(t, base+"/anything/else"); code != http.StatusOK || body != "status page" {
		t.Errorf("mounted page: %d %q", code, body)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Handle after Start did not panic")
			}
		}()
		s.Handle("/late", http.NotFoundHandler())
	}()

	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/livez"); err == nil {
		t.Error("still serving after Close")
	}
}

func TestNilServerDoesNothing(t *testing.T) {
	var s *Server
	s.MustRegister(NewRegistry("x"))
	s.Handle("/", http.NotFoundHandler())
	s.Live("x", nil)
	s.Ready("x", nil)
	s.Start()
	if s.Addr() != "" || s.Registry() != nil || s.Close(context.Background()) != nil {
		t.Error("a nil Server should do nothing")
	}
}

func TestCloseWithoutStartReleasesTheAddress(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := Listen(Config{Addr: s.Addr()})
	if err != nil {
		t.Fatalf("the address was not released: %v", err)
	}
	_ = again.Close(context.Background())
}

func TestLoop(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLoop("test", 10*time.Second)
	l.now = func() time.Time { return now }
	l.Working()
	if err := l.Check(); err != nil {
		t.Fatalf("just started working: %v", err)
	}
	now = now.Add(11 * time.Second)
	if err := l.Check(); err == nil || !strings.Contains(err.Error(), "the test loop has not waited for events for 11s") {
		t.Fatalf("working past the limit: %v", err)
	}
	l.Waiting()
	now = now.Add(time.Hour)
	if err := l.Check(); err != nil {
		t.Fatalf("waiting for an hour is not stuck: %v", err)
	}
	l.Working()
	now = now.Add(9 * time.Second)
	if err := l.Check(); err != nil {
		t.Fatalf("working within the limit: %v", err)
	}

	var none *Loop
	none.Working()
	none.Waiting()
	if none.Check() != nil {
		t.Error("a nil Loop should pass")
	}
	if StallAfter(time.Second) != DefaultStall || StallAfter(20*time.Second) != time.Minute {
		t.Errorf("StallAfter: %v %v", StallAfter(time.Second), StallAfter(20*time.Second))
	}
}

// A loop that deadlocks outside its wait fails /livez; one that waits
// passes, however long.
func TestLivezCatchesADeadlockedLoop(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64 // UnixNano of a fake clock the test moves
	l := NewLoop("test", time.Minute)
	l.now = func() time.Time { return time.Unix(0, clock.Load()) }
	s.Live("loop", l.Check)
	s.Start()
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	livez := func() (int, string) { return get(t, "http://"+s.Addr()+"/livez") }

	events, stop := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex // the loop takes it for each event
	done := make(chan struct{})
	handled := 0
	l.Waiting()
	go func() { // the loop
		defer close(done)
		for {
			select {
			case <-events:
			case <-stop:
				return
			}
			l.Working()
			mu.Lock() // deadlocks while the test holds it
			handled++
			mu.Unlock()
			l.Waiting()
		}
	}()
	t.Cleanup(func() { close(stop); <-done })

	clock.Add(int64(time.Hour)) // idle for an hour: alive
	if code, body := livez(); code != http.StatusOK {
		t.Fatalf("idle loop: %d %s", code, body)
	}
	mu.Lock()
	events <- struct{}{}
	zktest.Eventually(t, 10*time.Second, "the loop to wake", func() bool { return l.since.Load() != 0 }) // and block on mu
	if code, body := livez(); code != http.StatusOK {
		t.Fatalf("a loop that just woke: %d %s", code, body)
	}
	clock.Add(int64(2 * time.Minute))
	if code, body := livez(); code != http.StatusServiceUnavailable || !strings.Contains(body, "it is stuck") {
		t.Fatalf("deadlocked loop: %d %s", code, body)
	}
	mu.Unlock()
	zktest.Eventually(t, 10*time.Second, "the loop to wait again", func() bool { return l.since.Load() == 0 })
	if code, body := livez(); code != http.StatusOK {
		t.Fatalf("recovered loop: %d %s", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled != 1 {
		t.Errorf("the loop handled %d events, want 1", handled)
	}
}
