package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/dashboard"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap/zaptest"
)

// One ZooKeeper serves the package; each test works under its own root.
// Tests that stop the server start their own.
var shared *zktest.Server

func TestMain(m *testing.M) { zktest.MainNoLeaks(m, &shared) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, addr string) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(ctxT(t), zkclient.Config{
		Servers:        []string{addr},
		SessionTimeout: 4 * time.Second,
		ConnectTimeout: 10 * time.Second,
		Logger:         zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// layoutFor gives the test a fresh Paddock tree on c's server.
func layoutFor(t *testing.T, c *zkclient.Client) coord.Layout {
	t.Helper()
	l := coord.MustLayout("/t-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
	zktest.DeleteTree(t, c.Conn(), l.Root())
	if err := coord.EnsureLayout(ctxT(t), c, l); err != nil {
		t.Fatal(err)
	}
	return l
}

// serve serves h on a loopback port for the test's length.
func serve(t *testing.T, h *dashboard.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.RegisterOnShutdown(h.Close)
	srv.Start()
	t.Cleanup(func() {
		h.Close() // httptest's Close waits for the streams, which only Close ends
		srv.Close()
	})
	return srv
}

// event is one server-sent event.
type event struct {
	name string
	data string
}

// stream is an open GET /api/events, its events arriving on C until the
// server ends it or the test stops it.
type stream struct {
	C      chan event
	cancel context.CancelFunc
	done   chan struct{}
}

func openStream(t *testing.T, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("GET /api/events: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &stream{C: make(chan event, 100), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.C)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					select {
					case s.C <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = event{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Close leaves the stream and waits for its reader.
func (s *stream) Close() {
	s.cancel()
	<-s.done
}

// next waits for the next event.
func (s *stream) next(t *testing.T, within time.Duration) event {
	t.Helper()
	select {
	case ev, ok := <-s.C:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return event{}
}

// nextNamed skips events until one named name arrives.
func (s *stream) nextNamed(t *testing.T, within time.Duration, name string) event {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ev := s.next(t, time.Until(deadline))
		if ev.name == name {
			return ev
		}
	}
}

func decodeStatus(t *testing.T, data string) coord.Status {
	t.Helper()
	var st coord.Status
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return st
}

func get(t *testing.T, url string) (*http.Response, []byte) {
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
	return resp, b
}
