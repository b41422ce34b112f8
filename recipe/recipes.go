package recipe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Helpers shared by the recipes (bag.go, lock.go, semaphore.go, barrier.go,
// consensus.go, discovery.go, config.go). Each recipe lives in its own file;
// what they have in common is here: creating parents, sequential znodes
// that survive a lost reply, waiting out connection loss, and watching a
// held znode.

// ErrNotHeld reports a release of something (a lock, a lease) that is not
// held: never acquired, already released, or its znode deleted by someone
// else while its session lived.
var ErrNotHeld = errors.New("coord: not held")

// ErrMalformed reports recipe data that does not decode (a candidate's
// Member written by another tool): readers skip or report it rather than
// trust it.
var ErrMalformed = errors.New("malformed")

// seqDigits is how many digits ZooKeeper appends to a sequential name.
const seqDigits = 10

// parseSeq returns the sequence number ZooKeeper appended to name (its last
// 10 characters, all digits) when name starts with prefix. Digits only:
// ParseInt alone would take "item+000000001", a name another tool could
// create, for item 1, whose znode is item0000000001.
func parseSeq(name, prefix string) (int64, bool) {
	if !strings.HasPrefix(name, prefix) || len(name) < len(prefix)+seqDigits {
		return 0, false
	}
	digits := name[len(name)-seqDigits:]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// seqNode is a sequential child's name and number.
type seqNode struct {
	name string
	seq  int64
}

// sortedSeq keeps the names with prefix, ordered by sequence number.
func sortedSeq(names []string, prefix string) []seqNode {
	out := make([]seqNode, 0, len(names))
	for _, n := range names {
		if s, ok := parseSeq(n, prefix); ok {
			out = append(out, seqNode{n, s})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// newTag is a random name fragment that lets a process recognise its own
// sequential znode after a create whose reply was lost.
func newTag() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// retry decides what to do after a failed request: nil means "connected
// again, try once more"; anything else is the error to give up with.
// Connection errors leave the outcome unknown, so the caller must re-read
// before re-applying a non-idempotent write.
func retry(ctx context.Context, c *zkclient.Client, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, zk.ErrClosing) {
		return zkclient.ErrClosed // the client is closing: nothing to wait for
	}
	if !zkclient.IsConnectionError(err) {
		return err
	}
	return c.WaitConnected(ctx)
}

// ensurePath creates p and its missing ancestors as empty persistent znodes.
// Concurrent callers are fine: an existing znode is success.
func ensurePath(ctx context.Context, c *zkclient.Client, p string) error {
	if p == "/" || p == "" {
		return nil
	}
	for {
		_, err := c.Create(ctx, p, nil, zk.FlagPersistent)
		switch {
		case err == nil, errors.Is(err, zk.ErrNodeExists):
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := ensurePath(ctx, c, path.Dir(p)); err != nil {
				return err
			}
		default:
			if err := retry(ctx, c, err); err != nil {
				return fmt.Errorf("create %s: %w", p, err)
			}
		}
	}
}

// createSeq creates a sequential znode dir/<prefix><tag>-NNNNNNNNNN and
// returns its path. The tag makes the create safe to retry: after a
// connection loss it lists dir and adopts its own znode if the lost create
// was applied. For an ephemeral znode bound to sess it returns
// ErrSessionLost when sess ends first, and removes a znode that may have
// been created under the client's next session instead: requests queued
// while the client was disconnected are sent on whatever session it gets,
// and a znode of the live session wrongly believed dead would block a queue
// for as long as that session lives. (The library reports the expiry to
// Session before it sends anything on a new session, so checking
// sess.Alive after the reply is enough.)
func createSeq(ctx context.Context, c *zkclient.Client, sess *zkclient.Session, dir, prefix string, data []byte, flags int32) (string, error) {
	name := prefix + newTag() + "-"
	ephemeral := flags&zk.FlagEphemeral != 0
	adopt := func(p string) (string, error) {
		if ephemeral && !sess.Alive() {
			discard(c, p)
			return "", ErrSessionLost
		}
		return p, nil
	}
	for {
		if ephemeral && !sess.Alive() {
			return "", ErrSessionLost
		}
		p, err := createOnce(ctx, c, dir, name, data, flags)
		switch {
		case err == nil:
			return adopt(p)
		case errors.Is(err, zk.ErrNoNode):
			if err := ensurePath(ctx, c, dir); err != nil {
				return "", err
			}
			continue
		}
		if err := retry(ctx, c, err); err != nil {
			return "", fmt.Errorf("create in %s: %w", dir, err)
		}
		// The outcome is unknown: look before creating again, or a second
		// znode would join the first.
		p, err = findTagged(ctx, c, dir, name)
		if err != nil {
			return "", fmt.Errorf("create in %s: %w", dir, err)
		}
		if p != "" {
			return adopt(p)
		}
	}
}

// findTagged returns the path of dir's child whose name starts with name,
// or "" when there is none.
func findTagged(ctx context.Context, c *zkclient.Client, dir, name string) (string, error) {
	for {
		names, _, err := c.Children(ctx, dir)
		if errors.Is(err, zk.ErrNoNode) {
			return "", nil
		}
		if err != nil {
			if err := retry(ctx, c, err); err != nil {
				return "", err
			}
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(n, name) {
				return dir + "/" + n, nil
			}
		}
		return "", nil
	}
}

// createOnce is one create. When ctx ends before the reply, an ephemeral
// znode (a place in a queue) must not appear later behind the caller's
// back: a background goroutine waits for the abandoned request's outcome
// and deletes what it created. Persistent znodes are left alone: they may
// already matter to others (a consensus proposal is a vote).
func createOnce(ctx context.Context, c *zkclient.Client, dir, name string, data []byte, flags int32) (string, error) {
	if flags&zk.FlagEphemeral == 0 || ctx.Done() == nil {
		return c.Create(ctx, dir+"/"+name, data, flags)
	}
	type res struct {
		p   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		p, err := c.Create(context.Background(), dir+"/"+name, data, flags)
		ch <- res{p, err}
	}()
	select {
	case r := <-ch:
		return r.p, r.err
	case <-ctx.Done():
		go func() {
			r := <-ch
			switch {
			case r.err == nil:
				discard(c, r.p)
			case zkclient.IsConnectionError(r.err):
				discardTagged(c, dir, name)
			}
		}()
		return "", ctx.Err()
	}
}

// discardTagged deletes dir's child whose name starts with name, if any,
// in the background (the outcome of a create lost with its connection).
func discardTagged(c *zkclient.Client, dir, name string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if p, err := findTagged(ctx, c, dir, name); err == nil && p != "" {
			discard(c, p)
		}
	}()
}

// discard deletes a znode the caller no longer wants (a waiter giving up, a
// znode of an unexpected session) without making the caller wait: it
// retries in the background across connection loss, for at most a minute.
// A znode left behind would hold a place in a queue.
func discard(c *zkclient.Client, p string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for {
			err := c.Delete(ctx, p, -1)
			if err == nil || errors.Is(err, zk.ErrNoNode) {
				return
			}
			if err := retry(ctx, c, err); err != nil {
				if !errors.Is(err, zkclient.ErrClosed) {
					c.Logger().Warn("could not delete abandoned znode", zap.String("path", p), zap.Error(err))
				}
				return
			}
		}
	}()
}

// deleteOwn deletes the caller's own znode, retrying across connection
// loss. A NoNode after a retry means the lost first attempt was applied.
func deleteOwn(ctx context.Context, c *zkclient.Client, p string) error {
	retried := false
	for {
		err := c.Delete(ctx, p, -1)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if retried {
				return nil
			}
			return err
		}
		if err := retry(ctx, c, err); err != nil {
			return err
		}
		retried = true
	}
}

// waitGone blocks until the znode p does not exist (it may never have).
// It survives connection loss (the library re-arms watches on reconnect)
// and session expiry (it re-reads).
func waitGone(ctx context.Context, c *zkclient.Client, p string) error {
	for {
		stat, ch, err := c.ExistsW(ctx, p)
		if err != nil {
			if err := retry(ctx, c, err); err != nil {
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

// hold is a znode that stands for something held (a lock, a lease): held
// while the znode exists and its session lives.
type hold struct {
	c    *zkclient.Client
	sess *zkclient.Session
	key  string

	once     sync.Once
	lost     chan struct{}
	stop     context.CancelFunc
	finished chan struct{} // closed when the watching goroutine is done
}

func newHold(c *zkclient.Client, sess *zkclient.Session, key string) *hold {
	return &hold{c: c, sess: sess, key: key, lost: make(chan struct{})}
}

// Lost starts, on first use, a watch on the held znode: holding costs
// nothing extra until someone asks. The channel closes when the znode is
// deleted, the session ends, or the holder releases.
func (h *hold) Lost() <-chan struct{} {
	h.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop = cancel
		h.finished = make(chan struct{})
		go func() {
			defer close(h.finished)
			defer close(h.lost)
			h.watch(ctx)
		}()
	})
	return h.lost
}

func (h *hold) watch(ctx context.Context) {
	for h.sess.Alive() && ctx.Err() == nil {
		stat, ch, err := h.c.ExistsW(ctx, h.key)
		if err != nil {
			if retry(ctx, h.c, err) != nil {
				return
			}
			continue
		}
		if stat == nil || stat.EphemeralOwner != h.sess.ID() {
			return
		}
		select {
		case <-ch:
		case <-h.sess.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

// end ends the hold: Lost is closed when it returns.
func (h *hold) end() {
	h.once.Do(func() { close(h.lost) })
	if h.stop != nil {
		h.stop()
		<-h.finished
	}
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

// watchForward relays the one event of a one-shot watch to out, tagged,
// unless stop closes first. A recipe watching many znodes (a bag's items,
// a pool's entries) runs one per watch: a goroutine is cheaper than a
// select over thousands of channels.
func watchForward[K any](ch <-chan zk.Event, key K, out chan<- keyedEvent[K], stop <-chan struct{}) {
	go func() {
		select {
		case ev := <-ch:
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

// validName checks one path component.
func validName(what, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("invalid %s %q: want a non-empty name without '/'", what, s)
	}
	return nil
}
