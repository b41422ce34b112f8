package recipe

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

const leasePrefix = "lease-"

// Semaphore hands out at most n leases at a time, herd-free, the way
// Curator's InterProcessSemaphoreV2 does:
//
//	<dir>/locks/lock-<tag>-NNNNNNNNNN    an internal Mutex serialising acquirers
//	<dir>/leases/lease-<tag>-NNNNNNNNNN  one ephemeral znode per lease
//
// Only the acquirer holding the internal lock watches leases/: it creates
// its lease znode, and while leases/ holds more than n it waits for a
// change. Everyone else waits on its predecessor in the lock queue. So a
// release wakes one process (the lock holder), and its acquisition wakes
// one more (the next in the lock queue), however many wait.
//
// Every process must use the same n for a given dir.
type Semaphore struct {
	c   *zkclient.Client
	dir string
	n   int
}

// NewSemaphore returns the n-permit semaphore under dir (created on first use).
func NewSemaphore(c *zkclient.Client, dir string, n int) *Semaphore {
	return &Semaphore{c: c, dir: dir, n: n}
}

// Lease is one permit, held by an ephemeral znode of one session.
type Lease struct {
	h *hold
}

// Key is the lease's znode: check it in a multi to make a write
// conditional on still holding the lease.
func (l *Lease) Key() string { return l.h.key }

// Lost returns a channel closed when the lease ends: its session expired,
// its znode was deleted, or Release. The watch behind it is set on first
// call.
func (l *Lease) Lost() <-chan struct{} { return l.h.Lost() }

// Release gives the permit back. It returns ErrSessionLost when the lease's
// session had ended and ErrNotHeld when its znode was gone or it was
// released already: either way another process may have held the permit.
func (l *Lease) Release(ctx context.Context) error {
	err := l.h.release(ctx)
	if err != nil && !errors.Is(err, ErrSessionLost) && !errors.Is(err, ErrNotHeld) {
		discard(l.h.c, l.h.key)
	}
	return err
}

// Acquire blocks until it holds a lease, or ctx ends. A session expiry
// while it waits makes it start over on the next session.
func (s *Semaphore) Acquire(ctx context.Context) (*Lease, error) {
	if s.n < 1 {
		return nil, fmt.Errorf("semaphore: %s: %d permits", s.dir, s.n)
	}
	locks, leases := s.dir+"/locks", s.dir+"/leases"
	for {
		sess, lockKey, err := queueIn(ctx, s.c, locks, lockPrefix)
		if errors.Is(err, ErrSessionLost) {
			continue
		}
		if err != nil {
			return nil, err
		}
		_, err = waitFirst(ctx, s.c, sess, locks, lockPrefix, lockKey, false)
		if errors.Is(err, ErrSessionLost) || errors.Is(err, ErrNotHeld) {
			continue
		}
		if err != nil {
			discard(s.c, lockKey)
			return nil, err
		}
		key, err := s.lease(ctx, sess, leases)
		// Release the internal lock whatever happened: the next acquirer
		// waits on it.
		if err := deleteOwn(ctx, s.c, lockKey); err != nil && !errors.Is(err, zk.ErrNoNode) {
			discard(s.c, lockKey)
		}
		switch {
		case err == nil:
			return &Lease{h: newHold(s.c, sess, key)}, nil
		case errors.Is(err, ErrSessionLost), errors.Is(err, ErrNotHeld):
			continue
		default:
			return nil, err
		}
	}
}

// lease runs under the internal lock: it creates the caller's lease znode
// and waits until at most n leases exist (the caller's included).
func (s *Semaphore) lease(ctx context.Context, sess *zkclient.Session, leases string) (string, error) {
	key, err := createSeq(ctx, s.c, sess, leases, leasePrefix, nil, zk.FlagEphemeralSequential)
	if err != nil {
		return "", err
	}
	me := key[len(leases)+1:]
	// The count is read without a watch first, and with one only to wait:
	// a watch left behind after acquiring would fire at the next
	// acquirer's lease, a notification nobody needs.
	watch := false
	for {
		if !sess.Alive() {
			return "", ErrSessionLost
		}
		var (
			names []string
			ch    <-chan zk.Event
		)
		if watch {
			names, _, ch, err = s.c.ChildrenW(ctx, leases)
		} else {
			names, _, err = s.c.Children(ctx, leases)
		}
		if err != nil {
			if err := s.c.Retry(ctx, err); err != nil {
				discard(s.c, key)
				return "", err
			}
			continue
		}
		nodes := sortedSeq(names, leasePrefix)
		mine := false
		for _, n := range nodes {
			mine = mine || n.name == me
		}
		if !mine {
			if !sess.Alive() {
				return "", ErrSessionLost
			}
			return "", ErrNotHeld // someone deleted it: start over
		}
		if len(nodes) <= s.n {
			return key, nil
		}
		if !watch {
			watch = true
			continue
		}
		watch = false
		select {
		case <-ch:
		case <-sess.Done():
			return "", ErrSessionLost
		case <-ctx.Done():
			discard(s.c, key)
			return "", ctx.Err()
		}
	}
}
