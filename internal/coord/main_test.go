package coord_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap/zaptest"
)

// One ZooKeeper serves the package; each test works under its own root.
// Tests that stop or cut the server start their own.
var shared *zktest.Server

func TestMain(m *testing.M) { zktest.MainNoLeaks(m, &shared) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects to addr with a short session timeout.
func dial(t *testing.T, addr string) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(ctxT(t), zkclient.Config{
		Servers:        []string{addr},
		SessionTimeout: time.Second,
		ConnectTimeout: 10 * time.Second,
		Logger:         zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// rootFor gives each test its own Paddock tree on the shared server.
func rootFor(t *testing.T) coord.Layout {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return coord.MustLayout("/t-" + name)
}

// layoutFor creates a fresh tree for the test.
func layoutFor(t *testing.T, c *zkclient.Client) coord.Layout {
	t.Helper()
	l := rootFor(t)
	deleteTree(t, c, l.Root())
	if err := coord.EnsureLayout(ctxT(t), c, l); err != nil {
		t.Fatal(err)
	}
	return l
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

// settled returns c's counters once every watch notification caused by
// writes made so far has reached it: ZooKeeper sends a notification before
// the replies that follow it on the same connection, so a Sync round trip
// flushes them. Use cost to compare two of them.
func settled(t *testing.T, c *zkclient.Client) zkclient.Stats {
	t.Helper()
	if err := c.Sync(ctxT(t), "/"); err != nil {
		t.Fatal(err)
	}
	return c.Stats()
}

// cost is what happened between two settled points, not counting the
// second point's own Sync.
func cost(before, after zkclient.Stats) zkclient.Stats {
	return zkclient.Stats{Requests: after.Requests - before.Requests - 1, WatchEvents: after.WatchEvents - before.WatchEvents}
}

// proxied dials the shared server through a proxy of its own, for tests
// that cut the client's connection.
func proxied(t *testing.T) (*zktest.Proxy, *zkclient.Client) {
	t.Helper()
	p := zktest.NewProxy(t, shared.Addr())
	return p, dial(t, p.Addr())
}
