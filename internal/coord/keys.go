package coord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Idempotency keys (docs/PROTOCOL.md, "idempotency keys"): a submit that
// carries a caller's key also creates keys/<hh>/<name>, holding the task's
// id, in its "submit" multi. ZooKeeper lets one create of a path win, so of
// any number of submits with one key, one task is written and the others
// learn its id. The leader's sweep frees a key once the result retention has
// passed since its task's submission.

// MaxKeyLen bounds a caller's key: the key itself is never stored (its hash
// is the znode name), but a caller sending megabytes as a key is a bug worth
// reporting rather than hashing.
const MaxKeyLen = 1024

// ErrDuplicateKey is what errors.Is finds in a *DuplicateKeyError, for
// callers that only need to know the submission was a repeat.
var ErrDuplicateKey = errors.New("idempotency key already taken")

// ErrNoKeyShards reports a keyed submit to a tree made before keys existed
// (or not made at all): without keys/<hh> the key cannot be taken, and
// submitting without it would silently lose the idempotency asked for.
var ErrNoKeyShards = errors.New("the tree has no keys/ shards: run `client init`, or start a master or worker of this version, to create them")

// DuplicateKeyError reports a submission whose key an earlier task holds:
// nothing was written, and ID is the task the caller should use instead (it
// is the one the key's first submission created, whatever became of it).
type DuplicateKeyError struct {
	Key string  // the key's znode name (KeyName of the caller's key)
	ID  task.ID // the task holding it
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("coord: idempotency key %s is taken by task %s", e.Key, e.ID)
}

// Is makes errors.Is(err, ErrDuplicateKey) true, so callers need not
// errors.As when the id does not matter to them.
func (e *DuplicateKeyError) Is(target error) bool { return target == ErrDuplicateKey }

// KeyName is the znode name of a caller's key: its lowercase hex SHA-256.
// Hashing lets any string (slashes, 1 KiB of text) be a key and still name
// one znode of fixed size; a client in another language computes the same.
func KeyName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// validKeyName reports whether name is a KeyName: anything else would put a
// Spec's key field into a path (keys/../.. ) it was never meant to name.
func validKeyName(name string) bool {
	if len(name) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// keyOwner reads the task id a key znode holds. errKeyGone: the key was
// freed since the create that found it (swept, or the multi that took it
// failed); the submission can try again.
func (q *Queue) keyOwner(ctx context.Context, name string) (task.ID, error) {
	data, err := zkclient.RetryRead(ctx, q.c, func() ([]byte, error) {
		d, _, err := q.c.Get(ctx, q.l.Key(name))
		return d, err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return "", errKeyGone
	}
	if err != nil {
		return "", err
	}
	id, err := task.ParseID(string(data))
	if err != nil {
		return "", fmt.Errorf("coord: idempotency key %s holds %q, not a task id (another tool wrote it); nothing was submitted: %w",
			q.l.Key(name), truncate(data, 64), task.ErrMalformed)
	}
	return id, nil
}

var errKeyGone = errors.New("the idempotency key was freed meanwhile")

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// KeyAges is the leader's memory of the keys it has seen: a key's data
// never changes, so it is read once per term and its age known thereafter.
// Without it every sweep would read every key, which with a day of keyed
// submissions is a day of reads per sweep. Only the sweep uses it; it is
// not safe for concurrent use.
type KeyAges struct {
	at     map[string]time.Time // name -> its task's submit time; zero: malformed, remove
	warned map[string]bool      // malformed keys already logged
}

// NewKeyAges returns an empty memory, for a new term.
func NewKeyAges() *KeyAges {
	return &KeyAges{at: map[string]time.Time{}, warned: map[string]bool{}}
}

// Len is how many keys it remembers (for tests and logs).
func (k *KeyAges) Len() int { return len(k.at) }

// ExpireKeys is the leader's "expire-keys": it lists the 256 key shards,
// reads the keys it has not seen before (once: ages remembers them), and
// removes, batch per fenced multi, those whose task was submitted before
// now - retention, and those whose data is not a task id (another tool's:
// they would otherwise block their key for good). Names that are not key
// names are not Paddock's and are left alone.
func (ld *Leader) ExpireKeys(ctx context.Context, ages *KeyAges, now time.Time, retention time.Duration, batch int) (Removed, error) {
	cands, err := listShards(ctx, ld.c, ld.l.KeyShard)
	if err != nil {
		return Removed{}, err
	}
	listed := make(map[string]bool, len(cands))
	var unseen []string
	for _, cand := range cands {
		if !validKeyName(cand.name) || cand.name[:2] != cand.shard {
			continue
		}
		listed[cand.name] = true
		if _, ok := ages.at[cand.name]; !ok {
			unseen = append(unseen, cand.name)
		}
	}
	for name := range ages.at {
		if !listed[name] {
			delete(ages.at, name) // gone (swept by an earlier leader, or by hand)
			delete(ages.warned, name)
		}
	}
	if err := ld.readKeyAges(ctx, ages, unseen); err != nil {
		return Removed{}, err
	}
	cutoff := now.Add(-retention)
	var old []string
	for name, at := range ages.at {
		if at.Before(cutoff) {
			old = append(old, name)
		}
	}
	var done Removed
	err = zkclient.InChunks(len(old), batch, 0, nil, func(lo, hi int) error {
		items := make([][]zkclient.Op, 0, hi-lo)
		for _, name := range old[lo:hi] {
			items = append(items, []zkclient.Op{zkclient.DeleteOp(ld.l.Key(name), -1)})
		}
		failed, err := FencedBatch(ctx, ld.c, ld.fence, items)
		if err != nil {
			return err // unknown outcome: the next sweep lists what is left
		}
		for i, name := range old[lo:hi] {
			me := failed[i]
			switch {
			case me == nil:
				done.Removed++
			case errors.Is(me, zk.ErrNoNode):
				// Gone already: someone removed it by hand.
			default:
				return fmt.Errorf("expire key %s: %w", ld.l.Key(name), me)
			}
			delete(ages.at, name)
			delete(ages.warned, name)
		}
		return nil
	})
	return done, err
}

// readKeyAges reads the keys named, in one pipelined round, into ages.
func (ld *Leader) readKeyAges(ctx context.Context, ages *KeyAges, names []string) error {
	at := make([]time.Time, len(names))
	gone := make([]bool, len(names))
	bad := make([][]byte, len(names))
	err := zkclient.Pipeline(len(names), func(i int) error {
		data, err := zkclient.RetryRead(ctx, ld.c, func() ([]byte, error) {
			d, _, err := ld.c.Get(ctx, ld.l.Key(names[i]))
			return d, err
		})
		switch {
		case errors.Is(err, zk.ErrNoNode):
			gone[i] = true
			return nil
		case err != nil:
			return err
		}
		id, err := task.ParseID(string(data))
		if err != nil {
			bad[i] = data
			return nil // zero time: removed with the old ones
		}
		at[i] = id.SubmittedAt()
		return nil
	})
	if err != nil {
		return err
	}
	for i, name := range names {
		if gone[i] {
			continue
		}
		ages.at[name] = at[i]
		if bad[i] != nil && !ages.warned[name] {
			ages.warned[name] = true
			ld.c.Logger().Warn("removing an idempotency key whose data is not a task id",
				zap.String("path", ld.l.Key(name)), zap.String("data", truncate(bad[i], 64)))
		}
	}
	return nil
}
