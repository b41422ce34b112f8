package zkclient_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
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

// rootFor gives each test its own path on the shared server.
func rootFor(t *testing.T) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return "/t-zkclient-" + name
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

// dirFor creates a fresh, empty znode for the test on the shared server.
func dirFor(t *testing.T, c *zkclient.Client) string {
	t.Helper()
	root := rootFor(t)
	deleteTree(t, c, root)
	if _, err := c.Create(ctxT(t), root, nil, zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	return root
}
