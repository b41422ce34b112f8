package master

import (
	"context"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"go.uber.org/zap"
)

// round is one scheduling round: the slots it fills, the tasks it took
// from pending, and the writes it decided for them.
type round struct {
	slots      []*Slots
	advertised map[string]bool // the kinds some live worker runs, busy or not
	free       int             // free slots not yet given a task
	placed     int             // tasks given a slot
	examined   int             // tasks looked at
	limit      int             // most tasks it looks at
	now        time.Time
	// taken holds the tasks taken from pending and not dropped (gone,
	// assigned meanwhile): each one is written, set aside, or put back.
	taken    map[task.ID]struct{}
	writes   []write   // dead letters and assignments, in one batch
	aside    []task.ID // could not be placed now: back to pending after the round
	assigned int       // assignments applied
	parked   int       // tasks parked: scheduled for later, or waiting for their kind
}

// schedule assigns one batch: the oldest pending tasks to the least-loaded
// workers that run their kind, with the dead letters of those that cannot
// run, in one fenced multi. It returns how many writes were applied. A
// round that fails puts back everything it took (putBack), whatever step
// failed.
func (ct *controller) schedule(ctx context.Context) (int, error) {
	r := ct.openRound()
	ct.unpark(r)
	if r.free == 0 || ct.pending.Len() == 0 {
		return 0, nil
	}
	ct.turn++
	done, err := ct.runRound(ctx, r)
	if err != nil {
		ct.putBack(r)
		return 0, err
	}
	for _, id := range r.aside {
		ct.pending.Push(id)
	}
	if (len(r.aside) > 0 || r.parked > 0) && r.free > 0 {
		ct.needMore = true // tasks not yet known may fit the slots left
	}
	if r.assigned > 0 {
		ct.rounds.report(ct.log, r.now, r.assigned, ct.pending.Len())
	}
	// Parking is progress: the tasks behind the parked ones are next.
	return done + r.parked, nil
}

// unpark returns to pending the parked tasks that are due and those whose
// kind a live worker now runs.
func (ct *controller) unpark(r *round) {
	for _, id := range ct.parked.releaseDue(r.now) {
		ct.pending.Push(id)
	}
	for _, id := range ct.parked.releaseKinds(r.advertised) {
		ct.pending.Push(id)
	}
}

// openRound counts the free slots and the kinds the live workers run.
func (ct *controller) openRound() *round {
	r := &round{advertised: make(map[string]bool), taken: make(map[task.ID]struct{}), now: time.Now().UTC()}
	for _, w := range ct.workers {
		if w.registered && w.infoOK && !w.info.Draining {
			for _, k := range w.info.Kinds {
				r.advertised[k] = true
			}
		}
		if f := w.free(ct.share); f > 0 {
			kinds := make(map[string]bool, len(w.info.Kinds))
			for _, k := range w.info.Kinds {
				kinds[k] = true
			}
			r.slots = append(r.slots, &Slots{Worker: w.name, Free: f, Load: len(w.tasks), Cap: w.info.Concurrency, Kinds: kinds})
			r.free += f
		}
	}
	// Tasks that cannot be placed now are set aside, not retried in a loop:
	// those behind them still get the slots they fit. One round looks at a
	// bounded number of tasks.
	r.limit = max(ct.cfg.Batch, 4*r.free)
	return r
}

// runRound looks at the oldest pending tasks until the free slots are used
// (or the round's bounds are reached), then sends its writes.
func (ct *controller) runRound(ctx context.Context, r *round) (int, error) {
	for r.free > 0 && r.placed < ct.cfg.Batch && r.examined < r.limit && ct.pending.Len() > 0 {
		if err := ct.look(ctx, r); err != nil {
			return 0, err
		}
	}
	return ct.apply(ctx, r.writes, ct.upcoming(len(r.writes)))
}

// upcoming is what the next round will most likely look at: the oldest
// pending tasks whose records are not cached, as many as this round
// writes (about as many slots free up while its writes are in flight).
// apply reads them while its multi is in flight, so that the next round
// waits for one round trip less.
func (ct *controller) upcoming(n int) []task.ID {
	var ids []task.ID
	for _, id := range ct.pending.Peek(min(n, ct.cfg.Batch)) {
		if _, ok := ct.specs[id]; !ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// look takes the next oldest pending tasks, as many as the round can still
// place, and decides each one's write: a dead letter, an assignment, or
// none yet (set aside: the workers of its kind are busy).
func (ct *controller) look(ctx context.Context, r *round) error {
	ids := ct.pending.Pop(min(r.free, ct.cfg.Batch-r.placed, r.limit-r.examined))
	r.examined += len(ids)
	for _, id := range ids {
		r.taken[id] = struct{}{}
	}
	recs, err := ct.records(ctx, ids)
	if err != nil {
		return err
	}
	var wants []Want
	for _, id := range ids {
		rec, ok := recs[id]
		if !ok || ct.assigned[id] != "" {
			// Gone (cancelled, finished), or assigned meanwhile.
			delete(r.taken, id)
			delete(ct.specs, id)
			continue
		}
		reason, detail, dead := verdict(rec, "")
		if !dead && ct.park(r, rec) {
			continue
		}
		if !dead {
			reason, detail, dead = routingTimedOut(rec, r)
		}
		if dead {
			w, err := ct.deadLetter(rec, reason, detail, r.now)
			if err != nil {
				return err
			}
			r.writes = append(r.writes, w)
			continue
		}
		wants = append(wants, Want{ID: id, Kind: rec.Spec.Kind})
	}
	placed, unplaced := Place(wants, r.slots, ct.turn)
	for _, p := range placed {
		w, err := ct.assign(r, recs[p.ID], p.Worker)
		if err != nil {
			return err
		}
		r.writes = append(r.writes, w)
	}
	r.free -= len(placed)
	r.placed += len(placed)
	for _, u := range unplaced {
		r.aside = append(r.aside, u.ID)
	}
	return nil
}

// park sets a task aside until it can be placed, when that is not now: it
// is scheduled for later, or no live worker runs its kind (then it waits
// until one does, or until its routing timeout, whichever comes first).
// It reports whether it parked the task.
func (ct *controller) park(r *round, rec coord.TaskRecord) bool {
	kind, at := "", rec.Spec.NotBefore
	if !at.After(r.now) {
		if r.advertised[rec.Spec.Kind] {
			return false
		}
		deadline, ok := routingDeadline(rec.Spec, rec.ID)
		if ok && !deadline.After(r.now) {
			return false // dead-lettered by the caller
		}
		kind, at = rec.Spec.Kind, deadline
		ct.warnOnce("kind:"+kind, "tasks wait: no live worker runs their kind")
	}
	delete(r.taken, rec.ID)
	delete(ct.specs, rec.ID)
	ct.parked.park(rec.ID, kind, at)
	r.parked++
	return true
}

// records returns the records of ids that still exist: those read in an
// earlier round from the cache (a task set aside is not read again), the
// others read now, in one round trip, and cached.
func (ct *controller) records(ctx context.Context, ids []task.ID) (map[task.ID]coord.TaskRecord, error) {
	var toRead []task.ID
	for _, id := range ids {
		if _, ok := ct.specs[id]; !ok {
			toRead = append(toRead, id)
		}
	}
	read, err := ct.readTasks(ctx, toRead)
	if err != nil {
		return nil, err
	}
	for id, rec := range read {
		ct.specs[id] = rec
	}
	out := make(map[task.ID]coord.TaskRecord, len(ids))
	for _, id := range ids {
		if rec, ok := ct.specs[id]; ok {
			out[id] = rec
		}
	}
	return out, nil
}

// putBack returns everything a failed round took: its tasks go back to
// pending (a dead letter or an assignment that did land shows when the
// task is next read: gone, or assigned), their cached records are dropped
// (they may have changed), and the directories of the workers it may have
// assigned to are listed again, so that assignments that landed are known
// before their tasks are retried.
func (ct *controller) putBack(r *round) {
	for id := range r.taken {
		ct.pending.Push(id)
	}
	dirs := make(map[string]bool)
	for _, w := range r.writes {
		delete(ct.specs, w.id)
		if w.worker != "" {
			dirs[w.worker] = true
		}
	}
	ct.mark(func(x *dirtySet) {
		for w := range dirs {
			x.dirs[w] = true
		}
	})
}

// deadLetter is the write of a pending task that cannot run.
func (ct *controller) deadLetter(rec coord.TaskRecord, reason, detail string, now time.Time) (write, error) {
	item, err := ct.ld.DeadLetter(rec, "", reason, detail, now)
	id := rec.ID
	return write{id: id, item: item, settle: func(refused error) {
		delete(ct.specs, id)
		switch {
		case refused == nil:
			ct.m.dead.WithLabelValues(reason).Inc()
			ct.log.Warn("task dead-lettered", zap.Stringer("task", id), zap.String("reason", reason))
		case errors.Is(refused, coord.ErrTaskGone):
			ct.forget(id) // cancelled meanwhile
		case refusedForGood(refused):
			ct.setAside(id, refused)
		default:
			// Changed meanwhile: read it again.
			ct.pending.Push(id)
			ct.log.Warn("could not dead-letter a task; will retry", zap.Stringer("task", id), zap.Error(refused))
		}
	}}, err
}

// assign is the write that gives a task to a worker.
func (ct *controller) assign(r *round, rec coord.TaskRecord, worker string) (write, error) {
	w := ct.workers[worker]
	shared := w.shared(ct.share)
	var item coord.Item
	var err error
	if shared {
		item, err = ct.ld.AssignShared(rec, worker, r.now, w.version)
	} else {
		item, err = ct.ld.Assign(rec, worker, r.now)
	}
	id, kind := rec.ID, kindLabel(rec.Spec.Kind, r.advertised)
	return write{id: id, item: item, worker: worker, settle: func(refused error) {
		delete(ct.specs, id)
		if refused != nil {
			ct.placementFailed(id, w, refused)
			return
		}
		if shared {
			w.version++ // written at the version listed: now one more
		}
		ct.m.assigned.WithLabelValues(kind).Inc()
		w.tasks[id] = struct{}{}
		ct.assigned[id] = worker
		r.assigned++
		ct.log.Debug("assigned", zap.Stringer("task", id), zap.String("worker", worker))
	}}, err
}

// placementFailed handles one assignment the server refused.
func (ct *controller) placementFailed(id task.ID, w *worker, refused error) {
	switch {
	case errors.Is(refused, coord.ErrTaskGone):
		ct.forget(id) // cancelled
	case errors.Is(refused, coord.ErrTaskChanged):
		ct.pending.Push(id) // read it again
	case errors.Is(refused, coord.ErrNoAssignDir):
		// Wait until the worker creates its directory again.
		w.hasDir = false
		ct.pending.Push(id)
		ct.mark(func(x *dirtySet) { x.dirs[w.name] = true })
	case refusedForGood(refused):
		ct.setAside(id, refused)
	default:
		ct.pending.Push(id)
		ct.mark(func(x *dirtySet) { x.dirs[w.name] = true })
	}
	ct.log.Debug("assignment refused", zap.Stringer("task", id), zap.String("worker", w.name), zap.Error(refused))
}

// refusedForGood reports a refusal that reading the task again does not
// mend, so that retrying at once would spin: the tree contradicts the write
// (a result exists already, a znode to delete has children) or forbids it
// (NoAuth: the znode or its shard belongs to another identity). An
// assignment that exists already is not one: listing the worker's
// directory again shows the task assigned.
func refusedForGood(refused error) bool {
	return errors.Is(refused, coord.ErrConflict) && !errors.Is(refused, zk.ErrNodeExists) ||
		errors.Is(refused, zk.ErrNoAuth)
}

// setAside drops a task whose write the tree refuses for good (see
// refusedForGood): it stays under tasks/ as it is, and the master says so
// once; it is read and tried again when its shard is next listed (a change
// in the shard, when there is room), not in a loop.
func (ct *controller) setAside(id task.ID, refused error) {
	ct.forget(id)
	if p := ct.l.Task(id); !ct.ignored[p] {
		ct.ignored[p] = true
		ct.log.Error("cannot write a task: ZooKeeper refuses it; leaving the task as it is until its shard changes",
			zap.Stringer("task", id), zap.String("path", p), zap.Error(refused))
	}
}

// forget drops every trace of a task that is gone.
func (ct *controller) forget(id task.ID) {
	if w := ct.workers[ct.assigned[id]]; w != nil {
		delete(w.tasks, id)
	}
	delete(ct.assigned, id)
	delete(ct.seenRunning, id)
	ct.pending.Remove(id)
	ct.parked.remove(id)
	delete(ct.specs, id)
}
