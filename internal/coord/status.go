package coord

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// RecentDeadMax is how many dead letters ReadStatus reads, at most (and
// how many dead shards it lists to find them).
const RecentDeadMax = 10

// deadDetailMax bounds a dead letter's detail in a Status: a status is read
// every second by a page, and a detail is a one-line reason.
const deadDetailMax = 500

// Status is a snapshot of a Paddock tree, read without writing anything.
// `client status -o json` prints it and the status page's /api/status
// serves it: docs/PROTOCOL.md ("status") documents its fields.
type Status struct {
	Root   string         `json:"root"`
	Epoch  Epoch          `json:"epoch"`
	Leader *recipe.Member `json:"leader"` // nil: no master
	// TakingOver: the leader has been elected but has not bumped the epoch
	// yet (for a moment after a failover), so it assigns nothing so far.
	TakingOver bool            `json:"taking_over"`
	Backups    []recipe.Member `json:"backups"` // in line order
	Workers    []WorkerStatus  `json:"workers"`
	Pending    int             `json:"pending"`
	Running    int             `json:"running"`
	Finished   int             `json:"finished"` // results not yet collected
	Dead       int             `json:"dead"`     // dead letters

	// Submitted and Ended count the tasks created under tasks/ and those
	// that left it (completed, cancelled or dead-lettered) since `init`
	// created the task shards. They only grow, so the difference between
	// two readings over their time apart is the service's throughput. They
	// cost nothing: they come from the shards' stats that the counts need
	// anyway (see shardCounts).
	Submitted int64 `json:"submitted_total"`
	Ended     int64 `json:"ended_total"`

	// RecentDead are the newest dead letters, newest first, at most
	// RecentDeadMax (see readRecentDead for which ones and at what cost).
	RecentDead []DeadSummary       `json:"recent_dead"`
	Roles      []recipe.RoleStatus `json:"roles"`      // in the order they were added
	Applicants []recipe.Member     `json:"applicants"` // waiting for a role, the next to claim first

	// At is when the reading began (the reader's clock): ages on the page
	// are measured from it, so a viewer's wrong clock does not skew them.
	At time.Time `json:"at"`

	// WaitingForKind counts the due tasks of each kind that no live worker
	// runs: they stay pending until one does (or their routing timeout).
	// The leader publishes it (<root>/waiting); absent when none waits.
	WaitingForKind map[string]int `json:"waiting_for_kind,omitempty"`
	// Partitions says who leads each partition of the tasks (when several
	// masters lead: the setting master.leaders), as each leader recorded
	// at its takeover; absent on a tree no leader of this version took.
	Partitions []PartitionStatus `json:"partitions,omitempty"`

	// The fields below are not in ZooKeeper: only some callers know them,
	// and they are absent (null) otherwise.

	// OldestPendingSeconds is how long the oldest pending task has waited.
	// Only the leading master knows it without listing every task.
	OldestPendingSeconds *float64 `json:"oldest_pending_seconds,omitempty"`
	// Scheduled is how many tasks the leader holds until they are due
	// (not_before, a retry's backoff); they are counted in Pending too.
	Scheduled *int `json:"scheduled,omitempty"`
	// Throughput is the rate of Ended and Submitted over the last minute,
	// from a reader that has kept earlier readings (the status page,
	// `client status --watch`).
	Throughput *Throughput `json:"throughput,omitempty"`
}

// Throughput is how fast tasks were submitted and ended over a window.
type Throughput struct {
	WindowSeconds      float64 `json:"window_seconds"`
	EndedPerSecond     float64 `json:"ended_per_second"`
	SubmittedPerSecond float64 `json:"submitted_per_second"`
}

// WorkerStatus is one registered worker and its load.
type WorkerStatus struct {
	WorkerInfo
	Name    string `json:"name"`
	Running int    `json:"running"`
	Valid   bool   `json:"valid"` // its registration parsed
}

// DeadSummary is a dead letter without the task's data (which can be large
// and is not what someone glancing at the status needs).
type DeadSummary struct {
	ID         string    `json:"id"`
	Reason     string    `json:"reason"` // malformed, max-attempts, or unreadable (the record itself is garbage)
	Detail     string    `json:"detail"`
	Attempts   int       `json:"attempts"`
	LastWorker string    `json:"last_worker,omitempty"`
	At         time.Time `json:"at,omitzero"`
}

// ReadStatus reads the election, the workers, the task counts, the newest
// dead letters and the roles. Its cost does not depend on how many tasks
// there are: counts come from the shards' stats (one exists each), never
// from listing tasks. It makes
//
//	2 + M                         the epoch, the election and each candidate (M masters)
//	1 + 2W + 1 + A                the workers, each one's registration and assign dir, the assign dirs (A)
//	3 × 256                       an exists on every task, result and dead shard
//	≤ 2 × RecentDeadMax           lists of dead shards and reads of dead letters (none with no dead letter)
//	3 + R + H + P                 the roles (R), their holders (H) and the applicants (P)
//	1 + 16                        the waiting record and the partitions
//	≤ 1 + 16                      several leaders' waiting records (when the single one is not current)
//
// requests, most of them pipelined (about ten round trips in all).
func ReadStatus(ctx context.Context, c *zkclient.Client, l Layout) (Status, error) {
	st := Status{Root: l.Root(), At: time.Now().UTC(), Backups: []recipe.Member{}, Workers: []WorkerStatus{},
		RecentDead: []DeadSummary{}, Roles: []recipe.RoleStatus{}, Applicants: []recipe.Member{}}
	for _, read := range []func(context.Context, *zkclient.Client, Layout, *Status) error{
		readElection, readWorkers, readCounts, readRoles, readPartitions, readWaiting,
	} {
		if err := read(ctx, c, l, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

func readElection(ctx context.Context, c *zkclient.Client, l Layout, st *Status) error {
	if data, _, err := c.Get(ctx, l.Epoch()); err == nil {
		st.Epoch, _ = DecodeEpoch(data)
	} else if !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	cands, err := recipe.NewLeaderQueue(c, l.Master()).Candidates(ctx)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	members := make([]*recipe.Member, len(cands))
	if err := zkclient.Pipeline(len(cands), func(i int) error {
		data, stat, err := c.Get(ctx, l.Master()+"/"+cands[i])
		if errors.Is(err, zk.ErrNoNode) {
			return nil // left meanwhile
		}
		if err != nil {
			return err
		}
		if stat.EphemeralOwner == 0 {
			// Not a candidate (another tool made it): the masters skip
			// it, so the leader and the backups are the others.
			return nil
		}
		m, derr := recipe.DecodeMember(data)
		if derr != nil {
			m = recipe.Member{ID: "(unreadable " + cands[i] + ")"}
		}
		members[i] = &m
		return nil
	}); err != nil {
		return err
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
	return nil
}

func readWorkers(ctx context.Context, c *zkclient.Client, l Layout, st *Status) error {
	names, _, err := c.Children(ctx, l.Workers())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	sort.Strings(names)
	workers := make([]*WorkerStatus, len(names))
	if err := zkclient.Pipeline(len(names), func(i int) error {
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
		return err
	}
	for _, w := range workers {
		if w != nil {
			st.Workers = append(st.Workers, *w)
		}
	}
	return nil
}

func readCounts(ctx context.Context, c *zkclient.Client, l Layout, st *Status) error {
	// Running counts every assignment, also those of lost workers not yet
	// taken back, so that pending = tasks - running holds.
	dirs, _, err := c.Children(ctx, l.Assign())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	running, err := stats(ctx, c, len(dirs), func(i int) string { return l.AssignDir(dirs[i]) })
	if err != nil {
		return err
	}
	shards := task.Shards()
	var taskStats, resultStats, deadStats []*zk.Stat
	for _, x := range []struct {
		stats  *[]*zk.Stat
		parent func(string) string
	}{{&taskStats, l.TaskShard}, {&resultStats, l.ResultShard}, {&deadStats, l.DeadShard}} {
		if *x.stats, err = stats(ctx, c, len(shards), func(i int) string { return x.parent(shards[i]) }); err != nil {
			return err
		}
	}
	tasks := numChildren(taskStats)
	st.Running = numChildren(running)
	st.Pending = max(0, tasks-st.Running)
	st.Finished = numChildren(resultStats)
	st.Dead = numChildren(deadStats)
	st.Submitted, st.Ended = shardCounts(taskStats)
	st.RecentDead, err = readRecentDead(ctx, c, l, shards, deadStats)
	return err
}

// shardCounts derives how many children the shards ever had created and
// deleted from their stats. ZooKeeper bumps a znode's cversion by one on
// every create and every delete of a child (a child's setData leaves it
// alone), so for a shard created empty:
//
//	cversion = creates + deletes, numChildren = creates - deletes
//	creates = (cversion + numChildren) / 2, deletes = (cversion - numChildren) / 2
//
// A task znode is only ever created by submit and deleted by complete,
// cancel or dead-letter, so these are tasks submitted and tasks ended. The
// cversion is an int32: a shard wraps after 2^31 changes (a billion tasks
// through that shard).
func shardCounts(shards []*zk.Stat) (created, deleted int64) {
	for _, s := range shards {
		if s != nil {
			created += (int64(s.Cversion) + int64(s.NumChildren)) / 2
			deleted += (int64(s.Cversion) - int64(s.NumChildren)) / 2
		}
	}
	return created, deleted
}

// readRecentDead reads the newest dead letters, at a bounded cost whatever
// the number of dead letters: it lists at most RecentDeadMax dead shards
// (those whose children changed last: highest pzxid) and reads at most
// RecentDeadMax records, those with the largest ids (ids start with the
// submit time). The shards are exactly those holding the newest dead
// letters unless the expiry removed some meanwhile (a delete also moves
// pzxid); within them, id order is submission order, which a task that
// took long to die can break. Good enough to show what went wrong lately;
// `client result` and the dead/ tree have the rest.
func readRecentDead(ctx context.Context, c *zkclient.Client, l Layout, shards []string, deadStats []*zk.Stat) ([]DeadSummary, error) {
	var busy []int
	for i, s := range deadStats {
		if s != nil && s.NumChildren > 0 {
			busy = append(busy, i)
		}
	}
	slices.SortFunc(busy, func(a, b int) int { return cmp.Compare(deadStats[b].Pzxid, deadStats[a].Pzxid) })
	busy = busy[:min(len(busy), RecentDeadMax)]
	lists := make([][]string, len(busy))
	if err := zkclient.Pipeline(len(busy), func(i int) error {
		names, _, err := c.Children(ctx, l.DeadShard(shards[busy[i]]))
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		lists[i] = names
		return nil
	}); err != nil {
		return nil, err
	}
	ids := slices.Concat(lists...)
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(b, a) })
	ids = ids[:min(len(ids), RecentDeadMax)]
	out := make([]*DeadSummary, len(ids))
	if err := zkclient.Pipeline(len(ids), func(i int) error {
		data, _, err := c.Get(ctx, l.DeadLetter(task.ID(ids[i])))
		if errors.Is(err, zk.ErrNoNode) {
			return nil // expired meanwhile
		}
		if err != nil {
			return err
		}
		d, derr := task.DecodeDeadLetter(data)
		if derr != nil {
			out[i] = &DeadSummary{ID: ids[i], Reason: "unreadable", Detail: derr.Error()}
			return nil
		}
		out[i] = &DeadSummary{ID: ids[i], Reason: d.Reason, Detail: task.Printable([]byte(d.Detail), deadDetailMax),
			Attempts: d.Attempts, LastWorker: d.LastWorker, At: d.At}
		return nil
	}); err != nil {
		return nil, err
	}
	recent := []DeadSummary{}
	for _, d := range out {
		if d != nil {
			recent = append(recent, *d)
		}
	}
	slices.SortStableFunc(recent, func(a, b DeadSummary) int { return b.At.Compare(a.At) })
	return recent, nil
}

func readRoles(ctx context.Context, c *zkclient.Client, l Layout, st *Status) error {
	rm := recipe.NewRoleMatch(c, l.Roles())
	roles, err := rm.List(ctx)
	if err != nil {
		return err
	}
	if roles != nil {
		st.Roles = roles
	}
	st.Applicants, err = rm.Applicants(ctx)
	return err
}

// stats stats n znodes at once; a missing one's stat is nil.
func stats(ctx context.Context, c *zkclient.Client, n int, pathOf func(int) string) ([]*zk.Stat, error) {
	out := make([]*zk.Stat, n)
	err := zkclient.Pipeline(n, func(i int) error {
		s, err := c.Exists(ctx, pathOf(i))
		out[i] = s
		return err
	})
	return out, err
}

func numChildren(stats []*zk.Stat) int {
	total := 0
	for _, s := range stats {
		if s != nil {
			total += int(s.NumChildren)
		}
	}
	return total
}
