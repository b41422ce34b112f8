package master_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

var shared *zktest.Server

func TestMain(m *testing.M) { zktest.MainNoLeaks(m, &shared) }

const sessionTimeout = time.Second

// env is one test's deployment: a tree, and processes run as goroutines,
// each with its own ZooKeeper connection (as separate processes would).
type env struct {
	t    *testing.T
	l    coord.Layout
	logs *observer.ObservedLogs
	core zapcore.Core
	ctl  *zkclient.Client // the test's own connection
	q    *coord.Queue
}

func newEnv(t *testing.T) *env {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	e := &env{t: t, logs: logs, core: core}
	e.l = coord.MustLayout("/t-" + strings.ReplaceAll(t.Name(), "/", "-"))
	e.ctl = e.dial("control", shared.Addr())
	zktest.DeleteTree(t, e.ctl.Conn(), e.l.Root())
	if err := coord.EnsureLayout(context.Background(), e.ctl, e.l); err != nil {
		t.Fatal(err)
	}
	e.q = coord.NewQueue(e.ctl, e.l, 0)
	return e
}

func (e *env) logger(name string) *zap.Logger {
	return zap.New(zapcore.NewTee(e.core, zaptest.NewLogger(e.t, zaptest.Level(zap.InfoLevel)).Core())).Named(name).With(zap.String("id", name))
}

func (e *env) dial(name, addr string) *zkclient.Client {
	e.t.Helper()
	c, err := zkclient.Dial(context.Background(), zkclient.Config{
		Servers: []string{addr}, SessionTimeout: sessionTimeout, ConnectTimeout: 10 * time.Second,
		Logger: zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)).Named(name),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	return c
}

// proc is a master or worker running in the test.
type proc struct {
	name   string
	c      *zkclient.Client
	cancel context.CancelFunc
	done   chan error
}

// stop is a graceful shutdown (SIGTERM).
func (p *proc) stop() {
	p.cancel()
	<-p.done
	p.c.Close()
}

// crash is kill -9 as ZooKeeper sees it: the connection closes without
// ending the session, which expires after the session timeout.
func (p *proc) crash(t *testing.T, proxy *zktest.Proxy) {
	proxy.Cut()
	proxy.Close()
	p.cancel()
	<-p.done
}

func (e *env) start(name, addr string, run func(ctx context.Context, c *zkclient.Client) error) *proc {
	return e.startOn(name, e.dial(name, addr), run)
}

// startOn is start over a connection the test dialed itself (to count its
// requests, or to leave its buffers out of a measure).
func (e *env) startOn(name string, c *zkclient.Client, run func(ctx context.Context, c *zkclient.Client) error) *proc {
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{name: name, c: c, cancel: cancel, done: make(chan error)}
	go func() {
		if err := run(ctx, c); err != nil {
			e.t.Errorf("%s: %v", name, err)
		}
		close(p.done)
	}()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			e.t.Errorf("%s did not stop", name)
		}
	})
	return p
}

func (e *env) master(name, addr string, retention time.Duration) *proc {
	return e.start(name, addr, e.runMaster(name, retention))
}

func (e *env) runMaster(name string, retention time.Duration) func(ctx context.Context, c *zkclient.Client) error {
	return func(ctx context.Context, c *zkclient.Client) error {
		return master.Run(ctx, c, e.l, master.Config{ID: name, Retention: retention, Logger: e.logger(name)})
	}
}

func (e *env) worker(name, addr string, concurrency int) *proc {
	return e.start(name, addr, func(ctx context.Context, c *zkclient.Client) error {
		return runWorker(ctx, c, e.l, worker.Config{ID: name, Concurrency: concurrency, DrainTimeout: time.Second, Logger: e.logger(name)}, false)
	})
}

// runWorker runs a worker with the built-in kinds, exec too when
// allowExec, on c.
func runWorker(ctx context.Context, c *zkclient.Client, l coord.Layout, cfg worker.Config, allowExec bool) error {
	cfg.Client, cfg.Root = c, l.Root()
	w, err := worker.New(cfg)
	if err != nil {
		return err
	}
	w.HandleBuiltins()
	if allowExec {
		w.Handle("exec", worker.Exec(nil))
	}
	return w.Run(ctx)
}

func (e *env) submit(kind, payload string, maxAttempts int) task.ID {
	e.t.Helper()
	id := task.NewID(time.Now())
	s := task.Spec{Kind: kind, MaxAttempts: maxAttempts, SubmittedAt: time.Now().UTC()}
	if err := e.q.Submit(context.Background(), id, s, []byte(payload)); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) wait(id task.ID, within time.Duration) task.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	r, err := e.q.Wait(ctx, id)
	if err != nil {
		e.t.Fatalf("task %s: %v", id, err)
	}
	return r
}

// waitLog waits for a log entry from process id with message msg.
func (e *env) waitLog(within time.Duration, id, msg string) observer.LoggedEntry {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, le := range e.logs.FilterMessage(msg).All() {
			if le.ContextMap()["id"] == id {
				return le
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no %q from %s within %v", msg, id, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) countLogs(id, msg string, after time.Time) int {
	n := 0
	for _, le := range e.logs.FilterMessage(msg).All() {
		if le.ContextMap()["id"] == id && le.Time.After(after) {
			n++
		}
	}
	return n
}

// persistent is the flags of a persistent znode (go-zookeeper's FlagPersistent).
const persistent = 0

// writeRaw creates znodes in one multi, as another tool would: pairs of
// path and data, no questions asked.
func (e *env) writeRaw(pathData ...string) {
	e.t.Helper()
	var ops []zkclient.Op
	for i := 0; i+1 < len(pathData); i += 2 {
		ops = append(ops, zkclient.CreateOp(pathData[i], []byte(pathData[i+1]), persistent))
	}
	if _, err := e.ctl.Multi(context.Background(), ops...); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) children(p string) []string {
	e.t.Helper()
	names, _, err := e.ctl.Children(context.Background(), p)
	if err != nil {
		e.t.Fatal(err)
	}
	return names
}

func TestTasksRunExactlyOnceAcrossWorkers(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("w1", shared.Addr(), 4)
	e.worker("w2", shared.Addr(), 4)
	const n = 300
	ids := make([]task.ID, n)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = e.submit("echo", fmt.Sprint(i), 0)
	}
	results := make([]task.Result, n)
	for i := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = e.wait(ids[i], 60*time.Second) }()
	}
	wg.Wait()
	by := map[string]int{}
	for i, r := range results {
		if r.Status != task.Succeeded || r.Output != fmt.Sprint(i) || r.Attempts != 1 {
			t.Fatalf("task %d: %+v", i, r)
		}
		by[r.Worker]++
	}
	if by["w1"] == 0 || by["w2"] == 0 {
		t.Errorf("work not spread: %v", by)
	}
	if n := len(e.children(e.l.AssignDir("w1"))) + len(e.children(e.l.AssignDir("w2"))); n != 0 {
		t.Errorf("%d assignments left", n)
	}
}

func TestLostWorkersTasksAreReassignedWithinSessionTimeout(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	proxy := zktest.NewProxy(t, shared.Addr())
	doomed := e.worker("doomed", proxy.Addr(), 2)
	e.waitLog(10*time.Second, "doomed", "worker registered")
	a, b := e.submit("sleep", "30", 0), e.submit("sleep", "30", 0)
	zktest.Eventually(t, 10*time.Second, "both tasks assigned to doomed", func() bool { return len(e.children(e.l.AssignDir("doomed"))) == 2 })
	e.worker("spare", shared.Addr(), 2)
	e.waitLog(10*time.Second, "spare", "worker registered")

	killed := time.Now()
	doomed.crash(t, proxy)
	// Both tasks start on the spare worker within the session timeout, plus
	// the server's expiry tick, plus a generous 3 s: on a loaded 2-core
	// machine (CI, benchmarks beside it) the expiry, the master's wake-up
	// and the worker's start each wait for a core; 2.5 s was seen there.
	// The figure itself is measured, quiet, in BENCHMARKS.md.
	bound := sessionTimeout + 250*time.Millisecond + 3*time.Second
	for _, id := range []task.ID{a, b} {
		deadline := time.Now().Add(bound + 2*time.Second)
		var started time.Time
		for started.IsZero() {
			for _, le := range e.logs.FilterMessage("task started").All() {
				if le.ContextMap()["id"] == "spare" && le.ContextMap()["task"] == string(id) {
					started = le.Time
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s not restarted on the spare worker", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := started.Sub(killed)
		t.Logf("task %s reassigned %v after the worker was cut off (session timeout %v)", id, took.Round(time.Millisecond), sessionTimeout)
		if took > bound {
			t.Errorf("reassignment took %v, want <= %v", took, bound)
		}
	}
	for _, id := range []task.ID{a, b} {
		s, _, err := e.q.Spec(context.Background(), id)
		if err != nil || s.Attempts != 2 || s.Worker != "spare" || s.LastWorker != "doomed" {
			t.Fatalf("spec after reassignment %+v %v", s, err)
		}
	}
	zktest.Eventually(t, 10*time.Second, "the lost worker's dir to be removed", func() bool {
		st, _ := e.ctl.Exists(context.Background(), e.l.AssignDir("doomed"))
		return st == nil
	})
}

func TestWorkerSurvivesSessionExpiry(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	proxy := zktest.NewProxy(t, shared.Addr())
	w := e.worker("w", proxy.Addr(), 2)
	e.waitLog(10*time.Second, "w", "worker registered")
	old, _ := w.c.Session(context.Background())
	proxy.Blackhole()
	shared.WaitSessionGone(t, old.ID())
	proxy.Restore()
	e.waitLog(15*time.Second, "w", "session lost; registering again")
	zktest.Eventually(t, 15*time.Second, "re-registration", func() bool {
		st, _ := e.ctl.Exists(context.Background(), e.l.Worker("w"))
		return st != nil && st.EphemeralOwner != old.ID()
	})
	r := e.wait(e.submit("echo", "after", 0), 20*time.Second)
	if r.Status != task.Succeeded || r.Worker != "w" {
		t.Fatalf("%+v", r)
	}
}

func TestBackupTakesOverOnGracefulStop(t *testing.T) {
	e := newEnv(t)
	m1 := e.master("m1", shared.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m1", "elected: leading")
	e.master("m2", shared.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m2", "standing by as backup")
	e.worker("w", shared.Addr(), 4)
	first := e.wait(e.submit("echo", "1", 0), 20*time.Second)
	stopped := time.Now()
	m1.stop()
	le := e.waitLog(10*time.Second, "m2", "elected: leading")
	took := le.Time.Sub(stopped)
	t.Logf("takeover %v after a graceful stop", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("graceful takeover took %v, want < 1 s", took)
	}
	second := e.wait(e.submit("echo", "2", 0), 20*time.Second)
	if first.Epoch+1 != second.Epoch {
		t.Errorf("epochs %d then %d", first.Epoch, second.Epoch)
	}
}

func TestLaggingMasterIsFenced(t *testing.T) {
	// The leader is cut off past its session timeout (a long GC pause, as
	// ZooKeeper sees it); the backup takes over; the old leader comes back
	// believing it leads and must not write anything.
	e := newEnv(t)
	proxy := zktest.NewProxy(t, shared.Addr())
	m1 := e.master("m1", proxy.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m1", "elected: leading")
	e.master("m2", shared.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m2", "standing by as backup")
	e.worker("w", shared.Addr(), 4)
	e.wait(e.submit("echo", "before", 0), 20*time.Second)

	sess, _ := m1.c.Session(context.Background())
	proxy.Blackhole()
	shared.WaitSessionGone(t, sess.ID())
	e.waitLog(10*time.Second, "m2", "elected: leading")
	// Tasks submitted while m1 is away go to m2.
	during := e.submit("echo", "during", 0)
	r := e.wait(during, 20*time.Second)
	restored := time.Now()
	proxy.Restore()
	e.waitLog(15*time.Second, "m1", "deposed: stepping down to backup")
	e.waitLog(15*time.Second, "m1", "standing by as backup")
	after := e.wait(e.submit("echo", "after", 0), 20*time.Second)
	if n := e.countLogs("m1", "assigned", restored); n != 0 {
		t.Errorf("the deposed master logged %d assignments after it came back", n)
	}
	if r.Epoch < 2 || after.Epoch != r.Epoch {
		t.Errorf("epochs: during %d, after %d", r.Epoch, after.Epoch)
	}
}

func TestMalformedTaskIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("w", shared.Addr(), 2)
	bad := task.NewID(time.Now())
	ctx := context.Background()
	// Another tool writes garbage where a task should be.
	if _, err := e.ctl.Multi(ctx,
		zkclient.CreateOp(e.l.Payload(bad), []byte("x"), persistent),
		zkclient.CreateOp(e.l.Task(bad), []byte("not json"), persistent)); err != nil {
		t.Fatal(err)
	}
	// And a znode that is not a task id at all.
	if _, err := e.ctl.Create(ctx, e.l.TaskShard("00")+"/garbage", nil, persistent); err != nil {
		t.Fatal(err)
	}
	r := e.wait(bad, 20*time.Second)
	if r.Status != task.Dead || !strings.HasPrefix(r.Error, task.ReasonMalformed) {
		t.Fatalf("garbage task: %+v", r)
	}
	data, _, err := e.ctl.Get(ctx, e.l.DeadLetter(bad))
	if err != nil {
		t.Fatal(err)
	}
	d, err := task.DecodeDeadLetter(data)
	if err != nil || d.Reason != task.ReasonMalformed || d.Spec != "not json" {
		t.Fatalf("dead letter %+v %v", d, err)
	}
	// The master carries on.
	if r := e.wait(e.submit("echo", "fine", 0), 20*time.Second); r.Status != task.Succeeded {
		t.Fatalf("%+v", r)
	}
}

func TestTaskThatKeepsLosingWorkersIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	id := e.submit("sleep", "60", 2)
	for i := 1; i <= 2; i++ {
		name := fmt.Sprintf("w%d", i)
		proxy := zktest.NewProxy(t, shared.Addr())
		w := e.worker(name, proxy.Addr(), 1)
		zktest.Eventually(t, 15*time.Second, name+" to get the task", func() bool {
			for _, le := range e.logs.FilterMessage("task started").All() {
				if le.ContextMap()["id"] == name {
					return true
				}
			}
			return false
		})
		w.crash(t, proxy)
	}
	r := e.wait(id, 20*time.Second)
	if r.Status != task.Dead || !strings.HasPrefix(r.Error, task.ReasonMaxAttempts) || r.Attempts != 2 {
		t.Fatalf("%+v", r)
	}
}

func TestCancelKillsARunningTask(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("w", shared.Addr(), 1)
	id := e.submit("sleep", "60", 0)
	e.waitLog(20*time.Second, "w", "task started")
	if _, err := e.q.Cancel(context.Background(), id, "test"); err != nil {
		t.Fatal(err)
	}
	e.waitLog(10*time.Second, "w", "assignment withdrawn; stopping task")
	if r := e.wait(id, 5*time.Second); r.Status != task.Cancelled {
		t.Fatalf("%+v", r)
	}
	// The slot is free again.
	if r := e.wait(e.submit("echo", "next", 0), 20*time.Second); r.Status != task.Succeeded {
		t.Fatalf("%+v", r)
	}
}

func TestUncollectedResultsExpire(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), 1500*time.Millisecond)
	e.worker("w", shared.Addr(), 1)
	id := e.submit("echo", "forgotten", 0)
	e.wait(id, 20*time.Second)
	zktest.Eventually(t, 10*time.Second, "the result and payload to expire", func() bool {
		r, _ := e.ctl.Exists(context.Background(), e.l.Result(id))
		p, _ := e.ctl.Exists(context.Background(), e.l.Payload(id))
		return r == nil && p == nil
	})
	if _, err := e.q.Result(context.Background(), id); !errors.Is(err, coord.ErrUnknownTask) {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestBacklogCostsTheMasterNothingUntilThereIsRoom(t *testing.T) {
	e := newEnv(t)
	mc := e.dial("m1", shared.Addr())
	e.startOn("m1", mc, e.runMaster("m1", 0))
	e.waitLog(10*time.Second, "m1", "took over")
	const n = 2000
	ids := make([]task.ID, n)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 16 {
				ids[i] = e.submit("echo", "x", 0)
			}
		}()
	}
	wg.Wait()
	// With no worker, the master has no room: submissions cost it at most
	// the one notification per shard that marks the shard.
	before := mc.Stats()
	for range 200 {
		e.submit("echo", "more", 0)
	}
	if err := mc.Sync(context.Background(), e.l.Tasks()); err != nil {
		t.Fatal(err)
	}
	after := mc.Stats()
	if d := after.Requests - before.Requests; d > 1 { // the Sync
		t.Errorf("the master made %d requests while tasks piled up with no worker", d-1)
	}
	e.worker("w", shared.Addr(), 16)
	for _, id := range ids {
		if r := e.wait(id, 60*time.Second); r.Status != task.Succeeded {
			t.Fatalf("%+v", r)
		}
	}
}

func TestWorkerDrainsOnShutdownAndAbandonsTheRest(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	w := e.worker("w", shared.Addr(), 2) // drain timeout 1 s
	e.waitLog(10*time.Second, "w", "worker registered")
	short := e.submit("sleep", "0.3", 0)
	long := e.submit("sleep", "30", 0)
	zktest.Eventually(t, 10*time.Second, "both running", func() bool { return e.countLogs("w", "task started", time.Time{}) == 2 })
	w.stop()
	if r := e.wait(short, 5*time.Second); r.Status != task.Succeeded || r.Worker != "w" {
		t.Fatalf("the short task should finish during the drain: %+v", r)
	}
	e.waitLog(5*time.Second, "w", "task abandoned on shutdown; the master will reassign it")
	// The long one was abandoned: another worker picks it up.
	e.worker("w2", shared.Addr(), 1)
	e.waitLog(10*time.Second, "w2", "task started")
	s, _, err := e.q.Spec(context.Background(), long)
	if err != nil || s.Worker != "w2" || s.Attempts != 2 {
		t.Fatalf("%+v %v", s, err)
	}
}

func TestLiveSettings(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("w", shared.Addr(), 1)
	e.waitLog(10*time.Second, "w", "worker registered")
	cfg := coord.PaddockConfig(e.ctl, e.l)
	ctx := context.Background()

	// worker.concurrency for this worker: 3 sleeps run at once.
	if err := cfg.Set(ctx, coord.KeyWorkerConcurrency, "3", "w"); err != nil {
		t.Fatal(err)
	}
	e.waitLog(10*time.Second, "w", "concurrency changed")
	zktest.Eventually(t, 10*time.Second, "the master to see the new capacity", func() bool {
		for _, le := range e.logs.FilterMessage("worker ready").All() {
			if le.ContextMap()["worker"] == "w" && le.ContextMap()["concurrency"] == int64(3) {
				return true
			}
		}
		return false
	})
	var ids []task.ID
	for range 3 {
		ids = append(ids, e.submit("sleep", "2", 0))
	}
	zktest.Eventually(t, 10*time.Second, "three tasks running at once", func() bool { return e.countLogs("w", "task started", time.Time{}) == 3 })
	if n := e.countLogs("w", "task finished", time.Time{}); n != 0 {
		t.Fatalf("%d finished before all three started: not concurrent", n)
	}
	for _, id := range ids {
		e.wait(id, 20*time.Second)
	}

	// master.retention service-wide: an uncollected result goes quickly.
	if err := cfg.Set(ctx, coord.KeyMasterRetention, "1500ms", ""); err != nil {
		t.Fatal(err)
	}
	e.waitLog(10*time.Second, "m1", "result retention changed")
	id := e.submit("echo", "x", 0)
	e.wait(id, 20*time.Second)
	zktest.Eventually(t, 15*time.Second, "the result to expire by the new retention", func() bool {
		st, _ := e.ctl.Exists(ctx, e.l.Result(id))
		return st == nil
	})
}

func TestKindsRouteToWorkersThatAdvertiseThem(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("plain", shared.Addr(), 4) // no exec
	e.start("execer", shared.Addr(), func(ctx context.Context, c *zkclient.Client) error {
		return runWorker(ctx, c, e.l, worker.Config{ID: "execer", Concurrency: 1, Logger: e.logger("execer")}, true)
	})
	// Until the master has read the exec worker's registration, no worker
	// it knows runs exec, and an exec task would go anywhere (to fail).
	zktest.Eventually(t, 10*time.Second, "the master to know both workers", func() bool {
		n := 0
		for _, le := range e.logs.FilterMessage("worker ready").All() {
			if w := le.ContextMap()["worker"]; w == "plain" || w == "execer" {
				n++
			}
		}
		return n >= 2
	})
	var ids []task.ID
	for range 4 {
		ids = append(ids, e.submit("exec", `["true"]`, 0))
	}
	for _, id := range ids {
		if r := e.wait(id, 20*time.Second); r.Status != task.Succeeded || r.Worker != "execer" {
			t.Fatalf("an exec task went to %s: %+v", r.Worker, r)
		}
	}
}

func TestTasksBehindUnplaceableOnesStillRun(t *testing.T) {
	// The oldest pending tasks are exec, and the only exec worker is busy;
	// echo tasks behind them must still go to the free plain worker.
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("plain", shared.Addr(), 2)
	e.start("execer", shared.Addr(), func(ctx context.Context, c *zkclient.Client) error {
		return runWorker(ctx, c, e.l, worker.Config{ID: "execer", Concurrency: 1, Logger: e.logger("execer")}, true)
	})
	zktest.Eventually(t, 10*time.Second, "the master to know both workers", func() bool {
		n := 0
		for _, le := range e.logs.FilterMessage("worker ready").All() {
			if w := le.ContextMap()["worker"]; w == "plain" || w == "execer" {
				n++
			}
		}
		return n >= 2
	})
	blocker := e.submit("exec", `["sleep","30"]`, 0)
	e.waitLog(10*time.Second, "execer", "task started")
	for range 6 {
		e.submit("exec", `["true"]`, 0)
	}
	var echoes []task.ID
	for range 4 {
		echoes = append(echoes, e.submit("echo", "behind", 0))
	}
	for _, id := range echoes {
		if r := e.wait(id, 15*time.Second); r.Status != task.Succeeded || r.Worker != "plain" {
			t.Fatalf("%+v", r)
		}
	}
	if _, err := e.q.Cancel(context.Background(), blocker, "test"); err != nil {
		t.Fatal(err)
	}
}
