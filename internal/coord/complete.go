package coord

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// WithRetryDefaults makes the queue's completions retry a failed task that
// has no retry policy of its own by its kind's default: defaults returns
// it, nil for none. It is asked at each failure, not once, because a
// worker's defaults are the retry.<kind> live settings, which change while
// it runs.
func (q *Queue) WithRetryDefaults(defaults func(kind string) *task.RetryPolicy) *Queue {
	q.retryDefaults = defaults
	return q
}

// Retried tells a worker that Complete sent its failed task back to
// pending (the "retry" multi) instead of writing the result: the worker
// counts and logs it as such, not as a failure.
type Retried struct {
	Retry     int           // the retry's number, the Spec's retries now (1 for the first)
	Delay     time.Duration // the backoff drawn from the policy
	NotBefore time.Time     // when the task may be assigned again
}

// Complete writes the result r of task r.ID, which worker ran under its
// assignment read at assignVersion; retries is that Assignment's retries.
//
// A failure the worker did not mark final, of a task with retries left
// (its Spec's policy, else the kind's default: WithRetryDefaults), is
// retried instead: the "retry" multi. It returns what it did then, and
// Retried{} when it wrote the result. To find the policy and the earlier
// errors it reads the Spec, but only when it needs them: the task failed,
// or retries > 0 (the Spec holds errors the result must carry). A success
// at the first try costs no read.
//
// Either way the first completion wins: ErrRevoked when the assignment is
// no longer the worker's (reassigned, cancelled, completed elsewhere), and
// nothing is written.
func (q *Queue) Complete(ctx context.Context, worker string, assignVersion int32, retries int, r task.Result) (Retried, error) {
	failed := r.Status == task.Failed && !r.Final
	if !failed && retries == 0 { // a final failure at the first try has no earlier errors either
		return Retried{}, q.complete(ctx, worker, assignVersion, r)
	}
	spec, stat, err := q.Spec(ctx, r.ID)
	switch {
	case errors.Is(err, ErrUnknownTask):
		return Retried{}, fmt.Errorf("%w: the task is gone", ErrRevoked)
	case errors.Is(err, task.ErrMalformed):
		// No policy can be read from it, and the leader dead-letters a
		// malformed task anyway should it come back: complete it.
		return Retried{}, q.complete(ctx, worker, assignVersion, r)
	case err != nil:
		return Retried{}, err
	}
	if p := q.policy(spec); failed && p != nil && spec.Retries < p.MaxRetries {
		return q.retry(ctx, worker, assignVersion, spec, stat.Version, r, *p)
	}
	// A task that ran once keeps its single error in Error alone; one that
	// was retried lists every failed attempt, this one included.
	if len(spec.Errors) > 0 {
		r.Errors, r.ErrorsDropped = spec.Errors, spec.ErrorsDropped
		if r.Status == task.Failed {
			r.Errors, r.ErrorsDropped = task.AppendAttemptError(r.Errors, r.ErrorsDropped, attemptError(worker, r))
		}
	}
	return Retried{}, q.complete(ctx, worker, assignVersion, r)
}

// policy is the retry policy of a failed task: its own, else its kind's
// default, else nil (no retries).
func (q *Queue) policy(s task.Spec) *task.RetryPolicy {
	switch {
	case s.Retry != nil:
		return s.Retry
	case q.retryDefaults != nil:
		return q.retryDefaults(s.Kind)
	}
	return nil
}

// attemptError is r's failure as the Spec and the result keep it.
func attemptError(worker string, r task.Result) task.AttemptError {
	at := r.FinishedAt
	if at.IsZero() {
		at = time.Now().UTC()
	}
	return task.AttemptError{Attempt: r.Attempts, Worker: worker, Error: r.Error, At: at}
}

// complete is the "complete" multi: delete the assignment (at the version
// the worker read, so a reassigned task cannot be completed by the old
// assignee), delete the task, create the result.
func (q *Queue) complete(ctx context.Context, worker string, assignVersion int32, r task.Result) error {
	b, err := task.EncodeResult(r)
	if err != nil {
		return err
	}
	ops := []zkclient.Op{
		zkclient.DeleteOp(q.l.Assignment(worker, r.ID), assignVersion),
		zkclient.DeleteOp(q.l.Task(r.ID), -1),
		zkclient.CreateOp(q.l.Result(r.ID), b, zk.FlagPersistent),
	}
	return q.finish(ctx, ops, completeRevocation, func() (bool, error) {
		got, err := q.Result(ctx, r.ID)
		switch {
		case err == nil:
			return got.Worker == worker && got.Attempts == r.Attempts && got.StartedAt.Equal(r.StartedAt), nil
		case errors.Is(err, ErrUnknownTask):
			return false, ErrOutcomeUnknown
		}
		return false, nil
	})
}

// retry is the "retry" multi: delete the assignment (at its version, as
// "complete"), delete the task at the version read and create it again,
// pending, with the failure recorded and not_before set. Deleting and
// creating rather than rewriting is what tells the leader: it changes the
// shard's children, which the leader watches, while a setData would fire
// no watch of its.
func (q *Queue) retry(ctx context.Context, worker string, assignVersion int32, spec task.Spec, version int32,
	r task.Result, p task.RetryPolicy) (Retried, error) {
	e := attemptError(worker, r)
	next := spec
	next.Worker, next.LastWorker = "", worker
	next.Retries++
	next.Errors, next.ErrorsDropped = task.AppendAttemptError(spec.Errors, spec.ErrorsDropped, e)
	delay := p.Delay(next.Retries, rand.Float64())
	next.NotBefore = time.Now().UTC().Add(delay).Truncate(time.Millisecond)
	b, err := task.Encode(next)
	if err != nil {
		return Retried{}, err
	}
	ops := []zkclient.Op{
		zkclient.DeleteOp(q.l.Assignment(worker, r.ID), assignVersion),
		zkclient.DeleteOp(q.l.Task(r.ID), version),
		zkclient.CreateOp(q.l.Task(r.ID), b, zk.FlagPersistent),
	}
	err = q.finish(ctx, ops, retryRevocation, func() (bool, error) { return q.retryLanded(ctx, r.ID, e) })
	if err != nil {
		return Retried{}, err
	}
	return Retried{Retry: next.Retries, Delay: delay, NotBefore: next.NotBefore}, nil
}

// retryLanded reports whether a "retry" multi whose reply was lost was
// applied: its error e is in the task's errors, or, the task having
// finished since, in its result's. Neither the task nor a result:
// ErrOutcomeUnknown.
func (q *Queue) retryLanded(ctx context.Context, id task.ID, e task.AttemptError) (bool, error) {
	has := func(errs []task.AttemptError) bool {
		for _, x := range errs {
			if x.Attempt == e.Attempt && x.Worker == e.Worker && x.At.Equal(e.At) {
				return true
			}
		}
		return false
	}
	spec, _, err := q.Spec(ctx, id)
	if err == nil {
		return has(spec.Errors), nil
	}
	if !errors.Is(err, ErrUnknownTask) {
		return false, nil
	}
	got, err := q.Result(ctx, id)
	switch {
	case err == nil:
		return has(got.Errors), nil
	case errors.Is(err, ErrUnknownTask):
		return false, ErrOutcomeUnknown
	}
	return false, nil
}

// finish sends a worker's completion multi (through the group commit when
// the queue has one) until ZooKeeper answers. A refusal is a revocation
// (ErrRevoked) when revoked says so of the failed op, and
// ErrCompletionRefused otherwise. When the refusal follows a lost reply,
// landed tells whether the earlier send was applied after all (nil error),
// or that nobody can tell (its error, ErrOutcomeUnknown).
func (q *Queue) finish(ctx context.Context, ops []zkclient.Op, revoked func(*zkclient.MultiError) bool,
	landed func() (bool, error)) error {
	retried := false
	for {
		err := q.multi(ctx, ops)
		var me *zkclient.MultiError
		switch {
		case err == nil:
			return nil
		case zkclient.IsConnectionError(err):
			if err := q.c.Retry(ctx, err); err != nil {
				return err
			}
			retried = true
		case errors.As(err, &me) && !revoked(me):
			return fmt.Errorf("%w: %v", ErrCompletionRefused, me)
		case errors.As(err, &me):
			if retried {
				if ok, err := landed(); ok || err != nil {
					return err
				}
			}
			return fmt.Errorf("%w: %v", ErrRevoked, me)
		default:
			return err
		}
	}
}

// completeRevocation reports whether the failed op of a "complete" multi
// (delete the assignment, delete the task, create the result) means that
// the completion is no longer the worker's to make: its assignment is gone
// or was rewritten, the task is gone, or a result exists.
func completeRevocation(me *zkclient.MultiError) bool {
	switch me.Index {
	case 0:
		return errors.Is(me, zk.ErrNoNode) || errors.Is(me, zk.ErrBadVersion)
	case 1:
		return errors.Is(me, zk.ErrNoNode)
	case 2:
		return errors.Is(me, zk.ErrNodeExists)
	}
	return false
}

// retryRevocation is completeRevocation for a "retry" multi (delete the
// assignment, delete the task at the version read, create it again): the
// task may also have been rewritten since (BadVersion), by a cancel and a
// resubmission or by a tool.
func retryRevocation(me *zkclient.MultiError) bool {
	switch me.Index {
	case 0, 1:
		return errors.Is(me, zk.ErrNoNode) || errors.Is(me, zk.ErrBadVersion)
	}
	return false
}
