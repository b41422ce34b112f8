package master

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"go.uber.org/zap"
)

// refill lists the task shards that changed, when the master has room for
// more tasks than it knows of. A shard's watch is re-armed only by listing
// it, so while workers are saturated new submissions cost the master
// nothing, however long the backlog.
//
// A new leader lists every shard once, whether or not it has room: until
// then it does not know its backlog (paddock_tasks_pending, the oldest
// pending age), and each shard's watch is armed by its first listing.
func (ct *controller) refill(ctx context.Context) (int, error) {
	free := 0
	for _, w := range ct.workers {
		free += w.free(ct.share)
	}
	if ct.listed && (free == 0 || (ct.pending.Len() >= free && !ct.needMore)) {
		return 0, nil
	}
	ct.needMore = false
	ct.mu.Lock()
	marked := ct.dirty.shards
	ct.dirty.shards = map[string]time.Time{}
	ct.mu.Unlock()
	if len(marked) == 0 {
		return 0, nil
	}
	added := 0
	err := coord.WatchTaskShards(ctx, ct.c, ct.l, slices.Sorted(maps.Keys(marked)), func(sl coord.ShardListing) {
		// The closure keeps the shard's name only: one that captured sl
		// held the whole listing (every id as a string) until the shard's
		// next change, for a backlog all of it.
		shard := sl.Shard
		ct.await(ctx, sl.Watch, func(x *dirtySet) { markShard(x, shard, time.Now()) })
		if p := ct.l.TaskShard(sl.Shard); sl.Missing {
			ct.warnOnce(p, "a task shard is missing: submissions to it fail until `client init` creates it again")
		} else {
			delete(ct.ignored, p) // warn again should it go again
		}
		added += ct.learn(sl)
	})
	if err != nil {
		// Listing again what was learned adds nothing twice (learn skips
		// what it knows); only the watches are armed twice, and each
		// marks the shard once.
		ct.mark(func(x *dirtySet) {
			for s, fired := range marked {
				markShard(x, s, fired)
			}
		})
		return added, err
	}
	ct.listed = true
	if added > 0 {
		ct.log.Debug("learned of tasks", zap.Int("new", added), zap.Int("pending", ct.pending.Len()), zap.Int("shards", len(marked)))
	}
	return added, nil
}

// learn adds a shard's tasks that are neither pending nor assigned to
// pending, and its strays to those to clear. It returns how many it added.
func (ct *controller) learn(sl coord.ShardListing) int {
	added := 0
	for _, id := range sl.Tasks {
		if _, ok := ct.assigned[id]; ok {
			ct.seenRunning[id] = struct{}{}
			continue
		}
		if ct.pending.Has(id) || ct.parked.has(id) {
			continue
		}
		ct.pending.Push(id)
		added++
	}
	for _, s := range sl.Strays {
		if _, ok := ct.strays[s]; !ok && !ct.ignored[s.Path(ct.l)] {
			ct.strays[s] = false
		}
	}
	return added
}

// strayHasChildren is what the leader says, once, of a stray it cannot
// remove because something was created under it, whether the stray's read
// found the children or its removal did.
const strayHasChildren = "cannot remove a znode under tasks/ that is not a task: it has children"

// strayPasses bounds how often clearStrays sends again the writes that
// were refused for a reason a re-read mends.
const strayPasses = 3

// clearStrays dead-letters or removes the znodes under tasks/ that are not
// tasks (see coord.Stray): a client waiting on one must not wait forever.
// It returns how many it cleared.
func (ct *controller) clearStrays(ctx context.Context) (int, error) {
	cleared := 0
	for pass := 0; pass < strayPasses && len(ct.strays) > 0; pass++ {
		strays := make([]coord.Stray, 0, len(ct.strays))
		for s := range ct.strays {
			strays = append(strays, s)
		}
		sort.Slice(strays, func(i, j int) bool { return strays[i].Path(ct.l) < strays[j].Path(ct.l) })
		recs, err := ct.ld.ReadStrays(ctx, strays)
		if err != nil {
			return cleared, err // they stay in ct.strays, for the next step
		}
		now := time.Now().UTC()
		var writes []write
		for _, s := range strays {
			rec, ok := recs[s]
			switch {
			case !ok:
				delete(ct.strays, s) // removed meanwhile
			case rec.Children > 0:
				delete(ct.strays, s)
				ct.warnOnce(s.Path(ct.l), strayHasChildren)
			default:
				w, err := ct.strayWrite(rec, now)
				if err != nil {
					return cleared, err
				}
				writes = append(writes, w)
			}
		}
		n, err := ct.apply(ctx, writes, nil)
		cleared += n
		if err != nil {
			return cleared, err
		}
	}
	return cleared, nil
}

// strayWrite clears one stray: a misplaced task id is dead-lettered where
// its id says (unless that was refused: a result or a dead letter for that
// id exists already), anything else removed.
func (ct *controller) strayWrite(rec coord.StrayRecord, now time.Time) (write, error) {
	s, path := rec.Stray, rec.Path(ct.l)
	if id, ok := rec.Misplaced(); ok && !ct.strays[s] {
		item, err := ct.ld.DeadLetterStray(rec, now)
		return write{id: id, item: item, settle: func(refused error) {
			switch {
			case refused == nil:
				delete(ct.strays, s)
				ct.m.dead.WithLabelValues(task.ReasonMalformed).Inc()
				ct.log.Warn("task dead-lettered", zap.Stringer("task", id), zap.String("reason", task.ReasonMalformed),
					zap.String("path", path), zap.String("why", "its task znode is in another shard than its id's"))
			case errors.Is(refused, coord.ErrTaskGone):
				delete(ct.strays, s)
			case errors.Is(refused, coord.ErrConflict):
				ct.strays[s] = true // remove it instead, at the next pass
				ct.log.Warn("cannot dead-letter a misplaced task; removing it instead", zap.String("path", path), zap.Error(refused))
			}
		}}, err
	}
	return write{item: ct.ld.RemoveStray(rec), settle: func(refused error) {
		switch {
		case refused == nil:
			delete(ct.strays, s)
			ct.log.Warn("removed a znode under tasks/ that is not a task", zap.String("path", path),
				zap.Bool("with_payload", rec.Payload), zap.String("data", task.Printable(rec.Data, 256)))
		case errors.Is(refused, coord.ErrTaskGone):
			delete(ct.strays, s)
		case errors.Is(refused, zk.ErrNotEmpty):
			// A child came after it was read (which found none).
			delete(ct.strays, s)
			ct.warnOnce(path, strayHasChildren)
		case errors.Is(refused, coord.ErrConflict):
			delete(ct.strays, s)
			ct.warnOnce(path, "cannot remove a znode under tasks/ that is not a task")
		}
	}}, nil
}
