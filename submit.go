package paddock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// submission is one task ready to be written: its id, its record and its
// payload.
type submission struct {
	id      task.ID
	spec    task.Spec
	payload []byte
}

// prepare validates t and chooses its id; nothing is written.
func (c *Client) prepare(t Task, now time.Time) (submission, error) {
	if err := t.Validate(); err != nil {
		return submission{}, err
	}
	if limit := c.q.MaxPayload(); len(t.Payload) > limit {
		return submission{}, fmt.Errorf("%w: %d bytes, the limit is %d (Config.MaxPayload); nothing was submitted",
			ErrPayloadTooLarge, len(t.Payload), limit)
	}
	return submission{id: c.ids.Next(now), spec: t.spec(c.name, now), payload: t.Payload}, nil
}

// Submit writes a task (its record and its payload, in one ZooKeeper
// multi) and returns its id once ZooKeeper has it: from then on it runs
// even if this client goes away. The elected master assigns it to a
// worker that runs its kind; Wait or Result, from any client, reads how
// it ended.
//
// A Task that Validate refuses, or whose payload is over MaxPayload, is
// refused before anything is written. A lost reply is retried without
// ever adding a second task: the id is chosen before the first try. A
// Task with a Key that an earlier task still holds writes nothing and
// returns that task's id, with no error.
func (c *Client) Submit(ctx context.Context, t Task) (ID, error) {
	id, _, err := c.submit(ctx, t)
	return id, err
}

// submit is Submit, also saying whether the id is an earlier task's (the
// Key was taken).
func (c *Client) submit(ctx context.Context, t Task) (ID, bool, error) {
	if err := c.use(); err != nil {
		return "", false, err
	}
	s, err := c.prepare(t, time.Now())
	if err != nil {
		return "", false, err
	}
	return c.outcome(s, c.q.Submit(ctx, s.id, s.spec, s.payload))
}

// duplicateOf reports whether err says that the submission's key is
// taken, and by which task: for the caller that is not a failure but the
// answer (the id to use).
func duplicateOf(err error) (task.ID, bool) {
	var dup *coord.DuplicateKeyError
	if errors.As(err, &dup) {
		return dup.ID, true
	}
	return "", false
}

// submitAll writes subs with the protocol's "submit-many" (few multis for
// many tasks) and returns each one's error (nil: submitted). A batch ended
// by the connection or ctx leaves its error on every submission whose
// outcome it made unknown.
func submitAll(ctx context.Context, q *coord.Queue, subs []submission) []error {
	items := make([]coord.Submission, len(subs))
	for i, s := range subs {
		items[i] = coord.Submission{ID: s.id, Spec: s.spec, Payload: s.payload}
	}
	errs, _ := q.SubmitMany(ctx, items)
	return errs
}

// outcome turns the protocol's answer to submission s into the id the
// caller gets: its own, or the task's that holds its key.
func (c *Client) outcome(s submission, err error) (ID, bool, error) {
	if first, ok := duplicateOf(err); ok {
		return ID(first), true, nil
	}
	if errors.Is(err, zk.ErrNoNode) {
		// A submit creates znodes in the task tree's shards: only a
		// missing tree makes their parents missing.
		return "", false, fmt.Errorf("%w %s (a master or a worker creates it when it starts; or call Client.Init): %v",
			ErrNotInitialized, c.Root(), err)
	}
	if err != nil {
		return "", false, err
	}
	return ID(s.id), false, nil
}

// SubmitMany submits tasks together, in far fewer round trips (and
// ZooKeeper transactions) than as many Submit calls, and returns their
// ids in order. Every Task is validated first: one refused fails the call
// before anything is written (the error names its index). When some are
// not submitted the error is a *SubmitManyError saying which and why; the
// others were, and ids holds every task's id (those of the failed ones
// name nothing). Keys work as in Submit, also between tasks of one call.
func (c *Client) SubmitMany(ctx context.Context, tasks []Task) ([]ID, error) {
	if err := c.use(); err != nil {
		return nil, err
	}
	subs := make([]submission, len(tasks))
	seen := make(map[task.ID]bool, len(tasks))
	for i, t := range tasks {
		now := time.Now()
		s, err := c.prepare(t, now)
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", i, err)
		}
		// Ids of one millisecond and shard differ in 28 random bits: a
		// large batch could draw one twice, and its second task would fail.
		for seen[s.id] {
			s.id = c.ids.Next(now)
		}
		seen[s.id] = true
		subs[i] = s
	}
	errs := submitAll(ctx, c.q, subs)
	ids := make([]ID, len(subs))
	failed := false
	for i, s := range subs {
		ids[i], _, errs[i] = c.outcome(s, errs[i])
		if errs[i] != nil {
			ids[i], failed = ID(s.id), true
		}
	}
	if failed {
		return ids, &SubmitManyError{Errs: errs}
	}
	return ids, nil
}

// SubmitAndWait submits t and waits for its result: a synchronous call,
// one request cheaper than Submit then Wait (the task is known to exist).
// The result is not collected. An error after the submit (the context
// ended while waiting) comes with the task's id: it keeps running.
func (c *Client) SubmitAndWait(ctx context.Context, t Task) (ID, Result, error) {
	id, dup, err := c.submit(ctx, t)
	if err != nil {
		return "", Result{}, err
	}
	wait := c.q.WaitSubmitted
	if dup {
		wait = c.q.Wait // the key's task is an earlier one, maybe collected already
	}
	r, err := wait(ctx, task.ID(id))
	return id, resultFrom(r), err
}
