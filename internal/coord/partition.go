package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Partitions is how many parts the task shards are divided into when
// several masters lead at once (the setting master.leaders): partition p
// holds the 16 shards whose first hex digit is p. A partition is the unit
// of leadership and of fencing: each is led by one master at a time, which
// bumped its znode, partitions/<p>, when it took it over.
const Partitions = 16

// PartitionOf is the partition of a task: the first hex digit of its shard.
func PartitionOf(id task.ID) int { return PartitionOfShard(id.Shard()) }

// PartitionOfShard is the partition of a shard ("00" to "ff").
func PartitionOfShard(shard string) int {
	p, err := strconv.ParseUint(shard[:1], 16, 8)
	if err != nil {
		return 0 // not a shard name: callers pass only task shards
	}
	return int(p)
}

// AllPartitions lists every partition, 0 to Partitions-1.
func AllPartitions() []int {
	out := make([]int, Partitions)
	for i := range out {
		out[i] = i
	}
	return out
}

// Partition is the znode of partition p.
func (l Layout) Partition(p int) string { return l.join("partitions", fmt.Sprintf("%x", p)) }

// PartitionsDir is the parent of the partition znodes.
func (l Layout) PartitionsDir() string { return l.join("partitions") }

// PartitionRecord is the data of partitions/<p>: who last took the
// partition over, under which epoch. `client status` shows it.
type PartitionRecord struct {
	Epoch  int64     `json:"epoch"`
	Leader string    `json:"leader"`
	Since  time.Time `json:"since"`
}

// ensurePartitions creates partitions/ and its 16 znodes (empty data: no
// leader yet) when missing.
func ensurePartitions(ctx context.Context, c *zkclient.Client, l Layout) error {
	if err := createIfMissing(ctx, c, l.PartitionsDir(), nil); err != nil {
		return err
	}
	for p := range Partitions {
		if err := createIfMissing(ctx, c, l.Partition(p), nil); err != nil {
			return err
		}
	}
	return nil
}

// TakeOver is a newly elected leader's first write. In one multi,
// conditional on its candidacy, it increments the epoch and rewrites the
// znode of every partition in parts (each rewrite bumps the znode's
// version), and returns the fence for all later writes. Leading every
// partition, the fence is (candidacy, epoch version), as with a single
// leader; leading some, it is (candidacy, the version of each of its
// partitions), so that the takeover of another master's partitions, which
// also bumps the epoch, does not depose it. Either way a leader deposed in
// between, or ever after, cannot write: whoever takes one of its
// partitions bumps that partition and the epoch.
func TakeOver(ctx context.Context, c *zkclient.Client, l Layout, cand *recipe.Candidate, leader string, parts []int) (Fence, error) {
	remade := false
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
		now := time.Now().UTC()
		next := Epoch{Epoch: max(prev.Epoch, int64(stat.Version)) + 1, Leader: leader, Since: now}
		b, _ := json.Marshal(next)
		pb, _ := json.Marshal(PartitionRecord{Epoch: next.Epoch, Leader: leader, Since: now})
		ops := []zkclient.Op{zkclient.CheckOp(cand.Key(), -1), zkclient.SetOp(l.Epoch(), b, stat.Version)}
		for _, p := range parts {
			ops = append(ops, zkclient.SetOp(l.Partition(p), pb, -1))
		}
		res, err := c.Multi(ctx, ops...)
		var me *zkclient.MultiError
		switch {
		case err == nil:
			f := Fence{Candidate: cand.Key(), EpochPath: l.Epoch(), EpochVersion: stat.Version + 1, Epoch: next.Epoch}
			f.checks = []zkclient.Op{zkclient.CheckOp(f.Candidate, -1)}
			if len(parts) == Partitions {
				f.checks = append(f.checks, zkclient.CheckOp(f.EpochPath, f.EpochVersion))
				return f, nil
			}
			f.Parts = make(map[int]int32, len(parts))
			for i, p := range parts { // parts ascend: the checks go in partition order
				f.Parts[p] = res[2+i].Stat.Version
				f.checks = append(f.checks, zkclient.CheckOp(l.Partition(p), f.Parts[p]))
			}
			return f, nil
		case errors.As(err, &me) && me.Index == 0:
			return Fence{}, fmt.Errorf("%w: candidacy %s is gone", ErrDeposed, cand.Key())
		case errors.As(err, &me) && errors.Is(err, zk.ErrBadVersion):
			continue // the epoch moved under us (another master took over partitions meanwhile)
		case errors.As(err, &me) && me.Index >= 2 && errors.Is(err, zk.ErrNoNode) && !remade:
			// A partition znode is gone (removed by hand, or a tree older
			// than partitions): make the missing ones again, once.
			c.Logger().Warn("a partition znode is missing; creating it", zap.String("path", me.Path))
			if err := ensurePartitions(ctx, c, l); err != nil {
				return Fence{}, fmt.Errorf("take over: create %s: %w", me.Path, err)
			}
			remade = true
		default:
			return Fence{}, fmt.Errorf("bump epoch: %w", err)
		}
	}
}

// Owns reports whether the fence's leader leads partition p.
func (f Fence) Owns(p int) bool {
	if f.Parts == nil {
		return true
	}
	_, ok := f.Parts[p]
	return ok
}

// PartitionStatus is one partition as `client status` shows it.
type PartitionStatus struct {
	Partition string `json:"partition"` // its hex digit
	PartitionRecord
}

// readPartitions fills st.Partitions from partitions/<p>; a tree without
// them (older) or a partition never taken over shows none.
func readPartitions(ctx context.Context, c *zkclient.Client, l Layout, st *Status) error {
	recs := make([]*PartitionStatus, Partitions)
	if err := zkclient.Pipeline(Partitions, func(p int) error {
		data, _, err := c.Get(ctx, l.Partition(p))
		switch {
		case errors.Is(err, zk.ErrNoNode):
			return nil
		case err != nil:
			return err
		}
		var r PartitionRecord
		if json.Unmarshal(data, &r) == nil && r.Leader != "" {
			recs[p] = &PartitionStatus{Partition: fmt.Sprintf("%x", p), PartitionRecord: r}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, r := range recs {
		if r != nil {
			st.Partitions = append(st.Partitions, *r)
		}
	}
	// The front candidate always leads partition 0, and takes it over in
	// the multi that bumps the epoch; with several leaders the epoch names
	// whoever took over last, so partition 0 says whether the front one
	// has taken over yet.
	if r := recs[0]; r != nil && st.Leader != nil {
		st.TakingOver = r.Leader != st.Leader.ID
	}
	return nil
}
