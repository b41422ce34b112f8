package recipe

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// The loops every recipe is made of, written once:
//
//   - retry until the session ends (or ctx does): zkclient's Client.Retry
//     and Client.RetryIn, called where a request failed;
//   - watch a held znode (a lock's, a lease's, a candidacy's, a role's
//     holder znode): watchHeld;
//   - resync on a new session (the bag's, a discovery pool's and a
//     config's watchers): followSessions, whose one trigger is the end of
//     the session the watches were set on;
//   - split and resend a batch: zkclient.ApplyItems (under Client.Batch and
//     Batcher);
//
// and the clean-ups that must outlive their caller, which run on
// goroutines the client owns (Client.Go): discard.

// waitGone blocks until the znode p does not exist (it may never have).
// It survives connection loss (the library re-arms watches on reconnect)
// and session expiry (it re-reads).
func waitGone(ctx context.Context, c *zkclient.Client, p string) error {
	for {
		stat, ch, err := c.ExistsW(ctx, p)
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		if stat == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// heldWatch follows a znode that stands for something held by sess: Done
// is closed once the znode is deleted (or no longer sess's), sess ends,
// the watch's context ends, or Stop.
type heldWatch struct {
	done chan struct{}
	stop context.CancelFunc
}

// watchHeld starts a heldWatch on key on a goroutine that ctx and Stop end.
// It is the one implementation behind Candidate.Gone, Mutex.Lost,
// Lease.Lost and Role Match's holder: an exists watch, re-armed after every
// notification and every reconnection, that gives up when the session
// does.
func watchHeld(ctx context.Context, c *zkclient.Client, sess *zkclient.Session, key string) *heldWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &heldWatch{done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(w.done)
		for sess.Alive() && ctx.Err() == nil {
			stat, ch, err := c.ExistsW(ctx, key)
			if err != nil {
				if c.RetryIn(ctx, sess, err) != nil {
					return
				}
				continue
			}
			if stat == nil || stat.EphemeralOwner != sess.ID() {
				return
			}
			select {
			case <-ch:
			case <-sess.Done():
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return w
}

// Done is closed when the hold is over or the watch was stopped.
func (w *heldWatch) Done() <-chan struct{} { return w.done }

// Stop ends the watch and waits for its goroutine.
func (w *heldWatch) Stop() {
	if w.stop != nil {
		w.stop()
	}
	<-w.done
}

// hold is a znode that stands for something held (a lock, a lease): held
// while the znode exists and its session lives.
type hold struct {
	c    *zkclient.Client
	sess *zkclient.Session
	key  string

	once sync.Once // starts w (Lost) or stands in for it (end)
	w    *heldWatch
}

func newHold(c *zkclient.Client, sess *zkclient.Session, key string) *hold {
	return &hold{c: c, sess: sess, key: key}
}

// Lost starts, on first use, a watch on the held znode: holding costs
// nothing extra until someone asks. The channel closes when the znode is
// deleted, the session ends, or the holder releases.
func (h *hold) Lost() <-chan struct{} {
	h.once.Do(func() { h.w = watchHeld(context.Background(), h.c, h.sess, h.key) })
	return h.w.Done()
}

// end ends the hold: Lost is closed, and its watch stopped, when it returns.
func (h *hold) end() {
	h.once.Do(func() { h.w = &heldWatch{done: closedChan} })
	h.w.Stop()
}

// release deletes the held znode and ends the hold. It returns
// ErrSessionLost when the session had ended (what was held may have been
// taken by someone else meanwhile) and ErrNotHeld when the znode was gone.
func (h *hold) release(ctx context.Context) error {
	defer h.end()
	if !h.sess.Alive() {
		return ErrSessionLost
	}
	err := deleteOwn(ctx, h.c, h.key)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zk.ErrNoNode):
		if !h.sess.Alive() {
			return ErrSessionLost
		}
		return ErrNotHeld
	}
	return err
}

// watcher is what followSessions drives: the state a recipe's watcher
// keeps in step with ZooKeeper through watches.
type watcher interface {
	// resync reads everything again, re-arming every watch (a session's
	// watches die with it), and reports what changed since the last read.
	resync(ctx context.Context) error
	// step waits for one event of the current watches and handles it. It
	// returns nil without waiting further when sess ends or ctx does; on
	// EventNotWatching it waits for sess to end (the library ends the
	// session before it drops the watches), so that the session's end is
	// the one trigger of a resync.
	step(ctx context.Context, sess *zkclient.Session) error
}

// followSessions runs w, whose watches were set on sess, until ctx ends or
// the client closes: step after step while sess lives, and a resync on
// each new session. A failure that is not the connection's (those are
// retried where they happen) is logged, and the watcher resyncs at the
// next session-state change, when whatever failed may work again.
func followSessions(ctx context.Context, c *zkclient.Client, what string, sess *zkclient.Session, w watcher) {
	for {
		var err error
		for err == nil && sess.Alive() && ctx.Err() == nil {
			err = w.step(ctx, sess)
		}
		for {
			if errors.Is(err, ErrSessionLost) {
				err = nil // the session ended under a step: resync
			}
			if ctx.Err() != nil || errors.Is(err, zkclient.ErrClosed) {
				return
			}
			if err != nil {
				c.Logger().Error(what+" watcher failed; resyncing at the next session change", zap.Error(err))
				select {
				case <-c.Changed():
				case <-ctx.Done():
					return
				}
			}
			if sess, err = c.Session(ctx); err != nil {
				continue
			}
			if err = w.resync(ctx); err == nil {
				break
			}
		}
	}
}

// awaitEnd waits for sess to end, or ctx: what a watcher does on
// EventNotWatching (see watcher.step).
func awaitEnd(ctx context.Context, sess *zkclient.Session) {
	select {
	case <-sess.Done():
	case <-ctx.Done():
	}
}

// watchForward relays the one event of a one-shot watch to out, tagged,
// unless stop closes first; EventNotWatching (an ended session's watches
// dropped) is not relayed: the resync covers it. A recipe watching many
// znodes (a bag's items, a pool's entries) runs one per watch, owned by its
// watcher loop, which closes stop when it ends: a goroutine is cheaper than
// a select over thousands of channels.
func watchForward[K any](ch <-chan zk.Event, key K, out chan<- keyedEvent[K], stop <-chan struct{}) {
	go func() {
		select {
		case ev := <-ch:
			if ev.Type == zk.EventNotWatching {
				return
			}
			select {
			case out <- keyedEvent[K]{key, ev}:
			case <-stop:
			}
		case <-stop:
		}
	}()
}

type keyedEvent[K any] struct {
	key K
	ev  zk.Event
}

// discardTimeout bounds how long discard keeps trying to delete a znode.
const discardTimeout = time.Minute

// discard deletes a znode the caller no longer wants (a waiter giving up, a
// znode of an unexpected session) without making the caller wait: it
// retries across connection loss on a goroutine the client owns, for at
// most discardTimeout or until the client closes (which ends the session
// and so its ephemeral znodes). A znode left behind would hold a place in
// a queue.
func discard(c *zkclient.Client, p string) {
	c.Go(func(bg context.Context) { deleteQuietly(bg, c, p) })
}

// deleteQuietly is discard's loop, for code already on a client-owned
// goroutine.
func deleteQuietly(bg context.Context, c *zkclient.Client, p string) {
	ctx, cancel := context.WithTimeout(bg, discardTimeout)
	defer cancel()
	for {
		err := c.Delete(ctx, p, -1)
		if err == nil || errors.Is(err, zk.ErrNoNode) {
			return
		}
		if err := c.Retry(ctx, err); err != nil {
			if !errors.Is(err, zkclient.ErrClosed) && bg.Err() == nil {
				c.Logger().Warn("could not delete abandoned znode", zap.String("path", p), zap.Error(err))
			}
			return
		}
	}
}

var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()
