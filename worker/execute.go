package worker

import (
	"context"
	"errors"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// execute runs one assigned task on its own goroutine: it waits for a
// slot, runs the task and completes it, then forgets it, asking for
// another look at assign/<w> when the task ended without a result while it
// may still be assigned here (so that it runs again).
func (s *server) execute(ctx context.Context, id task.ID, ex *execution) {
	defer s.wg.Done()
	again := false
	defer func() { s.forget(id, ex, again) }()
	if s.lim.acquire(ctx) != nil {
		return
	}
	s.m.nRunning.Add(1)
	defer s.lim.release()
	defer s.m.nRunning.Add(-1)
	again = s.runAssigned(ctx, id, ex)
}

func (s *server) forget(id task.ID, ex *execution, again bool) {
	s.mu.Lock()
	delete(s.running, id)
	s.mu.Unlock()
	ex.cancel(nil)
	if again && s.runCtx.Err() == nil {
		s.poke()
	}
}

// runAssigned reads task id's assignment and payload, runs the task and
// completes it. It reports whether the task must run again: it ended
// without a result while it may still be assigned here.
func (s *server) runAssigned(ctx context.Context, id task.ID, ex *execution) (again bool) {
	log := s.log.With(zap.Stringer("task", id))
	as, err := coord.ReadAssigned(ctx, s.c, s.l, s.id, id)
	switch {
	case err == nil:
	case errors.Is(err, coord.ErrUnassigned) || ctx.Err() != nil:
		return false
	case zkclient.IsConnectionError(err):
		log.Warn("cannot read the assignment or its payload; will look again", zap.Error(err))
		return true
	default:
		s.refuse(id, ex)
		log.Error("cannot read the assignment; leaving the task assigned here, not running it", zap.Error(err))
		return false
	}
	r := s.runTask(ctx, id, as, log)
	if as.Malformed != nil || as.NoPayload || as.Unreadable != nil {
		log.Warn("task cannot run; failing it", zap.String("error", r.Error))
	}
	kind := s.kindLabel(r.Kind)
	if s.stopped(ctx, ex, r.Status, kind, log) {
		return false
	}
	if again, refused := s.complete(as.Version, as.Assignment.Retries, r, kind, log); !refused {
		return again
	}
	s.refuse(id, ex)
	return false
}

// refuse keeps task id from being run again while it stays assigned here
// (see server.refused), unless its execution was withdrawn meanwhile.
func (s *server) refuse(id task.ID, ex *execution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ex.revoked {
		s.refused[id] = true
	}
}

// runTask runs the task as read and returns its result, not yet written.
func (s *server) runTask(ctx context.Context, id task.ID, as coord.Assigned, log *zap.Logger) task.Result {
	r := task.Result{ID: id, Worker: s.id, SubmittedAt: id.SubmittedAt().UTC(), StartedAt: time.Now().UTC()}
	if as.Malformed != nil {
		r.Status, r.Error = task.Failed, "assignment is "+as.Malformed.Error()
		return r
	}
	a := as.Assignment
	r.Kind, r.Attempts, r.Epoch, r.SubmittedAt = a.Kind, a.Attempt, a.Epoch, a.SubmittedAt
	if as.NoPayload {
		// Removed by hand: no worker can run the task, however often.
		r.Status, r.Error, r.Final = task.Failed, "payload znode is missing", true
		return r
	}
	if as.Unreadable != nil {
		// Another identity's znode: no retry here would read it either.
		r.Status, r.Error, r.Final = task.Failed, "cannot read the payload: "+as.Unreadable.Error(), true
		return r
	}
	log.Info("task started", zap.String("kind", a.Kind), zap.Int("attempt", a.Attempt), zap.Int64("epoch", a.Epoch))
	t := &Task{ID: string(id), Kind: a.Kind, Payload: as.Payload, Attempt: a.Attempt, Retries: a.Retries, SubmittedAt: a.SubmittedAt}
	var out task.Outcome
	if h, ok := s.handlers[a.Kind]; ok {
		out, r.Final = invoke(ctx, h, t, a.Timeout(), log)
	} else {
		out.Err = unknownKind(a.Kind, s.kinds)
	}
	r.Status, r.Output, r.Stderr, r.ExitCode = out.Status(), out.Output, out.Stderr, out.ExitCode
	if out.Err != nil {
		r.Error = out.Err.Error()
	}
	return r
}

// stopped reports, and counts, an execution that must not complete: its
// assignment was withdrawn, or the worker cancelled it on shutdown.
// Otherwise it marks the execution as completing, so that the assignment's
// removal by its own completion does not count as a withdrawal.
func (s *server) stopped(ctx context.Context, ex *execution, st task.Status, kind string, log *zap.Logger) bool {
	s.mu.Lock()
	revoked := ex.revoked
	ex.completing = !revoked
	s.mu.Unlock()
	switch {
	case revoked:
		s.m.tasks.WithLabelValues(kind, StatusWithdrawn).Inc()
		log.Info("task stopped: its assignment was withdrawn")
	case errors.Is(ctx.Err(), context.Canceled) && st == task.Cancelled:
		s.m.tasks.WithLabelValues(kind, StatusAbandoned).Inc()
		log.Info("task abandoned on shutdown; the master will reassign it")
	default:
		return false
	}
	return true
}

// complete writes r with the "complete" multi, or sends the failed task
// back to pending with the "retry" multi, and counts what became of it;
// retries is the assignment's. It reports whether assign/<w> must be
// listed again (the write failed and the task may still be assigned here,
// or it was retried and may come back here) or the completion was refused
// for good (ZooKeeper will never accept it: see server.refused).
func (s *server) complete(version int32, retries int, r task.Result, kind string, log *zap.Logger) (again, refused bool) {
	r.FinishedAt = time.Now().UTC()
	took := r.FinishedAt.Sub(r.StartedAt)
	// Completion outlives the execution's own context (a task finishing as
	// it is withdrawn still reports), but not the worker: once the drain is
	// over, a completion still waiting for ZooKeeper is given up.
	retried, err := s.q.Complete(s.runCtx, s.id, version, retries, r)
	switch {
	case err == nil && retried.Retry > 0:
		s.m.tasks.WithLabelValues(kind, StatusRetried).Inc()
		s.m.duration.WithLabelValues(kind).Observe(took.Seconds())
		log.Info("task failed; will retry", zap.String("error", r.Error), zap.Int("retry", retried.Retry),
			zap.Duration("delay", retried.Delay), zap.Time("not_before", retried.NotBefore), zap.Int("attempt", r.Attempts))
		// The master may give the task back to this worker before this
		// execution is forgotten, and the listing that shows the new
		// assignment would skip it as running: look again once forgotten.
		return true, false
	case err == nil:
		s.m.tasks.WithLabelValues(kind, string(r.Status)).Inc()
		s.m.duration.WithLabelValues(kind).Observe(took.Seconds())
		log.Info("task finished", zap.String("status", string(r.Status)), zap.Int("attempt", r.Attempts), zap.Duration("took", took))
	case errors.Is(err, coord.ErrOutcomeUnknown):
		s.m.tasks.WithLabelValues(kind, StatusUnknown).Inc()
		log.Info("completion outcome unknown: its reply was lost and the task and its result are already gone (collected)",
			zap.String("status", string(r.Status)), zap.Int("attempt", r.Attempts))
	case errors.Is(err, coord.ErrRevoked):
		s.m.tasks.WithLabelValues(kind, StatusDropped).Inc()
		log.Info("completion dropped: the task was reassigned, cancelled or finished elsewhere", zap.Error(err))
	case errors.Is(err, coord.ErrCompletionRefused):
		log.Error("cannot complete the task: ZooKeeper refuses the write; leaving it assigned here, not running it again",
			zap.String("status", string(r.Status)), zap.Int("attempt", r.Attempts), zap.Error(err))
		return false, true
	case s.runCtx.Err() != nil:
		s.m.tasks.WithLabelValues(kind, StatusAbandoned).Inc()
		log.Warn("completion given up on shutdown; if it did not land, the master reassigns the task", zap.Error(err))
	default:
		// Not revoked, not applied: run it again while it is assigned here.
		log.Warn("completion failed; will run the task again if it is still assigned here", zap.Error(err))
		return true, false
	}
	return false, false
}

// kindLabel bounds the kind label to the kinds this worker runs.
func (s *server) kindLabel(kind string) string {
	if _, ok := s.handlers[kind]; ok {
		return kind
	}
	return OtherKind
}
