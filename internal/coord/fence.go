package coord

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
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
	// Parts, when not nil, are the partitions this leader leads (not all
	// of them: several masters lead), each with its znode's version right
	// after this leader's bump; they replace the epoch check (see
	// TakeOver).
	Parts map[int]int32
	// checks are the ops Ops returns, made once at the take-over: every
	// write a leader makes starts with them.
	checks []zkclient.Op
}

// Ops are the checks that make a multi conditional on leadership. A Fence
// made by hand (not by TakeOver) is fenced by its candidacy and epoch.
func (f Fence) Ops() []zkclient.Op {
	if f.checks != nil {
		return f.checks
	}
	return []zkclient.Op{zkclient.CheckOp(f.Candidate, -1), zkclient.CheckOp(f.EpochPath, f.EpochVersion)}
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
//
// Each multi stays within zkclient.MaxBatchBytes (ApplyItems): a batch of
// tasks each carrying 20 retried errors of 4 KiB would otherwise pass
// jute.maxbuffer, and the server would drop the connection at every try.
func FencedBatch(ctx context.Context, c *zkclient.Client, f Fence, items [][]zkclient.Op) (failed map[int]*zkclient.MultiError, err error) {
	return zkclient.ApplyItems(items, func(ops []zkclient.Op) error {
		_, err := FencedMulti(ctx, c, f, ops...)
		return err
	})
}

// WatchFence blocks until ctx ends (nil) or until f no longer holds by
// its znodes: the epoch (a leader of every partition) or one of its
// partitions (a leader of some) was written by another take-over. Then it
// returns ErrDeposed naming the znode.
//
// A leader that writes learns this from its next write, which the fence
// refuses; one with nothing to write would not, and would go on holding
// partitions whose records now name another master, which may since have
// let them go (it took them on a stale view of the election, then saw the
// view change). So that a term ends as soon as it is deposed, every
// leader watches its fence; the checks in its writes stay what makes the
// fence hold. Other errors (the client closing) end the watch with
// nothing to report: the writes are still fenced.
func WatchFence(ctx context.Context, c *zkclient.Client, l Layout, f Fence) error {
	want := map[string]int32{f.EpochPath: f.EpochVersion}
	if f.Parts != nil {
		want = make(map[string]int32, len(f.Parts))
		for p, v := range f.Parts {
			want[l.Partition(p)] = v
		}
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var watches sync.WaitGroup
	for path, version := range want {
		watches.Go(func() {
			if err := watchVersion(ctx, c, path, version); err != nil {
				stop(err)
			}
		})
	}
	watches.Wait()
	if err := context.Cause(ctx); errors.Is(err, ErrDeposed) {
		return err
	}
	return nil
}

// watchVersion waits until the znode at path is no longer at version
// (ErrDeposed) or ctx ends (nil).
func watchVersion(ctx context.Context, c *zkclient.Client, path string, version int32) error {
	for {
		st, ch, err := c.ExistsW(ctx, path)
		switch {
		case err != nil:
			if c.Retry(ctx, err) != nil {
				return nil
			}
			continue
		case st == nil || st.Version != version:
			return fmt.Errorf("%w: %s was taken over by another master", ErrDeposed, path)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
	}
}
