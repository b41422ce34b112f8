package coord

import (
	"context"
	"errors"
	"sort"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
)

// Status is a snapshot of a Paddock tree, read without writing anything.
type Status struct {
	Root   string  `json:"root"`
	Epoch  Epoch   `json:"epoch"`
	Leader *Member `json:"leader"` // nil: no master
	// TakingOver: the leader has been elected but has not bumped the epoch
	// yet (for a moment after a failover), so it assigns nothing so far.
	TakingOver bool           `json:"taking_over"`
	Backups    []Member       `json:"backups"` // in line order
	Workers    []WorkerStatus `json:"workers"`
	Pending    int            `json:"pending"`
	Running    int            `json:"running"`
	Finished   int            `json:"finished"` // results not yet collected
	Dead       int            `json:"dead"`     // dead letters
}

// WorkerStatus is one registered worker and its load.
type WorkerStatus struct {
	WorkerInfo
	Name    string `json:"name"`
	Running int    `json:"running"`
	Valid   bool   `json:"valid"` // its registration parsed
}

// ReadStatus reads the election, the workers and the task counts. Counts
// come from the shards' child counts (one stat each), never from listing
// tasks, so it is as cheap with a million tasks as with none.
func ReadStatus(ctx context.Context, c *Client, l Layout) (Status, error) {
	st := Status{Root: l.Root(), Backups: []Member{}, Workers: []WorkerStatus{}}
	if data, _, err := c.Get(ctx, l.Epoch()); err == nil {
		st.Epoch, _ = DecodeEpoch(data)
	} else if !errors.Is(err, zk.ErrNoNode) {
		return st, err
	}
	cands, err := NewLeaderQueue(c, l.Master()).Candidates(ctx)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return st, err
	}
	members := make([]*Member, len(cands))
	if err := Pipeline(len(cands), func(i int) error {
		data, _, err := c.Get(ctx, l.Master()+"/"+cands[i])
		if errors.Is(err, zk.ErrNoNode) {
			return nil // left meanwhile
		}
		if err != nil {
			return err
		}
		m, derr := DecodeMember(data)
		if derr != nil {
			m = Member{ID: "(unreadable " + cands[i] + ")"}
		}
		members[i] = &m
		return nil
	}); err != nil {
		return st, err
	}
	for _, m := range members {
		switch {
		case m == nil:
		case st.Leader == nil:
			st.Leader = m
		default:
			st.Backups = append(st.Backups, *m)
		}
	}

	st.TakingOver = st.Leader != nil && st.Leader.ID != st.Epoch.Leader

	names, _, err := c.Children(ctx, l.Workers())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return st, err
	}
	sort.Strings(names)
	workers := make([]*WorkerStatus, len(names))
	if err := Pipeline(len(names), func(i int) error {
		data, _, err := c.Get(ctx, l.Worker(names[i]))
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		ws := &WorkerStatus{Name: names[i]}
		if info, err := DecodeWorkerInfo(data); err == nil {
			ws.WorkerInfo, ws.Valid = info, true
		}
		if s, err := c.Exists(ctx, l.AssignDir(names[i])); err == nil && s != nil {
			ws.Running = int(s.NumChildren)
		}
		workers[i] = ws
		return nil
	}); err != nil {
		return st, err
	}
	for _, w := range workers {
		if w != nil {
			st.Workers = append(st.Workers, *w)
		}
	}

	// Running counts every assignment, also those of lost workers not yet
	// taken back, so that pending = tasks - running holds.
	dirs, _, err := c.Children(ctx, l.Assign())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return st, err
	}
	running, err := sumChildren(ctx, c, len(dirs), func(i int) string { return l.AssignDir(dirs[i]) })
	if err != nil {
		return st, err
	}
	shards := task.Shards()
	var tasks int
	for _, x := range []struct {
		n      *int
		parent func(string) string
	}{{&tasks, l.TaskShard}, {&st.Finished, l.ResultShard}, {&st.Dead, l.DeadShard}} {
		if *x.n, err = sumChildren(ctx, c, len(shards), func(i int) string { return x.parent(shards[i]) }); err != nil {
			return st, err
		}
	}
	st.Running = running
	st.Pending = max(0, tasks-running)
	return st, nil
}

func sumChildren(ctx context.Context, c *Client, n int, pathOf func(int) string) (int, error) {
	counts := make([]int, n)
	err := Pipeline(n, func(i int) error {
		s, err := c.Exists(ctx, pathOf(i))
		if err == nil && s != nil {
			counts[i] = int(s.NumChildren)
		}
		return err
	})
	total := 0
	for _, k := range counts {
		total += k
	}
	return total, err
}
