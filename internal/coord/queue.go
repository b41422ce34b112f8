package coord

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// Queue errors.
var (
	ErrPayloadTooLarge = errors.New("payload too large")
	ErrUnknownTask     = errors.New("no such task")
	ErrNotFinished     = errors.New("task has not finished")
	ErrFinished        = errors.New("task has already finished")
	// ErrRevoked: a worker's completion was dropped because the assignment
	// is no longer its own (reassigned, cancelled) or a result exists.
	ErrRevoked = errors.New("assignment revoked or task already finished")
	// ErrOutcomeUnknown: a completion's reply was lost, and by the time the
	// worker looked again the task and its result were both gone (the
	// result collected). Almost always the completion was applied; a
	// cancel collected just as fast looks the same.
	ErrOutcomeUnknown = errors.New("completion reply lost; the task and its result are already gone")
	// ErrCompletionRefused: ZooKeeper refuses a worker's completion for a
	// reason that is not a revocation and that trying again does not mend:
	// a znode it must write belongs to another identity (NoAuth), the task
	// or its assignment has children (another tool's), or the results
	// shard is missing. Nothing was written.
	ErrCompletionRefused = errors.New("completion refused: the tree forbids it")
)

// Queue is the task queue's operations on the tree: what clients, workers
// and the master write, as the multis docs/PROTOCOL.md names.
type Queue struct {
	c          *zkclient.Client
	l          Layout
	maxPayload int
	batch      *zkclient.Batcher // group commit of submits, collects and completions; nil: one multi each
	// retryDefaults is the retry policy of a failed task that has none of
	// its own (see WithRetryDefaults, complete.go); nil: none.
	retryDefaults func(kind string) *task.RetryPolicy
}

// WithBatcher makes the queue's one-task multis (submit, collect,
// complete, retry) go through b: group commit, so that many goroutines
// submitting or collecting at once share transactions and requests, while
// a lone caller's multi still goes at once.
func (q *Queue) WithBatcher(b *zkclient.Batcher) *Queue {
	q.batch = b
	return q
}

// multi applies one caller's ops: through the batcher when the queue has
// one, else as a multi of their own.
func (q *Queue) multi(ctx context.Context, ops []zkclient.Op) error {
	if q.batch != nil {
		return q.batch.Multi(ctx, ops...)
	}
	_, err := q.c.Multi(ctx, ops...)
	return err
}

// applyItems is Client.Batch for a submission's items, except that a lone
// item goes through the batcher (see WithBatcher).
func (q *Queue) applyItems(ctx context.Context, items [][]zkclient.Op) (map[int]*zkclient.MultiError, error) {
	if q.batch == nil || len(items) != 1 {
		return q.c.Batch(ctx, items)
	}
	err := q.multi(ctx, items[0])
	if me := (*zkclient.MultiError)(nil); errors.As(err, &me) {
		return map[int]*zkclient.MultiError{0: me}, nil
	}
	return nil, err
}

// NewQueue returns the queue of layout l. maxPayload <= 0 means
// task.DefaultMaxPayload.
func NewQueue(c *zkclient.Client, l Layout, maxPayload int) *Queue {
	if maxPayload <= 0 {
		maxPayload = task.DefaultMaxPayload
	}
	return &Queue{c: c, l: l, maxPayload: maxPayload}
}

// Layout is the queue's layout.
func (q *Queue) Layout() Layout { return q.l }

// Client is the queue's client.
func (q *Queue) Client() *zkclient.Client { return q.c }

// MaxPayload is the largest payload Submit accepts.
func (q *Queue) MaxPayload() int { return q.maxPayload }

// SubmitOps are the operations of the "submit" multi: with a key
// (spec.Key, a KeyName), the key's create first, so that a taken key fails
// the multi before anything else is looked at.
func (q *Queue) SubmitOps(id task.ID, spec task.Spec, payload []byte) ([]zkclient.Op, error) {
	ops, _, err := q.submitOps(id, spec, payload)
	return ops, err
}

// submitOps is SubmitOps, also giving the bytes the ops write: what bounds
// how many go in one multi.
func (q *Queue) submitOps(id task.ID, spec task.Spec, payload []byte) ([]zkclient.Op, int, error) {
	if len(payload) > q.maxPayload {
		return nil, 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrPayloadTooLarge, len(payload), q.maxPayload)
	}
	spec.Size = len(payload)
	spec.Payload = nil
	if len(payload) <= task.InlineMax {
		spec.Payload = append([]byte{}, payload...) // non-nil even when empty: present
	}
	if err := spec.Validate(); err != nil {
		return nil, 0, err
	}
	if spec.Key != "" && !validKeyName(spec.Key) {
		return nil, 0, fmt.Errorf("coord: key %q is not a key name (coord.KeyName of the caller's key): %w", spec.Key, task.ErrMalformed)
	}
	b, err := task.Encode(spec)
	if err != nil {
		return nil, 0, err
	}
	ops := make([]zkclient.Op, 0, 3)
	if spec.Key != "" {
		ops = append(ops, zkclient.CreateOp(q.l.Key(spec.Key), []byte(id), zk.FlagPersistent))
	}
	ops = append(ops,
		zkclient.CreateOp(q.l.Payload(id), payload, zk.FlagPersistent),
		zkclient.CreateOp(q.l.Task(id), b, zk.FlagPersistent))
	return ops, len(payload) + len(b) + 3*len(q.l.Task(id)), nil
}

// Submit writes a task: its key if it has one, its payload and its task
// znode, in one multi. It refuses an oversized payload before writing
// anything, retries across connection loss without duplicating the task,
// and returns a *DuplicateKeyError when the key is an earlier task's. It is
// SubmitMany of one, so that both share one lost-reply logic.
func (q *Queue) Submit(ctx context.Context, id task.ID, spec task.Spec, payload []byte) error {
	errs, err := q.SubmitMany(ctx, []Submission{{ID: id, Spec: spec, Payload: payload}})
	if err != nil {
		return err
	}
	return errs[0]
}

// Submission is one task for SubmitMany.
type Submission struct {
	ID      task.ID
	Spec    task.Spec
	Payload []byte
}

// submitBatch bounds one "submit-many" multi: count, and bytes of payloads
// and Specs (a multi must fit in jute.maxbuffer, about 1 MiB; a single
// submission larger than this goes alone, as Submit would send it).
const (
	submitBatch      = 256
	submitBatchBytes = 512 << 10
)

// submitTries bounds how often one submission is sent again after its key
// was found taken and then free (the key's holder failed in the same
// multi, or the sweep freed it in between): more would mean a tool is
// fighting us over the key.
const submitTries = 3

// submitReplyHook, set by tests only, sees the outcome of every multi batch
// of SubmitMany and may replace it: returning a connection error for a
// batch that landed is a lost reply, without a network to lose it.
var submitReplyHook atomic.Pointer[func(err error) error]

// SubmitMany writes many tasks in as few multis ("submit-many" in
// docs/PROTOCOL.md) as fit the size limits: each is its "submit" ops, and
// a submission that fails is dropped from the multi and the rest sent
// again (zkclient's Client.Batch). errs has one entry per submission: nil
// when it was written (or its earlier attempt was, the reply lost), a
// *DuplicateKeyError when its key is taken, or why it was refused. err
// ends the whole call (the connection for good, ctx): the submissions whose
// outcome it left unknown, or that were not sent, have err as their entry;
// earlier batches keep theirs.
func (q *Queue) SubmitMany(ctx context.Context, subs []Submission) (errs []error, err error) {
	errs = make([]error, len(subs))
	ops := make([][]zkclient.Op, len(subs))
	var todo []int
	weight := make([]int, len(subs))
	for i, s := range subs {
		if ops[i], weight[i], errs[i] = q.submitOps(s.ID, s.Spec, s.Payload); errs[i] == nil {
			todo = append(todo, i)
		}
	}
	err = zkclient.InChunks(len(todo), submitBatch, submitBatchBytes, func(k int) int { return weight[todo[k]] }, func(lo, hi int) error {
		err := q.submitChunk(ctx, subs, ops, todo[lo:hi], errs)
		if err != nil {
			for _, i := range todo[hi:] {
				errs[i] = err // never sent
			}
		}
		return err
	})
	return errs, err
}

// submitChunk sends the submissions idx (one multi's worth) until each has
// its outcome in errs. After a connection error every submission still in
// flight may have landed: its retry reads NodeExists on its own znodes as
// success (see submitRefused).
func (q *Queue) submitChunk(ctx context.Context, subs []Submission, ops [][]zkclient.Op, idx []int, errs []error) error {
	maybe := make(map[int]bool) // sent in a multi whose reply was lost
	tries := make(map[int]int)
	live := idx
	for len(live) > 0 {
		items := make([][]zkclient.Op, len(live))
		for k, i := range live {
			items[k] = ops[i]
		}
		failed, err := q.applyItems(ctx, items)
		if h := submitReplyHook.Load(); h != nil {
			err = (*h)(err)
		}
		var next, unknown []int
		for k, i := range live {
			me, refused := failed[k]
			if !refused {
				if err != nil {
					unknown = append(unknown, i)
				}
				continue
			}
			tries[i]++
			errs[i] = q.submitRefused(ctx, subs[i], me, maybe[i])
			switch {
			case !errors.Is(errs[i], errKeyGone):
			case tries[i] < submitTries:
				errs[i] = nil
				next = append(next, i)
			default:
				errs[i] = fmt.Errorf("submit %s: the idempotency key %s was taken and freed %d times meanwhile; nothing was submitted",
					subs[i].ID, subs[i].Spec.Key, tries[i])
			}
		}
		if err != nil {
			if err := q.c.Retry(ctx, err); err != nil {
				for _, i := range append(next, unknown...) {
					errs[i] = err
				}
				return err
			}
			for _, i := range unknown {
				maybe[i] = true
			}
		}
		live = append(next, unknown...)
	}
	return nil
}

// submitRefused is the outcome of a submission whose "submit" ops the
// server refused (me), maybe having applied them earlier (maybeLanded: a
// reply was lost). It is the one place that tells a lost reply from a
// repeat, for Submit and SubmitMany alike.
func (q *Queue) submitRefused(ctx context.Context, s Submission, me *zkclient.MultiError, maybeLanded bool) error {
	keyed := s.Spec.Key != ""
	switch {
	case keyed && me.Index == 0 && errors.Is(me, zk.ErrNodeExists):
		owner, err := q.keyOwner(ctx, s.Spec.Key)
		switch {
		case err != nil:
			return err
		case owner == s.ID:
			return nil // our earlier attempt landed; its reply was lost
		}
		return &DuplicateKeyError{Key: s.Spec.Key, ID: owner}
	case keyed && me.Index == 0 && errors.Is(me, zk.ErrNoNode):
		// Wrap NoNode too: with no tree at all, the caller's "not
		// initialized" is just as right.
		return fmt.Errorf("submit %s: %w: %w", s.ID, ErrNoKeyShards, me)
	case maybeLanded && errors.Is(me, zk.ErrNodeExists):
		return nil // the earlier attempt landed; its reply was lost
	}
	return fmt.Errorf("submit %s: %w", s.ID, me)
}

// Spec reads a submitted, unfinished task.
func (q *Queue) Spec(ctx context.Context, id task.ID) (task.Spec, *zk.Stat, error) {
	type r struct {
		data []byte
		stat *zk.Stat
	}
	v, err := zkclient.RetryRead(ctx, q.c, func() (r, error) {
		d, s, err := q.c.Get(ctx, q.l.Task(id))
		return r{d, s}, err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return task.Spec{}, nil, ErrUnknownTask
	}
	if err != nil {
		return task.Spec{}, nil, err
	}
	s, err := task.DecodeSpec(v.data)
	return s, v.stat, err
}

// Result reads a task's result. ErrNotFinished: the task exists without a
// result yet; ErrUnknownTask: neither exists (never submitted, or the result
// was collected or expired).
func (q *Queue) Result(ctx context.Context, id task.ID) (task.Result, error) {
	data, err := zkclient.RetryRead(ctx, q.c, func() ([]byte, error) {
		d, _, err := q.c.Get(ctx, q.l.Result(id))
		return d, err
	})
	if err == nil {
		return task.DecodeResult(data)
	}
	if !errors.Is(err, zk.ErrNoNode) {
		return task.Result{}, err
	}
	st, err := zkclient.RetryRead(ctx, q.c, func() (*zk.Stat, error) { return q.c.Exists(ctx, q.l.Task(id)) })
	if err != nil {
		return task.Result{}, err
	}
	if st != nil {
		return task.Result{}, ErrNotFinished
	}
	// The task may have finished between the two reads.
	data, _, err = q.c.Get(ctx, q.l.Result(id))
	if err == nil {
		return task.DecodeResult(data)
	}
	return task.Result{}, ErrUnknownTask
}

// Wait blocks until the task has a result, driven by a watch on the
// result's creation. It checks once that the task exists (ErrUnknownTask
// otherwise, also when another client collects the result before Wait
// reads it) but does not watch the task znode: the master rewrites it on
// every assignment, and each rewrite would wake every waiter for nothing.
// (A task deleted by hand, without a result, leaves Wait waiting: bound it
// with ctx.)
func (q *Queue) Wait(ctx context.Context, id task.ID) (task.Result, error) {
	return q.wait(ctx, id, true)
}

// WaitSubmitted is Wait for a task the caller has just submitted: it skips
// the existence check, one request less per task in a client loop.
func (q *Queue) WaitSubmitted(ctx context.Context, id task.ID) (task.Result, error) {
	return q.wait(ctx, id, false)
}

// waitHook, set by tests only, runs at the two points of wait where a
// concurrent change decides the outcome: "no result" (the result did not
// exist and its watch is set; the task is looked up next, if it is to be)
// and "created" (the result's creation was notified; it is read next). An atomic keeps a waiter that outlives
// its test from racing with the next test's setting.
var waitHook atomic.Pointer[func(id task.ID, point string)]

func runWaitHook(id task.ID, point string) {
	if h := waitHook.Load(); h != nil {
		(*h)(id, point)
	}
}

// wait is docs/PROTOCOL.md's "wait": a watch on the result, one look at the
// task, and one more at the result before calling the task unknown.
func (q *Queue) wait(ctx context.Context, id task.ID, check bool) (task.Result, error) {
	checked := !check
	for {
		rstat, rch, err := q.c.ExistsW(ctx, q.l.Result(id))
		if err == nil && rstat != nil {
			return q.Result(ctx, id)
		}
		if err == nil {
			runWaitHook(id, "no result")
		}
		if err == nil && !checked {
			var tstat *zk.Stat
			tstat, err = q.c.Exists(ctx, q.l.Task(id))
			if err == nil && tstat == nil {
				// Result reads the result once more: the task may have
				// finished since the ExistsW above.
				return q.Result(ctx, id)
			}
			checked = err == nil
		}
		if err == nil {
			select {
			case ev := <-rch:
				if ev.Type == zk.EventNodeCreated {
					runWaitHook(id, "created")
					// Read it now: re-arming the watch would only fire
					// again when the result is collected. Gone already
					// and the task too: someone collected it (unknown).
					// Gone but the task is back: it was requeued; wait
					// for its next result.
					r, err := q.Result(ctx, id)
					if !errors.Is(err, ErrNotFinished) {
						return r, err
					}
				}
				continue
			case <-ctx.Done():
				return task.Result{}, ctx.Err()
			}
		}
		if err := q.c.Retry(ctx, err); err != nil {
			return task.Result{}, err
		}
	}
}

// CollectOps are the operations of the "collect" multi: the result and the
// payload go together. A dead result ("collect-dead") goes alone, while
// its dead letter exists: the payload belongs to the dead letter, so that
// the task can still be requeued.
func (q *Queue) CollectOps(id task.ID, status task.Status) []zkclient.Op {
	return q.collectOps(id, status == task.Dead)
}

func (q *Queue) collectOps(id task.ID, dead bool) []zkclient.Op {
	if dead {
		return []zkclient.Op{zkclient.DeleteOp(q.l.Result(id), -1), zkclient.CheckOp(q.l.DeadLetter(id), -1)}
	}
	return []zkclient.Op{zkclient.DeleteOp(q.l.Result(id), -1), zkclient.DeleteOp(q.l.Payload(id), -1)}
}

// Collect removes a task's result, once the client has read it (status is
// the result's), and its payload unless a dead letter keeps it. Collecting
// twice is harmless.
func (q *Queue) Collect(ctx context.Context, id task.ID, status task.Status) error {
	dead := status == task.Dead
	for {
		err := q.multi(ctx, q.collectOps(id, dead))
		var me *zkclient.MultiError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &me) && me.Index == 1 && errors.Is(err, zk.ErrNoNode) && dead:
			// The dead letter is gone but its result is not (an older
			// master expired it alone): the payload is the result's again.
			dead = false
		case errors.As(err, &me) && me.Index == 1 && errors.Is(err, zk.ErrNoNode):
			// The payload is already gone (removed by hand): drop the result alone.
			err := q.c.Delete(ctx, q.l.Result(id), -1)
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
			return nil
		case errors.As(err, &me) && errors.Is(err, zk.ErrNoNode):
			return nil // already collected
		case zkclient.IsConnectionError(err):
			if err := q.c.Retry(ctx, err); err != nil {
				return err
			}
		default:
			return fmt.Errorf("collect %s: %w", id, err)
		}
	}
}

// Cancel ends an unfinished task with status cancelled: the task znode and
// its assignment (the worker watching it kills the execution) are deleted
// and the result created, in one multi conditional on the task's version.
func (q *Queue) Cancel(ctx context.Context, id task.ID, who string) (task.Result, error) {
	staleAssign := 0
	for {
		spec, stat, err := q.Spec(ctx, id)
		if errors.Is(err, ErrUnknownTask) {
			if r, rerr := q.Result(ctx, id); rerr == nil {
				return r, ErrFinished
			}
			return task.Result{}, ErrUnknownTask
		}
		if err != nil && !errors.Is(err, task.ErrMalformed) {
			return task.Result{}, err
		}
		r := task.Result{
			ID: id, Kind: spec.Kind, Status: task.Cancelled, Error: "cancelled by " + who,
			Worker: spec.Worker, Attempts: spec.Attempts, Epoch: spec.Epoch,
			SubmittedAt: id.SubmittedAt().UTC(), FinishedAt: time.Now().UTC(),
		}
		b, err := task.EncodeResult(r)
		if err != nil {
			return task.Result{}, err
		}
		ops := []zkclient.Op{zkclient.DeleteOp(q.l.Task(id), stat.Version)}
		withAssign := spec.Worker != "" && staleAssign < 2
		if withAssign {
			ops = append(ops, zkclient.DeleteOp(q.l.Assignment(spec.Worker, id), -1))
		}
		ops = append(ops, zkclient.CreateOp(q.l.Result(id), b, zk.FlagPersistent))
		_, err = q.c.Multi(ctx, ops...)
		var me *zkclient.MultiError
		switch {
		case err == nil:
			return r, nil
		case zkclient.IsConnectionError(err):
			if err := q.c.Retry(ctx, err); err != nil {
				return task.Result{}, err
			}
		case errors.As(err, &me) && errors.Is(err, zk.ErrNoAuth):
			// Not a move: looking again would only spin until the task
			// finishes. The tree belongs to another identity.
			return task.Result{}, fmt.Errorf("cancel %s: %w", id, err)
		case errors.As(err, &me) && withAssign && me.Index == 1:
			// The task names a worker whose assignment is missing: only a
			// tool could leave that; after a second look, cancel without it.
			staleAssign++
		case errors.As(err, &me):
			// The task moved (assigned, finished): look again.
		default:
			return task.Result{}, fmt.Errorf("cancel %s: %w", id, err)
		}
	}
}
