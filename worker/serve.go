package worker

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// server is one Run of a Worker: it registers, follows its assign/
// directory, and runs each task there on a goroutine of its own
// (execute.go), completing it with a multi conditional on the assignment
// still being its own. Execution is at-least-once; results are
// exactly-once.
type server struct {
	w        *Worker
	c        *zkclient.Client
	q        *coord.Queue
	l        coord.Layout
	pool     coord.Pool // <root>/workers: where it registers
	id       string
	log      *zap.Logger
	lim      *limit
	m        *Metrics
	loop     LoopHook
	handlers map[string]HandlerFunc // by kind, middleware applied
	kinds    []string               // their kinds, sorted: what it advertises
	exec     HandlerFunc            // roles' commands; nil without Roles

	infoMu sync.Mutex
	info   coord.WorkerInfo // what its registration says

	// runCtx is the parent of executions and their completions: cancelled
	// (ErrShutdown) when the drain ends.
	runCtx   context.Context
	stopRuns context.CancelCauseFunc
	wg       sync.WaitGroup

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
	cancel     context.CancelCauseFunc
	revoked    bool // its assignment vanished: do not complete
	completing bool // its own completion removes the assignment: not a revocation
}

func newServer(w *Worker, c *zkclient.Client, handlers map[string]HandlerFunc, exec HandlerFunc) *server {
	cfg := w.cfg
	runCtx, stopRuns := context.WithCancelCause(context.Background())
	q := coord.NewQueue(c, w.l, 0).WithBatcher(zkclient.NewBatcher(c, 64))
	kinds := slices.Sorted(maps.Keys(handlers))
	return &server{
		w: w, c: c, q: q.WithRetryDefaults(w.retry.policy), l: w.l, pool: coord.NewPool(c, w.l),
		id: cfg.ID, log: cfg.Logger, lim: newLimit(cfg.Concurrency), m: cfg.Metrics, loop: cfg.Loop,
		handlers: handlers, kinds: kinds, exec: exec,
		info:   coord.WorkerInfo{Member: recipe.Self(cfg.ID), Concurrency: cfg.Concurrency, Kinds: kinds, Version: cfg.Version},
		runCtx: runCtx, stopRuns: stopRuns,
		running: make(map[task.ID]*execution),
		refused: make(map[task.ID]bool),
		kick:    make(chan struct{}, 1),
	}
}

// run is Worker.Run once connected.
func (s *server) run(ctx context.Context) error {
	defer s.stopRuns(ErrShutdown)
	s.m.prepare(s.kinds)
	s.m.nConcurrency.Store(int64(s.w.cfg.Concurrency))
	s.m.draining.Store(false)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := coord.PaddockConfig(s.c, s.l).Watch(wctx, s.id, s.configure); err != nil {
		return ignoreCancel(ctx, err)
	}
	rctx, stopRoles := context.WithCancel(ctx)
	rolesDone := make(chan struct{})
	if s.w.cfg.Roles {
		go func() {
			defer close(rolesDone)
			s.applyForRoles(rctx)
		}()
	} else {
		close(rolesDone)
	}
	err := s.serve(ctx)
	s.m.draining.Store(true)
	// The loop has ended; the drain waits for tasks, bounded by its timeout.
	s.loop.Waiting()
	// A role goes to the next applicant at once, not after the drain.
	stopRoles()
	s.drain()
	<-rolesDone
	return err
}

func (s *server) currentInfo() coord.WorkerInfo {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	return s.info
}

// serve registers the worker and follows its assignments, registering
// again after each lost session, until ctx is done.
func (s *server) serve(ctx context.Context) error {
	for {
		s.loop.Waiting()
		sess, err := s.c.Session(ctx)
		s.loop.Working()
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		err = s.register(ctx, sess)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, recipe.ErrSessionLost), zkclient.IsConnectionError(err):
			continue
		case err != nil:
			return err
		}
		s.m.setRegistered(true)
		err = s.watch(ctx, sess)
		s.m.setRegistered(false)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, recipe.ErrSessionLost) {
			s.log.Warn("session lost; registering again", zap.Int("running", s.count()))
			continue
		}
		if errors.Is(err, errUnregistered) {
			s.log.Warn("registration was deleted; registering again", zap.String("path", s.l.Worker(s.id)))
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
func (s *server) awaitUnregistered(ctx context.Context, sess *zkclient.Session) bool {
	for {
		ok, watch, err := s.pool.Registered(ctx, sess, s.id)
		switch {
		case err == nil && !ok:
			return sess.Alive()
		case err == nil:
			if !watch.Wait(ctx) {
				return false
			}
		case zkclient.IsConnectionError(err):
			if s.c.WaitConnected(ctx) != nil {
				return false
			}
		default:
			// Not the connection's (NoAuth on workers/?): registering again
			// would not mend it; the session's end still re-registers.
			if ctx.Err() == nil {
				s.log.Warn("cannot watch the registration", zap.Error(err))
			}
			<-ctx.Done()
			return false
		}
		if !sess.Alive() {
			return false
		}
	}
}

// register creates assign/<w> and the registration of session sess.
func (s *server) register(ctx context.Context, sess *zkclient.Session) error {
	// The directory first: the master only assigns to registered workers,
	// and finds their directory ready.
	if err := coord.CreateAssignDir(ctx, s.c, s.l, s.id); err != nil {
		return err
	}
	info := s.currentInfo()
	// Registering may wait for a registration of an earlier session to go
	// (an event, up to a session timeout).
	s.loop.Waiting()
	err := s.pool.Register(ctx, sess, s.id, info)
	s.loop.Working()
	if err != nil {
		return err
	}
	s.log.Info("worker registered", zap.String("worker", s.id), zap.String("session", sess.String()),
		zap.Int("concurrency", info.Concurrency), zap.Strings("kinds", info.Kinds))
	return nil
}

// watch follows the worker's assign/ directory for one session: new
// children are tasks to start, vanished ones are tasks to stop. Each
// listing's watch is waited for on a goroutine of this session's, which
// wakes the loop as an execution's kick does; watch stops them all before
// it returns.
func (s *server) watch(ctx context.Context, sess *zkclient.Session) error {
	ctx, cancel := context.WithCancel(ctx)
	var waits sync.WaitGroup
	defer waits.Wait()
	defer cancel()
	unregistered := make(chan struct{})
	waits.Go(func() {
		if s.awaitUnregistered(ctx, sess) {
			close(unregistered)
		}
	})
	for {
		dir, err := coord.WatchAssignments(ctx, s.c, s.l, s.id)
		if err != nil {
			if !zkclient.IsConnectionError(err) {
				return err
			}
			s.loop.Waiting()
			err := s.c.WaitConnected(ctx)
			s.loop.Working()
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
				s.poke()
			}
		})
		s.reconcile(dir.Tasks)
		s.loop.Waiting()
		select {
		case <-s.kick:
		case <-unregistered:
			return errUnregistered
		case <-sess.Done():
			return recipe.ErrSessionLost
		case <-ctx.Done():
			return ctx.Err()
		}
		s.loop.Working()
	}
}

// poke makes the watch loop list assign/<w> again.
func (s *server) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// reconcile starts the listed tasks not running yet and stops the running
// ones no longer listed.
func (s *server) reconcile(ids []task.ID) {
	present := make(map[task.ID]bool, len(ids))
	for _, id := range ids {
		present[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ex := range s.running {
		if !present[id] && !ex.revoked && !ex.completing {
			ex.revoked = true
			ex.cancel(ErrWithdrawn)
			s.log.Info("assignment withdrawn; stopping task", zap.Stringer("task", id))
		}
	}
	for id := range s.refused {
		if !present[id] {
			delete(s.refused, id)
		}
	}
	for id := range present {
		if _, ok := s.running[id]; ok || s.refused[id] {
			continue
		}
		ctx, cancel := context.WithCancelCause(s.runCtx)
		ex := &execution{cancel: cancel}
		s.running[id] = ex
		s.wg.Add(1)
		go s.execute(ctx, id, ex)
	}
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// drain runs once serve has returned (shutdown): it lets running tasks
// finish for up to DrainTimeout, then cancels the rest and waits for them.
func (s *server) drain() {
	n := s.count()
	if n > 0 && !s.c.Connected() {
		// Results could not be written: waiting would only delay the exit.
		s.log.Warn("not connected to ZooKeeper: abandoning running tasks without draining", zap.Int("running", n))
	} else if timeout := s.w.cfg.DrainTimeout; n > 0 && timeout > 0 {
		s.advertiseDraining()
		s.log.Info("draining: letting running tasks finish", zap.Int("running", n), zap.Duration("timeout", timeout))
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.log.Warn("drain timeout: abandoning running tasks", zap.Int("running", s.count()))
		}
	}
	s.stopRuns(ErrShutdown)
	s.wg.Wait()
}

// advertiseDraining tells the master to assign the worker nothing more,
// trying for a second only: the drain must not wait on ZooKeeper.
func (s *server) advertiseDraining() {
	s.infoMu.Lock()
	s.info.Draining = true
	info := s.info
	s.infoMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.pool.Advertise(ctx, s.id, info)
}
