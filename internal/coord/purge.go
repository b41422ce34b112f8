package coord

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// DefaultRemoveBatch is how many removals go in one multi: a removal is up
// to three small deletes, so a multi stays far below jute.maxbuffer.
const DefaultRemoveBatch = 256

// Old is a result or a dead letter created before a cutoff, with what
// removing it takes along. Results and dead letters go by the same rules
// whether the leader expires them or a client purges them.
type Old struct {
	ID      task.ID   `json:"id"`
	State   State     `json:"state"`   // finished (a result) or dead (a dead letter)
	Created time.Time `json:"created"` // the znode's ctime
	// Payload: data/<id> exists and goes too.
	Payload bool `json:"payload"`
	// Result (dead only): results/<id>, the dead result, exists and goes too.
	Result bool `json:"result,omitempty"`
	// DeadLetter (finished only): the task's dead letter exists; it keeps
	// the payload, so only the result goes.
	DeadLetter bool `json:"dead_letter,omitempty"`
}

// FindOld lists the results (state finished) or dead letters (state dead)
// whose znode was created before cutoff, oldest task first, reading the 256
// shards and the znodes' stats in parallel. Names that are not task ids
// are not Paddock's and are left alone.
func FindOld(ctx context.Context, c *zkclient.Client, l Layout, st State, cutoff time.Time) ([]Old, error) {
	shard := l.ResultShard
	switch st {
	case StateFinished:
	case StateDead:
		shard = l.DeadShard
	default:
		return nil, fmt.Errorf("only finished results and dead letters expire, not %s tasks", st)
	}
	cands, err := listShards(ctx, c, shard)
	if err != nil {
		return nil, err
	}
	all := make([]Old, 0, len(cands))
	for _, cand := range cands {
		if id, err := task.ParseID(cand.name); err == nil && id.Shard() == cand.shard {
			all = append(all, Old{ID: id, State: st})
		}
	}
	if err := stamp(ctx, c, l, all); err != nil {
		return nil, err
	}
	old := all[:0]
	for _, o := range all {
		if !o.Created.IsZero() && o.Created.Before(cutoff) {
			old = append(old, o)
		}
	}
	return old, along(ctx, c, l, old)
}

// path is o's own znode.
func (o Old) path(l Layout) string {
	if o.State == StateDead {
		return l.DeadLetter(o.ID)
	}
	return l.Result(o.ID)
}

// stamp sets each one's Created to its znode's ctime, zero once gone.
func stamp(ctx context.Context, c *zkclient.Client, l Layout, olds []Old) error {
	return zkclient.Pipeline(len(olds), func(i int) error {
		s, err := exists(ctx, c, olds[i].path(l))
		olds[i].Created = time.Time{}
		if s != nil {
			olds[i].Created = ctime(s)
		}
		return err
	})
}

// along finds what goes with each one: its payload, and its dead result
// (a dead letter) or its dead letter (a result, which then leaves the
// payload to it).
func along(ctx context.Context, c *zkclient.Client, l Layout, olds []Old) error {
	return zkclient.Pipeline(len(olds), func(i int) error {
		o := &olds[i]
		other := l.DeadLetter(o.ID)
		if o.State == StateDead {
			other = l.Result(o.ID)
		}
		payload, err := exists(ctx, c, l.Payload(o.ID))
		if err != nil {
			return err
		}
		with, err := exists(ctx, c, other)
		if err != nil {
			return err
		}
		o.Payload = payload != nil
		if o.State == StateDead {
			o.Result = with != nil
		} else {
			o.DeadLetter = with != nil
			o.Payload = o.Payload && !o.DeadLetter
		}
		return nil
	})
}

func exists(ctx context.Context, c *zkclient.Client, p string) (*zk.Stat, error) {
	return zkclient.RetryRead(ctx, c, func() (*zk.Stat, error) { return c.Exists(ctx, p) })
}

// RemoveOps are the ops of the "expire" multi (the leader, fenced) and of
// "purge" (a client) for o; docs/PROTOCOL.md lists them.
func RemoveOps(l Layout, o Old) []zkclient.Op {
	ops := []zkclient.Op{zkclient.DeleteOp(o.path(l), -1)}
	switch {
	case o.State == StateFinished && o.DeadLetter:
		// The payload stays with the dead letter; the check keeps this from
		// removing a newer result should the task be requeued and finish.
		return append(ops, zkclient.CheckOp(l.DeadLetter(o.ID), -1))
	case o.State == StateDead && o.Result:
		ops = append(ops, zkclient.DeleteOp(l.Result(o.ID), -1))
	}
	if o.Payload {
		ops = append(ops, zkclient.DeleteOp(l.Payload(o.ID), -1))
	}
	return ops
}

// Removed is what RemoveOld did.
type Removed struct {
	Removed int `json:"removed"`
	// Left changed under every try (collected, requeued, ...) and are
	// still there: a later run looks at them again.
	Left int `json:"left"`
}

// removeTries bounds how often RemoveOld looks again at removals whose
// znodes changed under it.
const removeTries = 3

// RemoveOld removes olds, batch removals per multi, through apply: the
// leader's FencedBatch or a client's Batch. A removal refused because its
// znodes changed since they were found (a client collected the result, a
// dead letter was requeued) is looked at again: gone, or replaced by a
// newer znode, it is dropped; otherwise it is retried with what goes along
// now. Any other refusal (no permission, ...) is an error.
func RemoveOld(ctx context.Context, c *zkclient.Client, l Layout, olds []Old, batch int,
	apply func(items [][]zkclient.Op) (map[int]*zkclient.MultiError, error)) (Removed, error) {
	var done Removed
	for try := 1; len(olds) > 0; try++ {
		var again []Old
		err := zkclient.InChunks(len(olds), batch, 0, nil, func(lo, hi int) error {
			items := make([][]zkclient.Op, 0, hi-lo)
			for _, o := range olds[lo:hi] {
				items = append(items, RemoveOps(l, o))
			}
			failed, err := apply(items)
			if err != nil {
				return err
			}
			done.Removed += len(items) - len(failed)
			for i, me := range failed {
				if !errors.Is(me, zk.ErrNoNode) && !errors.Is(me, zk.ErrBadVersion) {
					return fmt.Errorf("remove %s: %w", olds[lo+i].ID, me)
				}
				again = append(again, olds[lo+i])
			}
			return nil
		})
		if err != nil {
			return done, err
		}
		if try == removeTries {
			done.Left = len(again)
			return done, nil
		}
		if olds, err = restat(ctx, c, l, again); err != nil {
			return done, err
		}
	}
	return done, nil
}

// restat looks again at removals that failed, keeping those whose znode is
// still the one found old.
func restat(ctx context.Context, c *zkclient.Client, l Layout, olds []Old) ([]Old, error) {
	was := make([]time.Time, len(olds))
	for i, o := range olds {
		was[i] = o.Created
	}
	if err := stamp(ctx, c, l, olds); err != nil {
		return nil, err
	}
	keep := olds[:0]
	for i, o := range olds {
		if o.Created.Equal(was[i]) {
			keep = append(keep, o)
		}
	}
	return keep, along(ctx, c, l, keep)
}
