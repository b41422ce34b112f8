// Package worker is Paddock's worker: it registers itself, runs what the
// master assigns to it, and completes each task with a multi conditional on
// the assignment still being its own. Execution is at-least-once; results
// are exactly-once.
package worker

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Defaults for Config.
const (
	DefaultConcurrency  = 4
	DefaultDrainTimeout = 10 * time.Second
)

// Config tunes a worker.
type Config struct {
	ID           string
	Concurrency  int
	Kinds        *task.Registry // what it runs; advertised in its registration
	DrainTimeout time.Duration  // on shutdown, how long running tasks may finish
	Version      string         // advertised in the registration
	Logger       *zap.Logger

	// Roles makes the worker also apply for roles (recipe.RoleMatch under
	// <root>/roles, as ID) and, while it holds one, run the role's data,
	// a JSON argv array, with the exec kind of Kinds, restarting it when it
	// exits. A role without data is held without a command.
	Roles bool

	// Metrics receives what the worker counts and whether it is ready
	// (nil: counted, not exported).
	Metrics *Metrics
	// Loop is told when the worker's main loop waits for events (nil: not
	// watched); see ops.Loop.
	Loop *ops.Loop
}

// Restart delays of a role's command that keeps exiting.
const (
	roleRestartMin   = time.Second
	roleRestartMax   = 30 * time.Second
	roleRestartReset = time.Minute // a run this long resets the delay
)

type worker struct {
	c     *zkclient.Client
	q     *coord.Queue
	l     coord.Layout
	pool  coord.Pool // <root>/workers: where it registers
	cfg   Config
	log   *zap.Logger
	lim   *limit
	m     *Metrics
	loop  *ops.Loop
	kinds map[string]bool // what it runs: the kind labels it uses

	infoMu sync.Mutex
	info   coord.WorkerInfo // what its registration says

	runCtx context.Context // executions and their completions; cancelled when draining ends
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[task.ID]*execution
	// refused are the tasks assigned here that ZooKeeper will not let the
	// worker read or complete (another identity's znodes, children another
	// tool put under them): not run again while they stay assigned, which
	// would only repeat the refusal.
	refused map[task.ID]bool
	// kick makes the watch loop list assign/<w> again: at the directory's
	// watch, and when an execution ended without a result (it must be
	// started again if still assigned).
	kick chan struct{}
}

type execution struct {
	cancel     context.CancelFunc
	revoked    bool // its assignment vanished: do not complete
	completing bool // its own completion removes the assignment: not a revocation
}

// Run registers the worker and serves assignments until ctx is done, then
// drains: it tells the master it takes no more work, lets running tasks
// finish for up to DrainTimeout, and abandons the rest (their assignments
// stay, and the master gives them to another worker once this one's session
// is closed).
func Run(ctx context.Context, c *zkclient.Client, l coord.Layout, cfg Config) error {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Kinds == nil {
		cfg.Kinds = task.Builtin(false)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Roles && !slices.Contains(cfg.Kinds.Names(), "exec") {
		return errors.New("worker: Roles needs the exec kind: a role's data is a command")
	}
	runCtx, stopRuns := context.WithCancel(context.Background())
	defer stopRuns()
	w := &worker{
		c: c, q: coord.NewQueue(c, l, 0).WithBatcher(zkclient.NewBatcher(c, 64)), l: l, pool: coord.NewPool(c, l), cfg: cfg, log: cfg.Logger,
		lim: newLimit(cfg.Concurrency), runCtx: runCtx, m: cfg.Metrics, loop: cfg.Loop, kinds: make(map[string]bool),
		running: make(map[task.ID]*execution),
		refused: make(map[task.ID]bool),
		kick:    make(chan struct{}, 1),
	}
	for _, k := range cfg.Kinds.Names() {
		w.kinds[k] = true
	}
	w.m.prepare(cfg.Kinds.Names())
	w.m.nConcurrency.Store(int64(cfg.Concurrency))
	w.m.draining.Store(false)
	w.info = coord.WorkerInfo{Member: recipe.Self(cfg.ID), Concurrency: cfg.Concurrency, Kinds: cfg.Kinds.Names(), Version: cfg.Version}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := coord.PaddockConfig(c, l).Watch(wctx, cfg.ID, w.configure); err != nil {
		return ignoreCancel(ctx, err)
	}
	rctx, stopRoles := context.WithCancel(ctx)
	rolesDone := make(chan struct{})
	if cfg.Roles {
		go func() {
			defer close(rolesDone)
			w.applyForRoles(rctx)
		}()
	} else {
		close(rolesDone)
	}
	err := w.serve(ctx)
	w.m.draining.Store(true)
	// The loop has ended; the drain waits for tasks, bounded by its timeout.
	w.loop.Waiting()
	// A role goes to the next applicant at once, not after the drain.
	stopRoles()
	w.drain(stopRuns)
	<-rolesDone
	return err
}

// applyForRoles stands in the role match's applicants queue until ctx
// ends, and runs the command of each role it holds.
func (w *worker) applyForRoles(ctx context.Context) {
	rm := recipe.NewRoleMatch(w.c, w.l.Roles())
	delay := roleRestartMin
	for {
		err := rm.Apply(ctx, w.cfg.ID, w.holdRole)
		if ctx.Err() != nil || errors.Is(err, zkclient.ErrClosed) {
			return
		}
		w.log.Error("role match failed; applying again", zap.Error(err), zap.Duration("in", delay))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, roleRestartMax)
	}
}

// holdRole is called by the role match while the worker holds r, with a
// ctx cancelled when it loses it. It runs the role's command until then.
func (w *worker) holdRole(ctx context.Context, r recipe.Role) {
	log := w.log.With(zap.String("role", r.Name))
	log.Info("role claimed", zap.Int64("token", r.Token))
	w.m.nRoles.Add(1)
	defer w.m.nRoles.Add(-1)
	defer func() { log.Info("role lost", zap.String("reason", context.Cause(ctx).Error())) }()
	if r.Data == "" {
		<-ctx.Done()
		return
	}
	argv, err := task.ParseArgv([]byte(r.Data))
	if err != nil {
		log.Error("role data is not a command; holding the role without running anything", zap.Error(err))
		<-ctx.Done()
		return
	}
	payload := []byte(r.Data)
	delay := roleRestartMin
	for {
		started := time.Now()
		log.Info("role command started", zap.Strings("argv", argv))
		// Cancelling ctx kills the command's process group (the exec kind).
		out := w.cfg.Kinds.Run(ctx, "exec", payload, 0)
		if ctx.Err() != nil {
			return
		}
		ran := time.Since(started)
		if ran >= roleRestartReset {
			delay = roleRestartMin
		}
		code := -1
		if out.ExitCode != nil {
			code = *out.ExitCode
		}
		fields := []zap.Field{zap.Int("exit_code", code), zap.Duration("ran", ran), zap.Duration("restart_in", delay)}
		if out.Err != nil {
			fields = append(fields, zap.String("error", out.Err.Error()))
		}
		if out.Stderr != "" {
			fields = append(fields, zap.String("stderr", tail(out.Stderr, 1024)))
		}
		log.Warn("role command exited", fields...)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, roleRestartMax)
	}
}

// tail keeps the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// configure applies the live settings (called by the config watch): a
// worker.concurrency value overrides --concurrency until it is unset. The
// new concurrency is advertised so the master sizes its assignments to it.
func (w *worker) configure(values map[string]string, err error) {
	if err != nil {
		w.log.Warn("config is unreadable; keeping the current settings", zap.Error(err))
		return
	}
	n := w.cfg.Concurrency
	if v, ok := values[coord.KeyWorkerConcurrency]; ok {
		if n, err = coord.ParseConcurrency(v); err != nil {
			w.log.Warn("ignoring an invalid setting", zap.String("key", coord.KeyWorkerConcurrency), zap.Error(err))
			n = w.cfg.Concurrency
		}
	}
	w.infoMu.Lock()
	changed := w.info.Concurrency != n
	w.info.Concurrency = n
	info := w.info
	w.infoMu.Unlock()
	if !changed {
		return
	}
	w.lim.resize(n)
	w.m.nConcurrency.Store(int64(n))
	w.log.Info("concurrency changed", zap.Int("concurrency", n))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.pool.Advertise(ctx, w.cfg.ID, info); err != nil {
		w.log.Warn("could not advertise the new concurrency; it applies at the next registration", zap.Error(err))
	}
}

func (w *worker) currentInfo() coord.WorkerInfo {
	w.infoMu.Lock()
	defer w.infoMu.Unlock()
	return w.info
}

func (w *worker) serve(ctx context.Context) error {
	for {
		w.loop.Waiting()
		sess, err := w.c.Session(ctx)
		w.loop.Working()
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		// The directory first: the master only assigns to registered
		// workers, and finds their directory ready.
		if err := coord.CreateAssignDir(ctx, w.c, w.l, w.cfg.ID); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !zkclient.IsConnectionError(err) {
				return err
			}
			continue
		}
		info := w.currentInfo()
		// Registering may wait for a registration of an earlier session to
		// go (an event, up to a session timeout).
		w.loop.Waiting()
		err = w.pool.Register(ctx, sess, w.cfg.ID, info)
		w.loop.Working()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, recipe.ErrSessionLost) {
				continue
			}
			return err
		}
		w.log.Info("worker registered", zap.String("worker", w.cfg.ID), zap.String("session", sess.String()),
			zap.Int("concurrency", info.Concurrency), zap.Strings("kinds", info.Kinds))
		w.m.setRegistered(true)
		err = w.watch(ctx, sess)
		w.m.setRegistered(false)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, recipe.ErrSessionLost) {
			w.log.Warn("session lost; registering again", zap.Int("running", w.count()))
			continue
		}
		if errors.Is(err, errUnregistered) {
			w.log.Warn("registration was deleted; registering again", zap.String("path", w.l.Worker(w.cfg.ID)))
			continue
		}
		return err
	}
}

// errUnregistered: the worker's registration was deleted (by hand, or with
// workers/) while its session lives.
var errUnregistered = errors.New("registration deleted")

// awaitUnregistered returns true once the worker's registration is gone
// (or no longer sess's) while sess lives, false when ctx ends first. It
// waits on a watch: a rewrite of the registration (Advertise) fires it too,
// and costs one look.
func (w *worker) awaitUnregistered(ctx context.Context, sess *zkclient.Session) bool {
	for {
		ok, watch, err := w.pool.Registered(ctx, sess, w.cfg.ID)
		switch {
		case err == nil && !ok:
			return sess.Alive()
		case err == nil:
			if !watch.Wait(ctx) {
				return false
			}
		case zkclient.IsConnectionError(err):
			if w.c.WaitConnected(ctx) != nil {
				return false
			}
		default:
			// Not the connection's (NoAuth on workers/?): registering again
			// would not mend it; the session's end still re-registers.
			if ctx.Err() == nil {
				w.log.Warn("cannot watch the registration", zap.Error(err))
			}
			<-ctx.Done()
			return false
		}
		if !sess.Alive() {
			return false
		}
	}
}

// watch follows the worker's assign/ directory for one session: new
// children are tasks to start, vanished ones are tasks to stop. Each
// listing's watch is waited for on a goroutine of this session's, which
// wakes the loop as an execution's kick does; watch stops them all before
// it returns.
func (w *worker) watch(ctx context.Context, sess *zkclient.Session) error {
	ctx, cancel := context.WithCancel(ctx)
	var waits sync.WaitGroup
	defer waits.Wait()
	defer cancel()
	unregistered := make(chan struct{})
	waits.Go(func() {
		if w.awaitUnregistered(ctx, sess) {
			close(unregistered)
		}
	})
	for {
		dir, err := coord.WatchAssignments(ctx, w.c, w.l, w.cfg.ID)
		if err != nil {
			if !zkclient.IsConnectionError(err) {
				return err
			}
			w.loop.Waiting()
			err := w.c.WaitConnected(ctx)
			w.loop.Working()
			if err != nil {
				return err
			}
			if !sess.Alive() {
				return recipe.ErrSessionLost
			}
			continue
		}
		waits.Go(func() {
			if dir.Watch.Wait(ctx) {
				w.poke()
			}
		})
		w.reconcile(dir.Tasks)
		w.loop.Waiting()
		select {
		case <-w.kick:
		case <-unregistered:
			return errUnregistered
		case <-sess.Done():
			return recipe.ErrSessionLost
		case <-ctx.Done():
			return ctx.Err()
		}
		w.loop.Working()
	}
}

// poke makes the watch loop list assign/<w> again.
func (w *worker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *worker) reconcile(ids []task.ID) {
	present := make(map[task.ID]bool, len(ids))
	for _, id := range ids {
		present[id] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, ex := range w.running {
		if !present[id] && !ex.revoked && !ex.completing {
			ex.revoked = true
			ex.cancel()
			w.log.Info("assignment withdrawn; stopping task", zap.Stringer("task", id))
		}
	}
	for id := range w.refused {
		if !present[id] {
			delete(w.refused, id)
		}
	}
	for id := range present {
		if _, ok := w.running[id]; ok || w.refused[id] {
			continue
		}
		ctx, cancel := context.WithCancel(w.runCtx)
		ex := &execution{cancel: cancel}
		w.running[id] = ex
		w.wg.Add(1)
		go w.execute(ctx, id, ex)
	}
}

func (w *worker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

func (w *worker) isRevoked(ex *execution) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return ex.revoked
}

// startCompleting marks ex as completing unless it was revoked first, and
// reports whether it was revoked.
func (w *worker) startCompleting(ex *execution) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !ex.revoked {
		ex.completing = true
	}
	return ex.revoked
}

func (w *worker) execute(ctx context.Context, id task.ID, ex *execution) {
	defer w.wg.Done()
	again := false // ended without a result while possibly still assigned
	defer func() {
		w.mu.Lock()
		delete(w.running, id)
		w.mu.Unlock()
		ex.cancel()
		if again && w.runCtx.Err() == nil {
			w.poke()
		}
	}()
	if w.lim.acquire(ctx) != nil {
		return
	}
	w.m.nRunning.Add(1)
	defer w.lim.release()
	defer w.m.nRunning.Add(-1)
	log := w.log.With(zap.Stringer("task", id))
	as, err := coord.ReadAssigned(ctx, w.c, w.l, w.cfg.ID, id)
	switch {
	case err == nil:
	case errors.Is(err, coord.ErrUnassigned) || ctx.Err() != nil:
		return
	case zkclient.IsConnectionError(err):
		log.Warn("cannot read the assignment or its payload; will look again", zap.Error(err))
		again = true
		return
	default:
		w.refuse(id, ex)
		log.Error("cannot read the assignment; leaving the task assigned here, not running it", zap.Error(err))
		return
	}
	started := time.Now().UTC()
	r := task.Result{ID: id, Worker: w.cfg.ID, SubmittedAt: id.SubmittedAt().UTC(), StartedAt: started}
	a := as.Assignment
	switch {
	case as.Malformed != nil:
		r.Status, r.Error = task.Failed, "assignment is "+as.Malformed.Error()
	case as.NoPayload:
		r.Kind, r.Attempts, r.Epoch, r.SubmittedAt = a.Kind, a.Attempt, a.Epoch, a.SubmittedAt
		r.Status, r.Error = task.Failed, "payload znode is missing"
	case as.Unreadable != nil:
		r.Kind, r.Attempts, r.Epoch, r.SubmittedAt = a.Kind, a.Attempt, a.Epoch, a.SubmittedAt
		r.Status, r.Error = task.Failed, "cannot read the payload: "+as.Unreadable.Error()
	default:
		r.Kind, r.Attempts, r.Epoch, r.SubmittedAt = a.Kind, a.Attempt, a.Epoch, a.SubmittedAt
		log.Info("task started", zap.String("kind", a.Kind), zap.Int("attempt", a.Attempt), zap.Int64("epoch", a.Epoch))
		out := w.cfg.Kinds.Run(ctx, a.Kind, as.Payload, a.Timeout())
		r.Status, r.Output, r.Stderr, r.ExitCode = out.Status(), out.Output, out.Stderr, out.ExitCode
		if out.Err != nil {
			r.Error = out.Err.Error()
		}
	}
	if as.Malformed != nil || as.NoPayload || as.Unreadable != nil {
		log.Warn("task cannot run; failing it", zap.String("error", r.Error))
	}
	kind := w.kindLabel(r.Kind)
	if w.startCompleting(ex) || errors.Is(ctx.Err(), context.Canceled) && r.Status == task.Cancelled {
		if w.isRevoked(ex) {
			w.m.tasks.WithLabelValues(kind, StatusWithdrawn).Inc()
			log.Info("task stopped: its assignment was withdrawn")
		} else {
			w.m.tasks.WithLabelValues(kind, StatusAbandoned).Inc()
			log.Info("task abandoned on shutdown; the master will reassign it")
		}
		return
	}
	r.FinishedAt = time.Now().UTC()
	// Completion outlives the execution's own context (a task finishing as
	// it is withdrawn still reports), but not the worker: once the drain is
	// over, a completion still waiting for ZooKeeper is given up.
	err = w.q.Complete(w.runCtx, w.cfg.ID, as.Version, r)
	switch {
	case err == nil:
		w.m.tasks.WithLabelValues(kind, string(r.Status)).Inc()
		w.m.duration.WithLabelValues(kind).Observe(r.FinishedAt.Sub(started).Seconds())
		log.Info("task finished", zap.String("status", string(r.Status)), zap.Int("attempt", r.Attempts),
			zap.Duration("took", r.FinishedAt.Sub(started)))
	case errors.Is(err, coord.ErrOutcomeUnknown):
		w.m.tasks.WithLabelValues(kind, StatusUnknown).Inc()
		log.Info("completion outcome unknown: its reply was lost and the task and its result are already gone (collected)",
			zap.String("status", string(r.Status)), zap.Int("attempt", r.Attempts))
	case errors.Is(err, coord.ErrRevoked):
		w.m.tasks.WithLabelValues(kind, StatusDropped).Inc()
		log.Info("completion dropped: the task was reassigned, cancelled or finished elsewhere", zap.Error(err))
	case errors.Is(err, coord.ErrCompletionRefused):
		w.refuse(id, ex)
		log.Error("cannot complete the task: ZooKeeper refuses the write; leaving it assigned here, not running it again",
			zap.String("status", string(r.Status)), zap.Int("attempt", r.Attempts), zap.Error(err))
	case w.runCtx.Err() != nil:
		w.m.tasks.WithLabelValues(kind, StatusAbandoned).Inc()
		log.Warn("completion given up on shutdown; if it did not land, the master reassigns the task", zap.Error(err))
	default:
		// Not revoked, not applied: run it again while it is assigned here.
		log.Warn("completion failed; will run the task again if it is still assigned here", zap.Error(err))
		again = true
	}
}

// refuse keeps task id from being run again while it stays assigned here
// (see worker.refused), unless its execution was withdrawn meanwhile.
func (w *worker) refuse(id task.ID, ex *execution) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !ex.revoked {
		w.refused[id] = true
	}
}

// kindLabel bounds the kind label to the kinds this worker runs.
func (w *worker) kindLabel(kind string) string {
	if w.kinds[kind] {
		return kind
	}
	return OtherKind
}

// drain runs once serve has returned (shutdown).
func (w *worker) drain(stopRuns context.CancelFunc) {
	n := w.count()
	if n > 0 && !w.c.Connected() {
		// Results could not be written: waiting would only delay the exit.
		w.log.Warn("not connected to ZooKeeper: abandoning running tasks without draining", zap.Int("running", n))
	} else if n > 0 && w.cfg.DrainTimeout > 0 {
		w.infoMu.Lock()
		w.info.Draining = true
		info := w.info
		w.infoMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = w.pool.Advertise(ctx, w.cfg.ID, info)
		cancel()
		w.log.Info("draining: letting running tasks finish", zap.Int("running", n), zap.Duration("timeout", w.cfg.DrainTimeout))
		done := make(chan struct{})
		go func() { w.wg.Wait(); close(done) }()
		t := time.NewTimer(w.cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			w.log.Warn("drain timeout: abandoning running tasks", zap.Int("running", w.count()))
		}
	}
	stopRuns()
	w.wg.Wait()
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
