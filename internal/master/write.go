package master

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// write is one item of a fenced batch the leader sends (an assignment, a
// task taken back, a dead letter, a stray cleared) and how to settle it.
// Assigning (assign.go), taking back (reclaim.go) and clearing strays
// (backlog.go) build writes; apply sends them and settles each.
type write struct {
	id   task.ID // the task it is about, for logs and for putting it back
	item coord.Item
	// worker is the worker whose assign/ dir the write creates in ("" for
	// none): when the write's outcome is unknown, that directory is listed
	// again, so an assignment that did land is known before its task is
	// tried again.
	worker string
	// settle is called once the server has answered for the write: with
	// nil when it was applied, else with its *coord.Refusal.
	settle func(refused error)
}

// apply sends writes as fenced multis and settles each once the server has
// answered for it. It returns how many were applied. An error (connection
// loss, deposition) leaves every outcome unknown and settles nothing: the
// caller puts back what it took.
//
// Meanwhile it reads the records of next, pending tasks that no write
// touches, and caches those it finds still pending, for the next round
// (see upcoming): the reads and the multi share one round trip. A record
// read so may be stale by the time it is used, as any cached one: the
// assignment is conditional on its version, and a refusal reads it again.
func (ct *controller) apply(ctx context.Context, writes []write, next []task.ID) (int, error) {
	if len(writes) == 0 {
		return 0, nil
	}
	items := make([]coord.Item, len(writes))
	for i, w := range writes {
		items[i] = w.item
	}
	var read map[task.ID]coord.TaskRecord
	var reading sync.WaitGroup
	if len(next) > 0 {
		// Its error is the multi's too, or none that matters: a record not
		// cached is read when its round comes.
		reading.Go(func() { read, _ = ct.readTasks(ctx, next) })
	}
	failed, err := ct.ld.Apply(ctx, items)
	reading.Wait()
	for id, rec := range read {
		if ct.pending.Has(id) {
			ct.specs[id] = rec
		}
	}
	if err != nil {
		return 0, err
	}
	for i, w := range writes {
		w.settle(failed[i])
	}
	return len(writes) - len(failed), nil
}

// readTasks reads the records of ids in one pipelined round (see
// coord.Leader.ReadTasks).
func (ct *controller) readTasks(ctx context.Context, ids []task.ID) (map[task.ID]coord.TaskRecord, error) {
	if ct.cfg.beforeRead != nil {
		ct.cfg.beforeRead(ids)
	}
	return ct.ld.ReadTasks(ctx, ids)
}

// verdict says whether a task must be dead-lettered rather than assigned:
// its record is malformed, or it has used its attempts (why adds to the
// detail, e.g. which worker was lost).
func verdict(rec coord.TaskRecord, why string) (reason, detail string, dead bool) {
	switch {
	case rec.Malformed != nil:
		return task.ReasonMalformed, rec.Malformed.Error(), true
	case rec.Spec.Attempts >= rec.Spec.AttemptLimit():
		return task.ReasonMaxAttempts, fmt.Sprintf("assigned %d times without finishing%s", rec.Spec.Attempts, why), true
	}
	return "", "", false
}

// routingDeadline is when a task whose kind no live worker runs stops
// waiting: its routing timeout after it became due (its not_before, or its
// submission, read from its id so that every leader computes the same
// instant). False: it waits for ever.
func routingDeadline(s task.Spec, id task.ID) (time.Time, bool) {
	d := s.RoutingTimeout()
	if d <= 0 {
		return time.Time{}, false
	}
	return later(s.NotBefore, id.SubmittedAt()).Add(d), true
}

// routingTimedOut is the verdict on a due task of a kind no live worker
// runs (park did not take it): past its routing deadline, it is
// dead-lettered, so the client learns which kind is missing.
func routingTimedOut(rec coord.TaskRecord, r *round) (reason, detail string, dead bool) {
	if r.advertised[rec.Spec.Kind] {
		return "", "", false
	}
	deadline, ok := routingDeadline(rec.Spec, rec.ID)
	if !ok || deadline.After(r.now) {
		return "", "", false
	}
	return task.ReasonRoutingTimeout, fmt.Sprintf("no live worker runs kind %q; waited %v (the task's routing timeout)",
		rec.Spec.Kind, rec.Spec.RoutingTimeout()), true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
