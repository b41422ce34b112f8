package recipe_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap/zaptest"
)

// One ZooKeeper serves the package; each test works under its own root.
// Tests that stop or cut the server start their own.
var shared *zktest.Server

// servers is the shared ZooKeeper's address, set before any test or
// Example runs: the Examples dial it as a program would dial its ensemble.
var servers []string

func TestMain(m *testing.M) { zktest.MainNoLeaks(withServers{m}, &shared) }

// withServers sets servers once the shared server is up.
type withServers struct{ m *testing.M }

func (w withServers) Run() int {
	servers = []string{shared.Addr()}
	return w.m.Run()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects to addr with a short session timeout.
func dial(t *testing.T, addr string) *zkclient.Client {
	t.Helper()
	return dialTimeout(t, addr, time.Second)
}

// dialTimeout connects to addr with the session timeout given. The library
// drops a connection after 2/3 of it without a byte from the server, so a
// 1 s session is cut off by any 0.7 s stall of a loaded machine; tests that
// count requests use the longest the test server grants (maxSession).
func dialTimeout(t *testing.T, addr string, session time.Duration) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(ctxT(t), zkclient.Config{
		Servers:        []string{addr},
		SessionTimeout: session,
		ConnectTimeout: 10 * time.Second,
		Logger:         zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// rootFor gives each test its own path on the shared server.
func rootFor(t *testing.T) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return "/t-recipe-" + name
}

// eventually waits for cond with a deadline.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	zktest.Eventually(t, within, what, cond)
}

// expire cuts c off through proxy until the server has expired its session,
// then lets it reconnect; it returns once c has a new session.
func expire(t *testing.T, srv *zktest.Server, p *zktest.Proxy, c *zkclient.Client) *zkclient.Session {
	t.Helper()
	old, err := c.Session(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	srv.WaitSessionGone(t, old.ID())
	p.Restore()
	select {
	case <-old.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("client did not notice its session expired")
	}
	s, err := c.Session(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() == old.ID() {
		t.Fatal("same session after expiry")
	}
	return s
}

// deleteTree removes p and everything under it (left by an earlier -count run).
func deleteTree(t *testing.T, c *zkclient.Client, p string) {
	t.Helper()
	zktest.DeleteTree(t, c.Conn(), p)
}

// recipeDir gives a recipe test a fresh path on the shared server; nothing
// is created there.
func recipeDir(t *testing.T, c *zkclient.Client) string {
	t.Helper()
	root := rootFor(t)
	deleteTree(t, c, root)
	return root
}

// proxied dials the shared server through a proxy of its own, for tests
// that expire the client's session.
func proxied(t *testing.T) (*zktest.Proxy, *zkclient.Client) {
	t.Helper()
	p := zktest.NewProxy(t, shared.Addr())
	return p, dial(t, p.Addr())
}

// maxSession is the longest session timeout the test server grants
// (20 ticks of 250 ms).
const maxSession = 5 * time.Second

// settled returns c's counters once every watch notification caused by
// writes made so far has reached it: ZooKeeper sends a notification before
// the replies that follow it on the same connection, so a Sync round trip
// flushes them. Use cost to compare two of them. A Sync lost with the
// connection is sent again (the measurement is void then: see steady).
func settled(t *testing.T, c *zkclient.Client) zkclient.Stats {
	t.Helper()
	if _, err := zkclient.RetryRead(ctxT(t), c, func() (struct{}, error) {
		return struct{}{}, c.Sync(ctxT(t), "/")
	}); err != nil {
		t.Fatal(err)
	}
	return c.Stats()
}

// steady runs measure until it runs without a session-state change
// (disconnection, reconnection, expiry) of any of clients, at most 5 times,
// and fails the test if none did. Connection loss is not a recipe's cost:
// requests lost with a connection are sent again (and counted again), and
// an expired session makes a watcher read everything afresh. Under load a
// stalled machine drops connections; a count is exact only when measured
// over an unbroken connection, so a measurement spanning a break is void.
func steady(t *testing.T, clients []*zkclient.Client, measure func()) {
	t.Helper()
	for try := 1; try <= 5; try++ {
		changed := make([]<-chan struct{}, len(clients))
		for i, c := range clients {
			changed[i] = c.Changed()
		}
		measure()
		broken := false
		for _, ch := range changed {
			select {
			case <-ch:
				broken = true
			default:
			}
		}
		if !broken {
			return
		}
		t.Logf("a connection broke during measurement %d; measuring again", try)
	}
	t.Fatal("no measurement over unbroken connections in 5 tries (the machine is too loaded)")
}

// cost is what happened between two settled points, not counting the
// second point's own Sync.
func cost(before, after zkclient.Stats) zkclient.Stats {
	return zkclient.Stats{Requests: after.Requests - before.Requests - 1, WatchEvents: after.WatchEvents - before.WatchEvents}
}

// watchedPaths lists the paths the shared server holds watches on for
// session id (the wchc four-letter word): tests use it to know that
// waiters have settled on their watches.
func watchedPaths(t *testing.T, id int64) []string {
	t.Helper()
	out, err := shared.FourLetter("wchc")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	in := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "0x"):
			in = line == fmt.Sprintf("0x%x", id)
		case in && strings.HasPrefix(line, "\t"):
			paths = append(paths, strings.TrimSpace(line))
		}
	}
	return paths
}

// sessionOf is c's live session.
func sessionOf(t *testing.T, c *zkclient.Client) *zkclient.Session {
	t.Helper()
	s, err := c.Session(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serverWatches is the shared server's total number of watches (data and
// child: mntr's zk_watch_count). Only tests that do not run in parallel
// may rely on it.
func serverWatches(t *testing.T) int {
	t.Helper()
	out, err := shared.FourLetter("mntr")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "zk_watch_count\t"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no zk_watch_count in mntr: %q", out)
	return 0
}
