package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// One ZooKeeper serves the package; each test works under its own root.
var shared *zktest.Server

func TestMain(m *testing.M) { zktest.MainNoLeaks(m, &shared) }

func dial(t *testing.T) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(context.Background(), zkConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func zkConfig(t *testing.T) zkclient.Config {
	return zkclient.Config{
		Servers: []string{shared.Addr()}, SessionTimeout: time.Second, ConnectTimeout: 10 * time.Second,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	}
}

// env is one test's Paddock: its own tree with a master leading it, and a
// connection to submit tasks and read results with.
type env struct {
	t   *testing.T
	ctl *zkclient.Client
	l   coord.Layout
	q   *coord.Queue
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, ctl: dial(t), l: coord.MustLayout("/t-" + t.Name())}
	zktest.DeleteTree(t, e.ctl.Conn(), e.l.Root())
	if err := coord.EnsureLayout(context.Background(), e.ctl, e.l); err != nil {
		t.Fatal(err)
	}
	e.q = coord.NewQueue(e.ctl, e.l, 0)
	c := dial(t)
	go_(t, func(ctx context.Context) error {
		return master.Run(ctx, c, e.l, master.Config{ID: "m", Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	})
	return e
}

// config is a worker's Config in e: on a connection of its own, which Run
// closes when it returns (the master then reassigns at once what it left).
func (e *env) config(id string) worker.Config {
	return worker.Config{ZK: zkConfig(e.t), Root: e.l.Root(), ID: id,
		Logger: zaptest.NewLogger(e.t, zaptest.Level(zap.InfoLevel)).Named(id)}
}

// newWorker is worker.New(cfg), failing the test on error.
func (e *env) newWorker(cfg worker.Config) *worker.Worker {
	w, err := worker.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// start runs w until the returned stop is called (or the test ends).
func (e *env) start(w *worker.Worker) (stop func()) {
	return go_(e.t, w.Run)
}

// go_ runs f until the returned stop is called (or the test ends), failing
// the test if f returns an error.
func go_(t *testing.T, f func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// submit writes a task of kind with payload; edit, if given, changes its
// Spec first.
func (e *env) submit(kind, payload string, edit ...func(*task.Spec)) task.ID {
	e.t.Helper()
	id := task.NewID(time.Now())
	spec := task.Spec{Kind: kind, SubmittedAt: time.Now().UTC()}
	for _, f := range edit {
		f(&spec)
	}
	if err := e.q.Submit(context.Background(), id, spec, []byte(payload)); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func timeout(d time.Duration) func(*task.Spec) {
	return func(s *task.Spec) { s.TimeoutMS = d.Milliseconds() }
}

func (e *env) wait(id task.ID) task.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := e.q.Wait(ctx, id)
	if err != nil {
		e.t.Fatalf("task %s: %v", id, err)
	}
	return r
}

// signal is a channel a handler closes once, however often it runs.
type signal struct {
	once *sync.Once
	ch   chan struct{}
}

func newSignal() signal { return signal{new(sync.Once), make(chan struct{})} }

func (s signal) fire() { s.once.Do(func() { close(s.ch) }) }

func (s signal) await(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
