package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// ErrDeposed reports that a leader's fence no longer holds: its candidacy is
// gone (its session expired, it resigned, someone deleted it) or a newer
// leader has bumped the epoch. Nothing of the fenced write was applied.
var ErrDeposed = errors.New("deposed: leadership no longer holds")

// Fence is a leader's proof of leadership. Every write a leader makes goes
// through FencedMulti, which prepends the fence's checks to the same multi,
// so a leader that was paused past its session timeout (or cut off) and
// wakes up believing it still leads cannot apply anything.
type Fence struct {
	Candidate    string // the leader's election znode: gone with its session
	EpochPath    string
	EpochVersion int32 // the epoch znode's version right after this leader's bump
	Epoch        int64 // the fencing token, as a number for logs and records
}

// Ops are the checks that make a multi conditional on leadership.
func (f Fence) Ops() []zkclient.Op {
	return []zkclient.Op{zkclient.CheckOp(f.Candidate, -1), zkclient.CheckOp(f.EpochPath, f.EpochVersion)}
}

// TakeOver is a newly elected leader's first write: it increments the epoch,
// conditional on the candidacy still existing, and returns the fence for all
// later writes. A leader deposed in between (or ever after) cannot write.
func TakeOver(ctx context.Context, c *zkclient.Client, l Layout, cand *recipe.Candidate, leader string) (Fence, error) {
	for {
		data, stat, err := c.Get(ctx, l.Epoch())
		if err != nil {
			return Fence{}, fmt.Errorf("read epoch: %w", err)
		}
		prev, err := DecodeEpoch(data)
		if err != nil {
			// Another tool wrote it; the version still orders leaders.
			c.Logger().Warn("epoch znode holds garbage; overwriting it", zap.String("path", l.Epoch()), zap.Error(err))
			prev = Epoch{}
		}
		// Every take-over writes the znode, so its version grows with
		// each: an epoch of at least the version keeps growing even when
		// another tool wrote a smaller number (another record, 0, -5).
		next := Epoch{Epoch: max(prev.Epoch, int64(stat.Version)) + 1, Leader: leader, Since: time.Now().UTC()}
		b, _ := json.Marshal(next)
		_, err = c.Multi(ctx, zkclient.CheckOp(cand.Key(), -1), zkclient.SetOp(l.Epoch(), b, stat.Version))
		var me *zkclient.MultiError
		switch {
		case err == nil:
			return Fence{Candidate: cand.Key(), EpochPath: l.Epoch(), EpochVersion: stat.Version + 1, Epoch: next.Epoch}, nil
		case errors.As(err, &me) && me.Index == 0:
			return Fence{}, fmt.Errorf("%w: candidacy %s is gone", ErrDeposed, cand.Key())
		case errors.As(err, &me) && errors.Is(err, zk.ErrBadVersion):
			continue // the epoch moved under us (a deposed leader cannot move it; a tool can)
		default:
			return Fence{}, fmt.Errorf("bump epoch: %w", err)
		}
	}
}

// FencedMulti applies ops only if f still holds. A failed fence check is
// ErrDeposed; a failed op of the caller's is a *MultiError whose Index counts
// the caller's ops only.
func FencedMulti(ctx context.Context, c *zkclient.Client, f Fence, ops ...zkclient.Op) ([]zk.MultiResponse, error) {
	fence := f.Ops()
	all := make([]zkclient.Op, 0, len(fence)+len(ops))
	all = append(append(all, fence...), ops...)
	res, err := c.Multi(ctx, all...)
	var me *zkclient.MultiError
	if errors.As(err, &me) {
		if me.Index < len(fence) {
			return nil, fmt.Errorf("%w: check of %s failed: %v", ErrDeposed, me.Path, me.Err)
		}
		me.Index -= len(fence)
	}
	if len(res) >= len(fence) {
		res = res[len(fence):]
	}
	return res, err
}

// FencedBatch applies many independent items (each a list of ops) in as few
// fenced multis as possible. A multi fails as a whole when one op fails; the
// item owning that op is reported in failed (a *MultiError whose Index counts
// within the item) and the rest are retried, so a stale item costs one extra
// round trip instead of the batch. err is ErrDeposed, or an error that leaves
// the outcome of every item not in failed unknown (connection loss).
func FencedBatch(ctx context.Context, c *zkclient.Client, f Fence, items [][]zkclient.Op) (failed map[int]*zkclient.MultiError, err error) {
	return zkclient.ApplyItems(items, func(ops []zkclient.Op) error {
		_, err := FencedMulti(ctx, c, f, ops...)
		return err
	})
}
