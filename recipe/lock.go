package recipe

import (
	"context"
	"errors"
	"path"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

const lockPrefix = "lock-"

// Mutex is ZooKeeper's exclusive-lock recipe: each contender creates an
// ephemeral sequential znode under dir; the lowest holds the lock; every
// other contender watches only its predecessor, so a release wakes exactly
// one process however many wait (no herd effect).
//
// A hold lasts as long as its znode and its session. ZooKeeper cannot tell
// a holder that was cut off (partitioned, paused) that it lost the lock
// before the holder hears from it again: a holder whose writes must not
// overlap with the next holder's checks its znode in the same multi
// (CheckOp(m.Key(), -1)), the way Fence does for leaders.
//
// A Mutex is one process's handle, for one goroutine at a time; create one
// per contender (they cost nothing until used).
type Mutex struct {
	c   *zkclient.Client
	dir string

	mu sync.Mutex
	h  *hold // nil when not held
}

// NewMutex returns the lock held under dir (created on first use).
func NewMutex(c *zkclient.Client, dir string) *Mutex { return &Mutex{c: c, dir: dir} }

// errAlreadyHeld reports a Lock of a Mutex its owner holds: ZooKeeper locks
// are not reentrant here.
var errAlreadyHeld = errors.New("lock: Mutex already held; Unlock it first")

// Lock blocks until it holds the lock, or ctx ends. If the session expires
// while it waits, it queues again on the next session (a waiter holds
// nothing, so nothing is lost but its place).
func (m *Mutex) Lock(ctx context.Context) error {
	_, err := m.lock(ctx, false)
	return err
}

// TryLock takes the lock if nobody holds it or waits for it, without
// blocking on other holders; it reports whether it got it.
func (m *Mutex) TryLock(ctx context.Context) (bool, error) {
	return m.lock(ctx, true)
}

func (m *Mutex) lock(ctx context.Context, try bool) (bool, error) {
	m.mu.Lock()
	held := m.h != nil
	m.mu.Unlock()
	if held {
		return false, errAlreadyHeld
	}
	for {
		sess, key, err := queueIn(ctx, m.c, m.dir, lockPrefix)
		if errors.Is(err, ErrSessionLost) {
			continue
		}
		if err != nil {
			return false, err
		}
		first, err := waitFirst(ctx, m.c, sess, m.dir, lockPrefix, key, try)
		switch {
		case err == nil && first:
			m.mu.Lock()
			m.h = newHold(m.c, sess, key)
			m.mu.Unlock()
			return true, nil
		case err == nil: // TryLock behind someone
			if err := deleteOwn(ctx, m.c, key); err != nil && !errors.Is(err, zk.ErrNoNode) {
				discard(m.c, key)
			}
			return false, nil
		case errors.Is(err, ErrSessionLost), errors.Is(err, ErrNotHeld):
			continue // our znode is gone: queue again
		default:
			discard(m.c, key)
			return false, err
		}
	}
}

// queueIn creates an ephemeral sequential znode under dir on the client's
// live session.
func queueIn(ctx context.Context, c *zkclient.Client, dir, prefix string) (*zkclient.Session, string, error) {
	sess, err := c.Session(ctx)
	if err != nil {
		return nil, "", err
	}
	key, err := createSeq(ctx, c, sess, dir, prefix, nil, zk.FlagEphemeralSequential)
	return sess, key, err
}

// waitFirst blocks until key is the lowest of dir's sequential children
// with prefix, watching only its predecessor. With try it does not wait and
// reports whether key is first. It returns ErrSessionLost when the session
// ends and ErrNotHeld when key was deleted by someone else.
func waitFirst(ctx context.Context, c *zkclient.Client, sess *zkclient.Session, dir, prefix, key string, try bool) (bool, error) {
	me := path.Base(key)
	for {
		if !sess.Alive() {
			return false, ErrSessionLost
		}
		names, _, err := c.Children(ctx, dir)
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return false, err
			}
			continue
		}
		nodes := sortedSeq(names, prefix)
		idx := -1
		for i, n := range nodes {
			if n.name == me {
				idx = i
				break
			}
		}
		switch {
		case idx < 0 && !sess.Alive():
			return false, ErrSessionLost
		case idx < 0:
			return false, ErrNotHeld
		case idx == 0:
			return true, nil
		case try:
			return false, nil
		}
		stat, ch, err := c.ExistsW(ctx, dir+"/"+nodes[idx-1].name)
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return false, err
			}
			continue
		}
		if stat == nil {
			continue // it left between the listing and the watch
		}
		select {
		case <-ch:
		case <-sess.Done():
			return false, ErrSessionLost
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// Unlock releases the lock. It returns ErrNotHeld when the Mutex was not
// locked or its znode had been deleted, and ErrSessionLost when the session
// that held it had ended: in both cases someone else may have held the lock
// meanwhile, which the caller may need to know.
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	h := m.h
	m.h = nil
	m.mu.Unlock()
	if h == nil {
		return ErrNotHeld
	}
	err := h.release(ctx)
	if err != nil && !errors.Is(err, ErrSessionLost) && !errors.Is(err, ErrNotHeld) {
		discard(m.c, h.key)
	}
	return err
}

// Lost returns a channel closed when the current hold ends: the session
// expired, the znode was deleted, or Unlock. It is closed already when the
// Mutex is not held. The watch behind it is set on first call.
func (m *Mutex) Lost() <-chan struct{} {
	m.mu.Lock()
	h := m.h
	m.mu.Unlock()
	if h == nil {
		return closedChan
	}
	return h.Lost()
}

// Key is the holder's znode ("" when not held): check it in a multi to make
// a write conditional on still holding the lock.
func (m *Mutex) Key() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return ""
	}
	return m.h.key
}
