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

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// Helpers shared by the recipes. Each recipe lives in its own file; what
// they have in common is here (creating parents, sequential znodes that
// survive a lost reply, deleting one's own znode across connection loss)
// and in loops.go (the retry, held-znode, resync and clean-up loops).

// ErrSessionLost reports that the session a candidacy, lock, lease or
// registration belonged to has ended: what it held is gone, and the caller
// starts over on the client's next session. It is zkclient.ErrSessionLost
// (the same value), since the session is the client's.
var ErrSessionLost = zkclient.ErrSessionLost

// ErrNotHeld reports a release of something (a lock, a lease) that is not
// held: never acquired, already released, or its znode deleted by someone
// else while its session lived. Either way another process may have held
// it meanwhile, which is why a release says so rather than succeeding.
var ErrNotHeld = errors.New("recipe: not held")

// ErrMalformed reports recipe data that does not decode (a candidate's
// Member written by another tool): readers skip or report it rather than
// trust it.
var ErrMalformed = errors.New("recipe: malformed data")

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
			if err := c.Retry(ctx, err); err != nil {
				return fmt.Errorf("recipe: create %s: %w", p, err)
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
		if err := c.Retry(ctx, err); err != nil {
			return "", fmt.Errorf("recipe: create in %s: %w", dir, err)
		}
		// The outcome is unknown: look before creating again, or a second
		// znode would join the first.
		p, err = findTagged(ctx, c, dir, name)
		if err != nil {
			return "", fmt.Errorf("recipe: create in %s: %w", dir, err)
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
			if err := c.Retry(ctx, err); err != nil {
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
// back: the create runs on a goroutine the client owns (Client.Go), which,
// if the caller gave up, waits for the outcome and deletes what it
// created. Persistent znodes are left alone: they may already matter to
// others (a consensus proposal is a vote).
func createOnce(ctx context.Context, c *zkclient.Client, dir, name string, data []byte, flags int32) (string, error) {
	if flags&zk.FlagEphemeral == 0 || ctx.Done() == nil {
		return c.Create(ctx, dir+"/"+name, data, flags)
	}
	type res struct {
		p   string
		err error
	}
	ch := make(chan res)
	abandoned := make(chan struct{})
	if !c.Go(func(bg context.Context) {
		p, err := c.Create(bg, dir+"/"+name, data, flags)
		select {
		case ch <- res{p, err}:
			return
		case <-abandoned:
		}
		switch {
		case err == nil:
			deleteQuietly(bg, c, p)
		case zkclient.IsConnectionError(err):
			if p, err := findTagged(bg, c, dir, name); err == nil && p != "" {
				deleteQuietly(bg, c, p)
			}
		}
	}) {
		return "", zkclient.ErrClosed
	}
	select {
	case r := <-ch:
		return r.p, r.err
	case <-ctx.Done():
		close(abandoned)
		return "", ctx.Err()
	}
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
		if err := c.Retry(ctx, err); err != nil {
			return err
		}
		retried = true
	}
}

// validName checks one path component.
func validName(what, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("invalid %s %q: want a non-empty name without '/'", what, s)
	}
	return nil
}
