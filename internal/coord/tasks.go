package coord

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// State is where a task is in its life, as the tree shows it.
type State string

// The states a listing selects. A task is pending while its znode is under
// tasks/ with no assignment, running while assign/<w>/<id> holds it,
// finished once results/ holds its result, dead while dead/ holds its dead
// letter (its result, status dead, is under results/ too until collected).
const (
	StatePending  State = "pending"
	StateRunning  State = "running"
	StateFinished State = "finished"
	StateDead     State = "dead"
)

// States lists the states in the order of a task's life.
func States() []State { return []State{StatePending, StateRunning, StateFinished, StateDead} }

// ParseState validates a state name.
func ParseState(s string) (State, error) {
	for _, st := range States() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown state %q: want pending, running, finished or dead", s)
}

// DefaultMaxScan bounds the records a filtered listing reads that do not
// match, so that `--kind rare` over a huge backlog answers in about a
// second instead of reading every task.
const DefaultMaxScan = 10000

// ListOptions select what List returns.
type ListOptions struct {
	State  State
	Kind   string // only tasks of this kind; "" for any
	Reason string // dead letters only: only this reason; "" for any
	Limit  int    // at most this many tasks, oldest first; <= 0 for all
	// MaxScan bounds the records read that turn out not to match the
	// filters (or to have vanished since the shards were listed); <= 0 for
	// DefaultMaxScan. Without filters it only matters under heavy churn.
	MaxScan int
	// Conns is how many connections may share the reads of records when
	// there are more than ForkAbove of them: one connection caps near
	// 10,000 reads/s, and a listing of 100,000 records takes half the time
	// over 4 (BENCHMARKS.md). The extra ones are opened (Client.Fork) and
	// closed by List. <= 1: c alone.
	Conns int
}

// ForkAbove is how many records a listing reads on one connection before
// ListOptions.Conns opens more: below it, a session's set-up costs more
// than it saves.
const ForkAbove = 5000

func (o ListOptions) filtered() bool { return o.Kind != "" || o.Reason != "" }

// Listed is one task of a listing, from the record of its state.
type Listed struct {
	ID    task.ID `json:"id"`
	State State   `json:"state"`
	Kind  string  `json:"kind,omitempty"`
	// Since is the creation of the znode that puts the task in its state
	// (ZooKeeper's ctime): submitted (pending), assigned (running),
	// finished, dead-lettered.
	Since    time.Time `json:"since,omitzero"`
	Attempts int       `json:"attempts"`
	// Worker: running, the worker running it; finished, the one that ran
	// it; pending and dead, the last worker it was taken back from.
	Worker string      `json:"worker,omitempty"`
	Epoch  int64       `json:"epoch,omitempty"`  // running: the epoch of the master that assigned it
	Status task.Status `json:"status,omitempty"` // finished
	Reason string      `json:"reason,omitempty"` // dead
	// Malformed says why the record is not Paddock's (another tool wrote
	// it); the other fields are then what the znode's name and stat tell.
	Malformed string `json:"malformed,omitempty"`
}

// Listing is the answer of List.
type Listing struct {
	State State    `json:"state"`
	Total int      `json:"total"` // znodes in that state when listed, before filters
	Tasks []Listed `json:"tasks"` // oldest first
	Read  int      `json:"read"`  // records read to find them
	// More: tasks in that state were left unread (the limit was reached,
	// or the scan bound: see ScanBound).
	More bool `json:"more"`
	// ScanBound: the listing stopped after MaxScan records that did not
	// match the filters, before reading every candidate.
	ScanBound bool `json:"scan_bound"`
}

// candidate is a znode a listing may read: its name (a task id, unless
// another tool put it there) and, for running tasks, the worker.
type candidate struct {
	name   string
	worker string
	shard  string // the shard it was listed under; "" for assignments
}

// List returns tasks in one state, oldest first (ids begin with their submit
// time). It lists the state's 256 shards (or the assignment directories) in
// parallel, then reads records only for the tasks it returns, pipelined,
// chunk by chunk, until the limit is reached: `--limit 20` over 100,000
// pending tasks costs 256 listings and about 20 reads. A record that is not
// Paddock's is returned with Malformed set, never an error.
func List(ctx context.Context, c *zkclient.Client, l Layout, opts ListOptions) (Listing, error) {
	if _, err := ParseState(string(opts.State)); err != nil {
		return Listing{}, err
	}
	if opts.MaxScan <= 0 {
		opts.MaxScan = DefaultMaxScan
	}
	cands, err := candidates(ctx, c, l, opts.State)
	if err != nil {
		return Listing{}, err
	}
	out := Listing{State: opts.State, Total: len(cands), Tasks: []Listed{}}
	want := opts.Limit
	if want <= 0 {
		want = len(cands)
	}
	reads := want
	if opts.filtered() {
		reads += opts.MaxScan
	}
	readers, err := readersFor(ctx, c, opts.Conns, min(reads, len(cands)))
	if err != nil {
		return Listing{}, err
	}
	defer func() {
		for _, r := range readers[1:] {
			r.Close()
		}
	}()
	err = fill(ctx, readers, l, opts, cands, want, &out)
	return out, err
}

// fill reads the records of cands in order, a pipelined chunk at a time,
// until out holds want matching tasks, the candidates run out, or
// opts.MaxScan reads did not match.
func fill(ctx context.Context, readers []*zkclient.Client, l Layout, opts ListOptions, cands []candidate, want int, out *Listing) error {
	skipped, next := 0, 0
	for next < len(cands) && len(out.Tasks) < want {
		if skipped >= opts.MaxScan {
			out.ScanBound = true
			break
		}
		n := want - len(out.Tasks)
		if opts.filtered() {
			// Most reads may not match: fill the pipeline, within the bound.
			n = min(max(n, zkclient.PipelineWidth), n+opts.MaxScan-skipped)
		}
		chunk := cands[next:min(next+n, len(cands))]
		next += len(chunk)
		rows, err := readListed(ctx, readers, l, opts.State, chunk)
		if err != nil {
			return err
		}
		out.Read += len(chunk)
		for _, r := range rows {
			switch {
			case r == nil || !opts.matches(*r):
				skipped++
			case len(out.Tasks) < want:
				out.Tasks = append(out.Tasks, *r)
			}
		}
	}
	out.More = next < len(cands)
	return nil
}

// readersFor is c, and conns-1 more connections when up to reads records
// may have to be read.
func readersFor(ctx context.Context, c *zkclient.Client, conns, reads int) ([]*zkclient.Client, error) {
	out := []*zkclient.Client{c}
	if reads <= ForkAbove {
		return out, nil
	}
	for range conns - 1 {
		f, err := c.Fork(ctx)
		if err != nil {
			for _, r := range out[1:] {
				r.Close()
			}
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (o ListOptions) matches(r Listed) bool {
	return (o.Kind == "" || r.Kind == o.Kind) && (o.Reason == "" || r.Reason == o.Reason)
}

// candidates lists the znodes of a state, sorted by name (oldest first).
func candidates(ctx context.Context, c *zkclient.Client, l Layout, st State) ([]candidate, error) {
	switch st {
	case StateRunning:
		return assignments(ctx, c, l)
	case StatePending:
		// Assignments first: a task assigned after this listing then shows
		// as pending, and its record (naming the worker) drops it.
		running, err := assignments(ctx, c, l)
		if err != nil {
			return nil, err
		}
		assigned := make(map[string]bool, len(running))
		for _, r := range running {
			assigned[r.name] = true
		}
		all, err := listShards(ctx, c, l.TaskShard)
		if err != nil {
			return nil, err
		}
		pending := all[:0]
		for _, cand := range all {
			if !assigned[cand.name] {
				pending = append(pending, cand)
			}
		}
		return pending, nil
	case StateFinished:
		return listShards(ctx, c, l.ResultShard)
	default:
		return listShards(ctx, c, l.DeadShard)
	}
}

// listShards lists the 256 shards of one parent in parallel.
func listShards(ctx context.Context, c *zkclient.Client, shard func(string) string) ([]candidate, error) {
	shards := task.Shards()
	lists := make([][]string, len(shards))
	err := zkclient.Pipeline(len(shards), func(i int) error {
		names, err := zkclient.RetryRead(ctx, c, func() ([]string, error) {
			names, _, err := c.Children(ctx, shard(shards[i]))
			return names, err
		})
		if errors.Is(err, zk.ErrNoNode) {
			return nil // removed by hand; client init recreates it
		}
		lists[i] = names
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []candidate
	for i, names := range lists {
		for _, n := range names {
			out = append(out, candidate{name: n, shard: shards[i]})
		}
	}
	sortByName(out)
	return out, nil
}

// assignments lists every assign/<w>/<id>, whether or not w is alive: a
// lost worker's tasks are running until the leader takes them back.
func assignments(ctx context.Context, c *zkclient.Client, l Layout) ([]candidate, error) {
	dirs, err := zkclient.RetryRead(ctx, c, func() ([]string, error) {
		names, _, err := c.Children(ctx, l.Assign())
		return names, err
	})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return nil, err
	}
	lists := make([][]string, len(dirs))
	err = zkclient.Pipeline(len(dirs), func(i int) error {
		names, err := zkclient.RetryRead(ctx, c, func() ([]string, error) {
			names, _, err := c.Children(ctx, l.AssignDir(dirs[i]))
			return names, err
		})
		if errors.Is(err, zk.ErrNoNode) {
			return nil // removed since: its worker is gone and its tasks taken back
		}
		lists[i] = names
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []candidate
	for i, names := range lists {
		for _, n := range names {
			out = append(out, candidate{name: n, worker: dirs[i]})
		}
	}
	sortByName(out)
	return out, nil
}

func sortByName(cs []candidate) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].name != cs[j].name {
			return cs[i].name < cs[j].name
		}
		return cs[i].worker < cs[j].worker
	})
}

// readListed reads the records of cands in one pipelined round. A nil entry
// is a candidate to leave out: gone since it was listed, or (pending) found
// assigned meanwhile.
func readListed(ctx context.Context, cs []*zkclient.Client, l Layout, st State, cands []candidate) ([]*Listed, error) {
	out := make([]*Listed, len(cands))
	err := zkclient.PipelineN(len(cands), len(cs), func(i int) error {
		cand, c := cands[i], cs[i%len(cs)]
		r := &Listed{ID: task.ID(cand.name), State: st}
		id, err := task.ParseID(cand.name)
		if err == nil && cand.shard != "" && id.Shard() != cand.shard {
			err = fmt.Errorf("listed in shard %s, not %s", cand.shard, id.Shard())
		}
		if err != nil {
			// Not a Paddock znode: say so rather than read it.
			r.Malformed = "name: " + err.Error()
			out[i] = r
			return nil
		}
		path := recordPath(l, st, id, cand.worker)
		node, err := getNode(ctx, c, path)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		r.Since = ctime(node.Stat)
		if !fillListed(r, st, node.Data, cand.worker) {
			return nil
		}
		out[i] = r
		return nil
	})
	return out, err
}

func recordPath(l Layout, st State, id task.ID, worker string) string {
	switch st {
	case StatePending:
		return l.Task(id)
	case StateRunning:
		return l.Assignment(worker, id)
	case StateFinished:
		return l.Result(id)
	}
	return l.DeadLetter(id)
}

// fillListed decodes a record into r; false drops a pending task that
// turns out to be assigned.
func fillListed(r *Listed, st State, data []byte, worker string) bool {
	switch st {
	case StatePending:
		s, err := task.DecodeSpec(data)
		if err != nil {
			r.Malformed = err.Error()
			return true
		}
		if s.Worker != "" {
			return false // assigned since the assignments were listed
		}
		r.Kind, r.Attempts, r.Worker = s.Kind, s.Attempts, s.LastWorker
	case StateRunning:
		r.Worker = worker
		a, err := task.DecodeAssignment(data)
		if err != nil {
			r.Malformed = err.Error()
			return true
		}
		r.Kind, r.Attempts, r.Epoch = a.Kind, a.Attempt, a.Epoch
	case StateFinished:
		res, err := task.DecodeResult(data)
		if err != nil {
			r.Malformed = err.Error()
			return true
		}
		r.Kind, r.Attempts, r.Worker, r.Status = res.Kind, res.Attempts, res.Worker, res.Status
	case StateDead:
		d, err := task.DecodeDeadLetter(data)
		if err != nil {
			r.Malformed = err.Error()
			return true
		}
		r.Attempts, r.Worker, r.Reason = d.Attempts, d.LastWorker, d.Reason
		// A malformed task's spec does not parse: that is its reason, not
		// a fault of the dead letter, so the kind is simply unknown.
		if s, err := task.DecodeSpec([]byte(d.Spec)); err == nil {
			r.Kind = s.Kind
		}
	}
	return true
}

// getNode reads a znode, retrying across connection loss.
func getNode(ctx context.Context, c *zkclient.Client, path string) (zkclient.Node, error) {
	return zkclient.RetryRead(ctx, c, func() (zkclient.Node, error) {
		d, s, err := c.Get(ctx, path)
		return zkclient.Node{Data: d, Stat: s}, err
	})
}

// ctime is when a znode was created, by the ZooKeeper leader's clock.
func ctime(s *zk.Stat) time.Time { return time.UnixMilli(s.Ctime).UTC() }
