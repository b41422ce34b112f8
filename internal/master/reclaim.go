package master

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"go.uber.org/zap"
)

// reclaim returns the tasks of lost workers to pending (or dead-letters them
// when they have used their attempts) and removes their empty directories.
func (ct *controller) reclaim(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(ct.workers)) {
		w := ct.workers[name]
		switch {
		case w.registered:
		case len(w.tasks) > 0:
			// The dir goes once a listing shows it empty.
			if err := ct.takeBack(ctx, w); err != nil {
				return err
			}
		case w.hasDir && w.others > 0:
			// Other leaders are taking back their tasks from it: the dir
			// goes once a listing shows it empty.
		case w.hasDir:
			err := ct.ld.RemoveAssignDir(ctx, name)
			switch {
			case err == nil:
				delete(ct.workers, name)
			case errors.Is(err, coord.ErrAssignDirNotEmpty):
				// It holds what a listing has not shown yet (its watch
				// fires at the next change), or znodes that are not
				// Paddock's (listed and warned about): wait for a change.
				ct.warnOnce(ct.l.AssignDir(name), "cannot remove a lost worker's assign/ dir: it is not empty")
			default:
				return err
			}
		default:
			delete(ct.workers, name)
		}
	}
	return nil
}

// takeBack sends one write per task of lost worker w: "unassign" (back to
// pending), "dead-letter" (its attempts are used up, or its record is
// malformed) or "remove-orphan" (the task is gone, its assignment is not).
func (ct *controller) takeBack(ctx context.Context, w *worker) error {
	ids := make([]task.ID, 0, len(w.tasks))
	for id := range w.tasks {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	recs, err := ct.readTasks(ctx, ids)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	writes := make([]write, 0, len(ids))
	for _, id := range ids {
		wr, err := ct.takeBackWrite(w, id, recs, now)
		if err != nil {
			return err
		}
		writes = append(writes, wr)
	}
	_, err = ct.apply(ctx, writes, nil)
	return err
}

// takeBackWrite decides what becomes of task id of lost worker w.
func (ct *controller) takeBackWrite(w *worker, id task.ID, recs map[task.ID]coord.TaskRecord, now time.Time) (write, error) {
	log := ct.log.With(zap.Stringer("task", id), zap.String("lost_worker", w.name))
	rec, ok := recs[id]
	if !ok {
		// The task is gone but its assignment is not (only a tool can do
		// that): remove the orphan, or the directory never empties.
		return write{id: id, item: ct.ld.RemoveOrphan(w.name, id), settle: ct.tookBack(w, id, func() {
			log.Warn("removed an assignment whose task is gone")
		})}, nil
	}
	if reason, detail, dead := verdict(rec, "; worker "+w.name+" was lost"); dead {
		item, err := ct.ld.DeadLetter(rec, w.name, reason, detail, now)
		return write{id: id, item: item, settle: ct.tookBack(w, id, func() {
			ct.m.dead.WithLabelValues(reason).Inc()
			log.Warn("task dead-lettered", zap.String("reason", reason))
		})}, err
	}
	item, err := ct.ld.Unassign(rec, w.name)
	return write{id: id, item: item, settle: ct.tookBack(w, id, func() {
		ct.pending.Push(id)
		ct.m.reassigned.Inc()
		log.Info("task returned to pending")
	})}, err
}

// tookBack settles a take-back write: done runs once it is applied.
func (ct *controller) tookBack(w *worker, id task.ID, done func()) func(error) {
	return func(refused error) {
		delete(ct.specs, id)
		switch {
		case refused == nil:
			delete(w.tasks, id)
			delete(ct.assigned, id)
			delete(ct.seenRunning, id)
			done()
		case errors.Is(refused, coord.ErrConflict):
			// The tree contradicts itself (e.g. a result already exists);
			// retrying at once would spin. The next change retries.
			ct.log.Warn("cannot take back a lost worker's task", zap.Stringer("task", id), zap.Error(refused))
		default:
			// The task or its assignment changed under us: re-read both.
			ct.log.Debug("take-back skipped", zap.Stringer("task", id), zap.Error(refused))
			ct.mark(func(x *dirtySet) { x.dirs[w.name] = true })
		}
	}
}
