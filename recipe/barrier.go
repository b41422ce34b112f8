package recipe

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// Barrier holds processes back while its znode exists (ZooKeeper's barrier
// recipe). The znode is persistent: the barrier outlives the session of
// whoever set it, and waiters need no session state, so expiry only makes
// them re-read.
type Barrier struct {
	c    *zkclient.Client
	path string
}

// NewBarrier returns the barrier whose znode is path.
func NewBarrier(c *zkclient.Client, path string) *Barrier { return &Barrier{c: c, path: path} }

// Set raises the barrier (creating missing parents). Raising a raised
// barrier is a no-op.
func (b *Barrier) Set(ctx context.Context) error { return ensurePath(ctx, b.c, b.path) }

// Remove lowers the barrier: every waiter returns. Lowering a lowered
// barrier is a no-op.
func (b *Barrier) Remove(ctx context.Context) error {
	err := deleteOwn(ctx, b.c, b.path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return err
}

// Wait blocks while the barrier is raised; it returns at once if it is not.
func (b *Barrier) Wait(ctx context.Context) error { return waitGone(ctx, b.c, b.path) }

// readyName is the double barrier's "everyone is in" znode.
const readyName = "ready"

// DoubleBarrier lets n participants start a computation together and finish
// it together (ZooKeeper's double-barrier recipe):
//
//	<dir>/<name>  one ephemeral znode per participant inside
//	<dir>/ready   created by whoever sees the n-th participant arrive
//
// Enter joins and waits for the ready znode (a watch set before joining,
// so its creation cannot be missed). Leave removes the participant and
// waits for the rest: the lowest-named participant waits for the highest,
// every other one for the lowest, so each departure wakes at most a couple
// of processes rather than all of them. The last one out deletes ready in
// the same multi as its own znode, which makes the barrier reusable once
// every Leave of a round has returned.
//
// A participant whose session ends counts as gone: while entering it joins
// again on its next session; once inside, the others may leave without it.
type DoubleBarrier struct {
	c    *zkclient.Client
	dir  string
	n    int
	name string
}

// NewDoubleBarrier returns participant name's handle on the barrier for n
// participants under dir (created on first use). Names must be unique
// among the participants and not "ready".
func NewDoubleBarrier(c *zkclient.Client, dir string, n int, name string) *DoubleBarrier {
	return &DoubleBarrier{c: c, dir: dir, n: n, name: name}
}

func (b *DoubleBarrier) check() error {
	if err := validName("participant name", b.name); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	if b.name == readyName {
		return fmt.Errorf("barrier: participant name %q is reserved", readyName)
	}
	if b.n < 1 {
		return fmt.Errorf("barrier: double barrier %s for %d participants", b.dir, b.n)
	}
	return nil
}

// Enter blocks until n participants have entered. If ctx ends first, the
// participant withdraws.
func (b *DoubleBarrier) Enter(ctx context.Context) error {
	if err := b.check(); err != nil {
		return err
	}
	ready := b.dir + "/" + readyName
	for {
		sess, err := b.c.Session(ctx)
		if err != nil {
			return err
		}
		stat, ch, err := b.c.ExistsW(ctx, ready)
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		if err := b.join(ctx, sess); err != nil {
			if errors.Is(err, ErrSessionLost) {
				continue
			}
			return err
		}
		if stat != nil {
			return nil
		}
		names, _, err := b.c.Children(ctx, b.dir)
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return b.withdraw(err)
			}
			continue
		}
		if len(participants(names)) >= b.n {
			if err := ensurePath(ctx, b.c, ready); err != nil {
				return b.withdraw(err)
			}
			return nil
		}
		select {
		case ev := <-ch:
			if ev.Type == zk.EventNodeCreated {
				return nil
			}
			// EventNotWatching: the session expired; look again.
		case <-sess.Done():
		case <-ctx.Done():
			return b.withdraw(ctx.Err())
		}
	}
}

// join creates the participant's ephemeral znode under sess, idempotently.
func (b *DoubleBarrier) join(ctx context.Context, sess *zkclient.Session) error {
	me := b.dir + "/" + b.name
	for {
		if !sess.Alive() {
			return ErrSessionLost
		}
		_, err := b.c.Create(ctx, me, nil, zk.FlagEphemeral)
		switch {
		case err == nil:
			if !sess.Alive() { // created on the next session: see createSeq
				discard(b.c, me)
				return ErrSessionLost
			}
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := ensurePath(ctx, b.c, b.dir); err != nil {
				return err
			}
			continue
		case errors.Is(err, zk.ErrNodeExists):
			stat, err := b.c.Exists(ctx, me)
			if err != nil {
				if err := b.c.Retry(ctx, err); err != nil {
					return err
				}
				continue
			}
			if stat == nil {
				continue
			}
			if stat.EphemeralOwner != sess.ID() {
				return fmt.Errorf("barrier: %s: participant %q is already in on another session: %w", b.dir, b.name, zk.ErrNodeExists)
			}
			return nil
		}
		if err := b.c.Retry(ctx, err); err != nil {
			return err
		}
	}
}

// withdraw removes the participant after a failed Enter and returns err.
func (b *DoubleBarrier) withdraw(err error) error {
	discard(b.c, b.dir+"/"+b.name)
	return err
}

// participants are the children of the barrier's dir minus ready, sorted.
func participants(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != readyName {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Leave removes the participant and blocks until every participant has
// left (or lost its session).
func (b *DoubleBarrier) Leave(ctx context.Context) error {
	if err := b.check(); err != nil {
		return err
	}
	me, ready := b.dir+"/"+b.name, b.dir+"/"+readyName
	for {
		names, _, err := b.c.Children(ctx, b.dir)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		parts := participants(names)
		in := false
		for _, p := range parts {
			in = in || p == b.name
		}
		var watch string
		switch {
		case len(parts) == 0:
			// Everyone is out. The last one deletes ready with its own
			// znode; if it died instead, ready is still there.
			if err := b.c.Delete(ctx, ready, -1); err != nil && !errors.Is(err, zk.ErrNoNode) && !zkclient.IsConnectionError(err) {
				return err
			}
			return nil
		case len(parts) == 1 && in:
			_, err := b.c.Multi(ctx, zkclient.DeleteOp(me, -1), zkclient.DeleteOp(ready, -1))
			var me2 *zkclient.MultiError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &me2) && me2.Index == 1: // no ready: delete ourselves alone
				if err := deleteOwn(ctx, b.c, me); err != nil && !errors.Is(err, zk.ErrNoNode) {
					return err
				}
				return nil
			case errors.As(err, &me2): // our znode went (expiry): look again
				continue
			}
			if err := b.c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		case parts[0] == b.name:
			watch = parts[len(parts)-1] // the lowest goes last
		default:
			if in {
				if err := deleteOwn(ctx, b.c, me); err != nil && !errors.Is(err, zk.ErrNoNode) {
					return err
				}
			}
			watch = parts[0]
		}
		stat, ch, err := b.c.ExistsW(ctx, b.dir+"/"+watch)
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		if stat == nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
