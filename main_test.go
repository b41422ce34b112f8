package paddock_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// One ZooKeeper serves the package; each test works under a root of its
// own, with its own master and worker when it needs them.
var shared *zktest.Server

// servers is the shared ZooKeeper's address, set before any test or
// Example runs: the Examples dial it as a program dials its ensemble, and
// find a master and a worker serving paddock.DefaultRoot there.
var servers []string

func TestMain(m *testing.M) { zktest.MainNoLeaks(withDeployment{m}, &shared) }

// withDeployment runs the tests with a master and a worker serving the
// Examples' root, and stops them before the leak check.
type withDeployment struct{ m *testing.M }

func (w withDeployment) Run() int {
	servers = []string{shared.Addr()}
	d, err := startDeployment(paddock.DefaultRoot, zap.NewNop())
	if err == nil {
		err = ready(paddock.DefaultRoot)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the Examples' master and worker:", err)
		return 1
	}
	code := w.m.Run()
	if err := d.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the Examples' master and worker:", err)
		return 1
	}
	return code
}

// daemon is a master or a worker run in the test process, on a
// connection of its own as a separate process would have.
type daemon struct {
	c      *zkclient.Client
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func startDaemon(log *zap.Logger, run func(ctx context.Context, c *zkclient.Client) error) (*daemon, error) {
	c, err := zkclient.Dial(context.Background(), zkclient.Config{Servers: servers, SessionTimeout: 2 * time.Second,
		ConnectTimeout: 10 * time.Second, Logger: log})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(ctx, c)
		if ctx.Err() != nil {
			err = nil // stopped, maybe before it was up: not a failure
		}
		d.done <- err
	}()
	return d, nil
}

// stop is a graceful shutdown (SIGTERM), then the end of its session; it
// returns what Run returned. Stopping twice is harmless.
func (d *daemon) stop() error {
	d.once.Do(func() {
		d.cancel()
		d.err = <-d.done
		d.c.Close()
	})
	return d.err
}

// deployment is a master and a worker (sleep, echo and fail) serving one
// root.
type deployment struct {
	master, worker *daemon
}

func startDeployment(root string, log *zap.Logger) (*deployment, error) {
	l, err := coord.NewLayout(root)
	if err != nil {
		return nil, err
	}
	m, err := startDaemon(log.Named("master"), func(ctx context.Context, c *zkclient.Client) error {
		if err := coord.EnsureLayout(ctx, c, l); err != nil {
			return err
		}
		return master.Run(ctx, c, l, master.Config{ID: "m1", Logger: log.Named("master")})
	})
	if err != nil {
		return nil, err
	}
	w, err := startDaemon(log.Named("worker"), func(ctx context.Context, c *zkclient.Client) error {
		w, err := worker.New(worker.Config{Client: c, Root: l.Root(), ID: "w1", Concurrency: 4,
			DrainTimeout: 100 * time.Millisecond, Logger: log.Named("worker")})
		if err != nil {
			return err
		}
		w.HandleBuiltins()
		return w.Run(ctx)
	})
	if err != nil {
		_ = m.stop()
		return nil, err
	}
	return &deployment{master: m, worker: w}, nil
}

func (d *deployment) stop() error {
	werr := d.worker.stop()
	if merr := d.master.stop(); merr != nil {
		return merr
	}
	return werr
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rootFor gives each test a fresh root of its own on the shared server.
func rootFor(t testing.TB) string {
	t.Helper()
	root := "/t-sdk-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	c := dialZK(t)
	zktest.DeleteTree(t, c.Conn(), root)
	return root
}

// dialZK is a plain connection for what the test checks behind the
// client's back.
func dialZK(t testing.TB) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(ctxT(t), zkclient.Config{Servers: servers, ConnectTimeout: 10 * time.Second,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newClient dials a paddock.Client of root.
func newClient(t testing.TB, root string) *paddock.Client {
	t.Helper()
	c, err := paddock.Dial(ctxT(t), paddock.Config{Servers: servers, Root: root, ConnectTimeout: 10 * time.Second,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// deploy starts a master and a worker serving a fresh root, stopped when
// the test ends, and returns a client of it.
func deploy(t *testing.T) (*paddock.Client, *deployment) {
	t.Helper()
	root := rootFor(t)
	d, err := startDeployment(root, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("deployment: %v", err)
		}
	})
	if err := ready(root); err != nil {
		t.Fatal(err)
	}
	return newClient(t, root), d
}

// ready waits until the deployment of root has a leader that has taken
// over and a registered worker, so that what the caller submits next
// runs at once.
func ready(root string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers, Root: root})
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		st, err := c.Status(ctx)
		if err == nil && st.Leader != nil && !st.TakingOver && len(st.Workers) == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no leader and worker under %s within 30s (last: %+v, %v)", root, st, err)
		case <-time.After(20 * time.Millisecond): // polling: nothing to watch for both at once
		}
	}
}

// initialized is a client of a fresh root with its tree and no daemons:
// its tasks stay pending.
func initialized(t *testing.T) *paddock.Client {
	t.Helper()
	c := newClient(t, rootFor(t))
	if err := c.Init(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return c
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	zktest.Eventually(t, 30*time.Second, what, cond)
}
