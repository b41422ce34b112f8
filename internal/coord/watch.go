package coord

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Watch is a one-shot watch that a listing left on the tree. It fires at
// the first change of what was listed, or when the session that set it
// ends (either way, what was listed must be read again). The zero Watch
// was never set and never fires.
type Watch struct{ ch <-chan zk.Event }

// Set reports whether the listing left a watch.
func (w Watch) Set() bool { return w.ch != nil }

// Wait blocks until the watch fires (true) or ctx is done (false). The
// caller owns the goroutine that waits: ctx is how it stops it.
func (w Watch) Wait(ctx context.Context) bool {
	select {
	case <-w.ch: // a nil channel never delivers: an unset watch waits for ctx
		return true
	case <-ctx.Done():
		return false
	}
}

// ShardListing is one task shard, tasks/<shard>, as the leader lists it.
type ShardListing struct {
	Shard   string
	Tasks   []task.ID // the tasks of this shard
	Strays  []Stray   // children that are not (see Stray)
	Missing bool      // the shard znode does not exist
	// Watch fires at the shard's next child change, or at its creation
	// when it is missing.
	Watch Watch
}

// WatchTaskShards lists the task shards named, pipelined, and leaves a
// child watch on each: the leader learns of new tasks (the "learn of
// work" section of docs/PROTOCOL.md). A shard that does not exist (removed
// by hand; `client init` recreates it) lists empty, Missing, with a watch
// for its creation.
//
// Each listing goes to each as it arrives, one call at a time (from the
// pipeline's goroutines; every call returns before WatchTaskShards does),
// so that the caller keeps what it needs and the rest goes: a new leader
// lists a backlog of a million ids, as strings three times the size of
// what it keeps. On an error, each has seen some of the shards, not all.
func WatchTaskShards(ctx context.Context, c *zkclient.Client, l Layout, shards []string, each func(ShardListing)) error {
	var mu sync.Mutex
	return zkclient.Pipeline(len(shards), func(i int) error {
		sl, err := watchTaskShard(ctx, c, l, shards[i])
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		each(sl)
		return nil
	})
}

func watchTaskShard(ctx context.Context, c *zkclient.Client, l Layout, s string) (ShardListing, error) {
	names, _, ch, err := c.ChildrenW(ctx, l.TaskShard(s))
	for errors.Is(err, zk.ErrNoNode) {
		var st *zk.Stat
		st, ch, err = c.ExistsW(ctx, l.TaskShard(s))
		if err == nil && st == nil {
			return ShardListing{Shard: s, Missing: true, Watch: Watch{ch}}, nil
		}
		if err == nil { // created between the two reads: list it
			names, _, ch, err = c.ChildrenW(ctx, l.TaskShard(s))
		}
	}
	if err != nil {
		return ShardListing{}, err
	}
	sl := ShardListing{Shard: s, Watch: Watch{ch}}
	for _, name := range names {
		if id, perr := task.ParseID(name); perr == nil && id.Shard() == s {
			sl.Tasks = append(sl.Tasks, id)
		} else {
			sl.Strays = append(sl.Strays, Stray{Shard: s, Name: name})
		}
	}
	return sl, nil
}

// DirListing is a worker's assign/<w> directory as listed.
type DirListing struct {
	Worker  string
	Exists  bool
	Tasks   []task.ID // the tasks assigned to the worker
	Foreign []string  // children that are not task ids (not Paddock's)
	// Version is the directory's data version as listed: the leaders that
	// share a worker's slots write it on each assignment (AssignShared).
	Version int32
	// Watch fires at the directory's next child change, or at its creation
	// when it does not exist.
	Watch Watch
}

func dirListing(w string, names []string, ch <-chan zk.Event) DirListing {
	d := DirListing{Worker: w, Exists: true, Watch: Watch{ch}}
	for _, name := range names {
		if id, err := task.ParseID(name); err == nil {
			d.Tasks = append(d.Tasks, id)
		} else {
			d.Foreign = append(d.Foreign, name)
		}
	}
	return d
}

// ListAssignDirs lists assign/: the workers that have an assignment
// directory, live or lost. A new leader starts from it, to take back the
// tasks of workers that died while no master led.
func ListAssignDirs(ctx context.Context, c *zkclient.Client, l Layout) ([]string, error) {
	names, _, err := c.Children(ctx, l.Assign())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.Assign(), err)
	}
	return names, nil
}

// WatchAssignDirs lists the assign/<w> directories of the workers named, in
// one pipelined round, leaving a watch on each: the leader follows its
// workers' assignments (a deleted child frees a slot). A directory that
// does not exist is watched for its creation: a worker creates its own
// before it registers.
func WatchAssignDirs(ctx context.Context, c *zkclient.Client, l Layout, workers []string) ([]DirListing, error) {
	out := make([]DirListing, len(workers))
	err := zkclient.Pipeline(len(workers), func(i int) error {
		w, dir := workers[i], l.AssignDir(workers[i])
		for {
			names, st, ch, err := c.ChildrenW(ctx, dir)
			if !errors.Is(err, zk.ErrNoNode) {
				out[i] = dirListing(w, names, ch)
				if st != nil {
					out[i].Version = st.Version
				}
				return err
			}
			st, ch, err = c.ExistsW(ctx, dir)
			if err != nil || st == nil {
				out[i] = DirListing{Worker: w, Watch: Watch{ch}}
				return err
			}
			// Created between the two reads: list it.
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateAssignDir creates worker w's assign/<w> (persistent, empty), where
// the leader puts its assignments. Existing already is success.
// assign/ itself is created first when it is missing (removed by hand).
func CreateAssignDir(ctx context.Context, c *zkclient.Client, l Layout, w string) error {
	_, err := c.Create(ctx, l.AssignDir(w), nil, zk.FlagPersistent)
	if errors.Is(err, zk.ErrNoNode) {
		if err := createIfMissing(ctx, c, l.Assign(), nil); err != nil {
			return err
		}
		c.Logger().Warn("assign/ was missing; created it again", zap.String("path", l.Assign()))
		_, err = c.Create(ctx, l.AssignDir(w), nil, zk.FlagPersistent)
	}
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", l.AssignDir(w), err)
	}
	return nil
}

// WatchAssignments is worker w's listing of its own assign/<w>, with a child
// watch: new children are tasks to run, vanished ones tasks to stop. A
// directory that is missing (a leader removed it while the worker looked
// lost) is created again first.
func WatchAssignments(ctx context.Context, c *zkclient.Client, l Layout, w string) (DirListing, error) {
	for {
		names, _, ch, err := c.ChildrenW(ctx, l.AssignDir(w))
		switch {
		case errors.Is(err, zk.ErrNoNode):
			if err := CreateAssignDir(ctx, c, l, w); err != nil {
				return DirListing{}, err
			}
		case err != nil:
			return DirListing{}, err
		default:
			return dirListing(w, names, ch), nil
		}
	}
}
