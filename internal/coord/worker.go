package coord

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// Assigned is what a worker reads to run one of its tasks.
type Assigned struct {
	Assignment task.Assignment
	Version    int32 // the assignment's: "complete" is conditional on it
	Payload    []byte
	// Malformed says why the assignment does not parse (another tool
	// wrote it): the task cannot run and is completed as failed.
	Malformed error
	// NoPayload: data/<shard>/<id> is missing (removed by hand): the task
	// cannot run and is completed as failed.
	NoPayload bool
	// Unreadable says why the payload cannot be read (NoAuth: another
	// identity's znode that Paddock may not read): the task cannot run and
	// is completed as failed.
	Unreadable error
}

// ReadAssigned reads task id's assignment to worker w and its payload: the
// copy the Assignment carries (a payload of at most task.InlineMax bytes,
// submitted by a client of this version), else data/<shard>/<id>, read
// next. ErrUnassigned: the assignment is gone (withdrawn, or the task
// completed already). Any other error leaves it unread.
func ReadAssigned(ctx context.Context, c *zkclient.Client, l Layout, w string, id task.ID) (Assigned, error) {
	data, stat, err := c.Get(ctx, l.Assignment(w, id))
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return Assigned{}, ErrUnassigned
	case err != nil:
		return Assigned{}, fmt.Errorf("read assignment: %w", err)
	}
	a := Assigned{Version: stat.Version}
	a.Assignment, a.Malformed = task.DecodeAssignment(data)
	if a.Malformed != nil {
		return a, nil // it cannot run, whatever its payload
	}
	if a.Assignment.Payload != nil {
		a.Payload = a.Assignment.Payload
		return a, nil
	}
	a.Payload, _, err = c.Get(ctx, l.Payload(id))
	switch {
	case errors.Is(err, zk.ErrNoNode):
		a.NoPayload = true
	case errors.Is(err, zk.ErrNoAuth):
		a.Unreadable = fmt.Errorf("read %s: %w", l.Payload(id), err)
	case err != nil:
		return Assigned{}, fmt.Errorf("read payload: %w", err)
	}
	return a, nil
}

// Pool is the workers' registrations, workers/<w> (ephemeral, WorkerInfo),
// kept through discovery: each worker registers there, and the leader
// follows them.
type Pool struct {
	svc *recipe.Service
	c   *zkclient.Client
	l   Layout
}

// NewPool returns the pool of layout l.
func NewPool(c *zkclient.Client, l Layout) Pool {
	return Pool{svc: recipe.NewService(c, l.Workers()), c: c, l: l}
}

// Register creates worker w's registration, bound to sess. It waits for a
// registration of an earlier session of w's to go first. workers/ itself is
// created first when it is missing (removed by hand).
func (p Pool) Register(ctx context.Context, sess *zkclient.Session, w string, info WorkerInfo) error {
	err := p.svc.Register(ctx, sess, w, info)
	if errors.Is(err, zk.ErrNoNode) {
		if err := createIfMissing(ctx, p.c, p.l.Workers(), nil); err != nil {
			return err
		}
		err = p.svc.Register(ctx, sess, w, info)
	}
	return err
}

// Registered reports whether worker w's registration exists and belongs
// to sess, with a watch that fires at its next change (rewritten,
// deleted). A worker watches its own: one removed by hand (or with
// workers/) must be made again, or the master takes the worker for lost.
func (p Pool) Registered(ctx context.Context, sess *zkclient.Session, w string) (bool, Watch, error) {
	st, ch, err := p.c.ExistsW(ctx, p.l.Worker(w))
	if err != nil {
		return false, Watch{}, err
	}
	return st != nil && st.EphemeralOwner == sess.ID(), Watch{ch}, nil
}

// Advertise rewrites worker w's registration with info (a new concurrency,
// draining). A worker that is not registered (between two sessions) is no
// error: its next registration carries info.
func (p Pool) Advertise(ctx context.Context, w string, info WorkerInfo) error {
	if err := p.svc.Update(ctx, w, info); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// Watch calls fn with every registration whenever the pool changes
// (joined, left, drained, resized), until ctx is done: the leader's view of
// its workers. Decode each entry's Raw with DecodeWorkerInfo.
func (p Pool) Watch(ctx context.Context, fn func([]recipe.Entry)) error { return p.svc.Watch(ctx, fn) }
