package coord

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// Requeue errors. Nothing is written when one is returned.
var (
	// ErrNotDead: the task is not a dead letter (a NotDeadError says where
	// it is).
	ErrNotDead = errors.New("not a dead letter")
	// ErrPayloadGone: the dead letter's payload was removed, by a client
	// older than the rule that a dead result is collected without it. The
	// task cannot run again; its dead letter is kept for inspection.
	ErrPayloadGone = errors.New("payload is gone")
	// ErrNotRequeueable: the dead letter, its spec or its result is not
	// Paddock's (malformed), so there is nothing valid to put back.
	ErrNotRequeueable = errors.New("cannot be requeued")
)

// NotDeadError is ErrNotDead naming the task's state ("" when nothing of
// it is left, which also matches ErrUnknownTask).
type NotDeadError struct {
	ID    task.ID
	State State
}

func (e *NotDeadError) Error() string {
	if e.State == "" {
		return fmt.Sprintf("no dead letter %s: no such task (never submitted, or collected, requeued and collected, purged or expired)", e.ID)
	}
	return fmt.Sprintf("task %s is %s, not dead", e.ID, e.State)
}

// Is makes errors.Is match ErrNotDead, and ErrUnknownTask when the task is
// unknown.
func (e *NotDeadError) Is(target error) bool {
	return target == ErrNotDead || target == ErrUnknownTask && e.State == ""
}

// requeuePlan is one dead letter's "requeue" multi, from what was read.
type requeuePlan struct {
	id         task.ID
	reason     string
	ops        []zkclient.Op
	withResult bool // ops delete the dead result (index 2)
	size       int  // bytes of the task znode it creates
}

// Requeue puts a dead letter back to pending, as it was submitted, with its
// attempts reset, in one multi ("requeue" in docs/PROTOCOL.md): delete the
// dead letter at the version read, check that the payload exists, delete
// the dead result if present at the version read, create the task. Of two
// concurrent requeues, or a requeue and a purge, one wins and the other
// gets a NotDeadError naming where the task is now.
func (q *Queue) Requeue(ctx context.Context, id task.ID) error {
	lost := false // a multi's reply was lost: it may have been applied
	for try := 1; ; try++ {
		p, err := q.planRequeue(ctx, id)
		var nd *NotDeadError
		switch {
		case lost && errors.As(err, &nd) && nd.State != "":
			return nil // the lost multi was applied (or another requeue was)
		case err == nil:
			_, err = q.c.Multi(ctx, p.ops...)
			err = p.explain(err)
		}
		switch {
		case err == nil:
			return nil
		case zkclient.IsConnectionError(err):
			if err := q.c.Retry(ctx, err); err != nil {
				return err
			}
			lost = true
		case errors.Is(err, errChanged) && try < requeueTries:
			// Requeued, purged or collected meanwhile: read again.
		case errors.Is(err, errChanged):
			return fmt.Errorf("requeue %s: its znodes kept changing under %d tries", id, try)
		default:
			return err
		}
	}
}

// requeueTries bounds how often Requeue reads again a dead letter that
// changed under it.
const requeueTries = 5

// errChanged: a znode the plan read changed before its multi; plan again.
var errChanged = errors.New("changed meanwhile")

// explain turns the refusal of a plan's multi into a requeue error.
func (p requeuePlan) explain(err error) error {
	var me *zkclient.MultiError
	if !errors.As(err, &me) {
		return err
	}
	switch {
	case errors.Is(err, zk.ErrNoAuth):
		// Not a change: reading again would not mend it.
		return fmt.Errorf("requeue %s: %w", p.id, err)
	case me.Index == 1:
		return fmt.Errorf("%w: the payload of %s is gone (a client older than this version collected its dead result); the dead letter is kept", ErrPayloadGone, p.id)
	case me.Index == 0, me.Index == 2 && p.withResult:
		return errChanged
	case errors.Is(err, zk.ErrNodeExists):
		return fmt.Errorf("%w: task %s exists beside its dead letter (written by another tool?)", ErrNotRequeueable, p.id)
	}
	return fmt.Errorf("requeue %s: %w", p.id, err)
}

// planRequeue reads the dead letter and its result and builds the multi.
func (q *Queue) planRequeue(ctx context.Context, id task.ID) (requeuePlan, error) {
	p := requeuePlan{id: id}
	dn, err := getNode(ctx, q.c, q.l.DeadLetter(id))
	if errors.Is(err, zk.ErrNoNode) {
		return p, q.notDead(ctx, id)
	}
	if err != nil {
		return p, err
	}
	d, err := task.DecodeDeadLetter(dn.Data)
	if err != nil {
		return p, fmt.Errorf("%w: the dead letter of %s is unreadable: %v", ErrNotRequeueable, id, err)
	}
	p.reason = d.Reason
	spec, err := task.DecodeSpec([]byte(d.Spec))
	if err != nil {
		return p, fmt.Errorf("%w: task %s (dead: %s) has a spec that is %v; it cannot run as it is: submit a new task", ErrNotRequeueable, id, d.Reason, err)
	}
	// As submitted: no attempts so far, no worker, no epoch.
	spec.Attempts, spec.Worker, spec.LastWorker, spec.Epoch, spec.AssignedAt = 0, "", "", 0, time.Time{}
	b, err := task.Encode(spec)
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrNotRequeueable, err)
	}
	p.ops = []zkclient.Op{zkclient.DeleteOp(q.l.DeadLetter(id), dn.Stat.Version), zkclient.CheckOp(q.l.Payload(id), -1)}
	rn, err := getNode(ctx, q.c, q.l.Result(id))
	switch {
	case err == nil:
		r, derr := task.DecodeResult(rn.Data)
		if derr != nil || r.Status != task.Dead {
			return p, fmt.Errorf("%w: the result of %s is not its dead result (written by another tool?)", ErrNotRequeueable, id)
		}
		p.ops, p.withResult = append(p.ops, zkclient.DeleteOp(q.l.Result(id), rn.Stat.Version)), true
	case !errors.Is(err, zk.ErrNoNode):
		return p, err
	}
	p.ops, p.size = append(p.ops, zkclient.CreateOp(q.l.Task(id), b, zk.FlagPersistent)), len(b)
	return p, nil
}

func (q *Queue) notDead(ctx context.Context, id task.ID) error {
	st, err := StateOf(ctx, q.c, q.l, id)
	if err != nil && !errors.Is(err, ErrUnknownTask) {
		return err
	}
	if st == StateDead {
		return errChanged // dead again already: plan again
	}
	return &NotDeadError{ID: id, State: st}
}

// Requeued is what RequeueDead did.
type Requeued struct {
	Requeued []task.ID         `json:"requeued"`
	Failed   map[string]string `json:"failed,omitempty"` // task id -> why it was left
	Matched  int               `json:"matched"`          // dead letters with the reason asked for
}

// requeueBatch bounds one multi of RequeueDead: count, and bytes of the
// task znodes it creates (a multi must fit in jute.maxbuffer).
const (
	requeueBatch      = 256
	requeueBatchBytes = 512 << 10
)

// RequeueDead requeues every dead letter (with that reason, unless reason
// is ""), in batches: the dead letters of a chunk are read in parallel,
// their "requeue" multis go together (one transaction per batch), and one
// that fails is left out of the batch and retried alone by Requeue, so it
// gets the same clear error. progress, if not nil, is told the count so
// far after each batch.
func (q *Queue) RequeueDead(ctx context.Context, reason string, progress func(done int)) (Requeued, error) {
	out := Requeued{Requeued: []task.ID{}, Failed: map[string]string{}}
	cands, err := listShards(ctx, q.c, q.l.DeadShard)
	if err != nil {
		return out, err
	}
	var ids []task.ID
	for _, cand := range cands {
		if id, err := task.ParseID(cand.name); err == nil && id.Shard() == cand.shard {
			ids = append(ids, id)
		}
	}
	fail := func(id task.ID, err error) { out.Failed[string(id)] = err.Error() }
	err = zkclient.InChunks(len(ids), requeueBatch, 0, nil, func(lo, hi int) error {
		plans := make([]requeuePlan, hi-lo)
		errs := make([]error, hi-lo)
		if err := zkclient.Pipeline(hi-lo, func(i int) error {
			plans[i], errs[i] = q.planRequeue(ctx, ids[lo+i])
			return nil
		}); err != nil {
			return err
		}
		var ready []requeuePlan
		for i, p := range plans {
			switch {
			case reason != "" && p.reason != reason:
			case errors.Is(errs[i], errChanged):
				out.Matched++
				q.requeueAlone(ctx, p.id, &out)
			case errors.Is(errs[i], ErrNotDead), errors.Is(errs[i], ErrNotRequeueable):
				out.Matched++
				fail(p.id, errs[i])
			case errs[i] != nil:
				return errs[i] // connection lost for good, ctx done
			default:
				out.Matched++
				ready = append(ready, p)
			}
		}
		if err := q.applyRequeues(ctx, ready, &out); err != nil {
			return err
		}
		if progress != nil {
			progress(len(out.Requeued))
		}
		return nil
	})
	sort.Slice(out.Requeued, func(i, j int) bool { return out.Requeued[i] < out.Requeued[j] })
	return out, err
}

// applyRequeues sends ready plans in batched multis; a refused plan is
// retried alone.
func (q *Queue) applyRequeues(ctx context.Context, ready []requeuePlan, out *Requeued) error {
	return zkclient.InChunks(len(ready), requeueBatch, requeueBatchBytes, func(i int) int { return ready[i].size }, func(lo, hi int) error {
		items := make([][]zkclient.Op, 0, hi-lo)
		for _, p := range ready[lo:hi] {
			items = append(items, p.ops)
		}
		failed, err := q.c.Batch(ctx, items)
		if err != nil {
			return err // unknown outcome; a rerun finds what is still dead
		}
		for i, p := range ready[lo:hi] {
			if me := failed[i]; me != nil {
				q.requeueAlone(ctx, p.id, out)
				continue
			}
			out.Requeued = append(out.Requeued, p.id)
		}
		return nil
	})
}

// requeueAlone gives one dead letter that changed under a batch its own
// try, so it ends requeued or with Requeue's error.
func (q *Queue) requeueAlone(ctx context.Context, id task.ID, out *Requeued) {
	if err := q.Requeue(ctx, id); err != nil {
		out.Failed[string(id)] = err.Error()
		return
	}
	out.Requeued = append(out.Requeued, id)
}
