// Package coord is Paddock's protocol on ZooKeeper, mapping one-to-one to
// docs/PROTOCOL.md: the znode layout (layout.go), the records (records.go),
// settings and status, fencing (fence.go), the client's operations on the
// queue (queue.go, its idempotency keys in keys.go; tasks.go, inspect.go,
// requeue.go, purge.go), the
// leader's writes (assign.go, stray.go), the listings the leader and the
// workers watch (watch.go), a worker's reads and registration (worker.go),
// and the election binary's directory (election.go). Every read and write
// of Paddock's tree goes through here: master, worker and the binaries
// never speak to go-zookeeper themselves, so the protocol can be checked
// against one package. It stands on the generic client (package zkclient)
// and recipes (package recipe), which know nothing of tasks.
package coord

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// Layout builds every path Paddock uses under its root. docs/PROTOCOL.md
// describes the same tree; change both together.
//
//	<root>/master                 election candidates (ephemeral sequential)
//	<root>/epoch                  leader epoch, bumped by each new leader
//	<root>/workers/<w>            worker registrations (ephemeral)
//	<root>/assign/<w>/<id>        tasks assigned to worker w
//	<root>/tasks/<shard>/<id>     submitted, unfinished tasks
//	<root>/data/<shard>/<id>      payloads
//	<root>/results/<shard>/<id>   results, until collected or expired
//	<root>/dead/<shard>/<id>      dead letters
//	<root>/keys/<hh>/<name>       idempotency keys, until the retention passes
//	<root>/config[/<process>]     live settings (distributed config)
//	<root>/roles/bag/...          role match: the roles (a distributed bag)
//	<root>/roles/applicants/...   role match: applicants (a leader queue)
//	<root>/roles/holders/<name>   role match: a role's holder (ephemeral)
//	<root>/election               the election binary's candidates, by default
type Layout struct{ root string }

// NewLayout validates root ("/" gives the seed's bare layout).
func NewLayout(root string) (Layout, error) {
	if !strings.HasPrefix(root, "/") {
		return Layout{}, fmt.Errorf("root %q must start with /", root)
	}
	clean := path.Clean(root)
	if clean != root && clean+"/" != root {
		return Layout{}, fmt.Errorf("root %q is not a clean path (want %q)", root, clean)
	}
	for _, part := range strings.Split(strings.Trim(clean, "/"), "/") {
		if part == "zookeeper" && clean == "/zookeeper" {
			return Layout{}, errors.New("root /zookeeper is reserved by ZooKeeper")
		}
	}
	return Layout{root: clean}, nil
}

// MustLayout is NewLayout for roots known to be valid.
func MustLayout(root string) Layout {
	l, err := NewLayout(root)
	if err != nil {
		panic(err)
	}
	return l
}

func (l Layout) join(parts ...string) string {
	return path.Join(append([]string{l.root}, parts...)...)
}

// Root is the layout's root path.
func (l Layout) Root() string { return l.root }

// Master is the election's parent.
func (l Layout) Master() string { return l.join("master") }

// Epoch is the leader-epoch znode.
func (l Layout) Epoch() string { return l.join("epoch") }

// Workers is the parent of worker registrations.
func (l Layout) Workers() string { return l.join("workers") }

// Worker is worker w's registration.
func (l Layout) Worker(w string) string { return l.join("workers", w) }

// Assign is the parent of the per-worker assignment directories.
func (l Layout) Assign() string { return l.join("assign") }

// AssignDir holds worker w's assignments.
func (l Layout) AssignDir(w string) string { return l.join("assign", w) }

// Assignment is task id's assignment to worker w.
func (l Layout) Assignment(w string, id task.ID) string { return l.join("assign", w, string(id)) }

// Tasks is the parent of the task shards.
func (l Layout) Tasks() string { return l.join("tasks") }

// TaskShard holds the submitted, unfinished tasks of one shard.
func (l Layout) TaskShard(shard string) string { return l.join("tasks", shard) }

// Task is a submitted, unfinished task.
func (l Layout) Task(id task.ID) string { return l.join("tasks", id.Shard(), string(id)) }

// Data is the parent of the payload shards.
func (l Layout) Data() string { return l.join("data") }

// Payload is a task's payload.
func (l Layout) Payload(id task.ID) string { return l.join("data", id.Shard(), string(id)) }

// Results is the parent of the result shards.
func (l Layout) Results() string { return l.join("results") }

// ResultShard holds the results of one shard.
func (l Layout) ResultShard(shard string) string { return l.join("results", shard) }

// Result is a finished task's result.
func (l Layout) Result(id task.ID) string { return l.join("results", id.Shard(), string(id)) }

// Dead is the parent of the dead-letter shards.
func (l Layout) Dead() string { return l.join("dead") }

// DeadShard holds the dead letters of one shard.
func (l Layout) DeadShard(shard string) string { return l.join("dead", shard) }

// DeadLetter is a dead-lettered task's record.
func (l Layout) DeadLetter(id task.ID) string { return l.join("dead", id.Shard(), string(id)) }

// Keys is the parent of the idempotency-key shards.
func (l Layout) Keys() string { return l.join("keys") }

// KeyShard holds the idempotency keys whose names start with hh.
func (l Layout) KeyShard(hh string) string { return l.join("keys", hh) }

// Key is the znode of the idempotency key named name (see KeyName): the
// shard is the name's first two digits, not its last like a task's, since
// a SHA-256 spreads evenly at either end and the prefix reads better.
func (l Layout) Key(name string) string { return l.join("keys", name[:2], name) }

// Config holds the service-wide settings; its children, one process's.
func (l Layout) Config() string { return l.join("config") }

// Election is where the election binary's candidates queue by default (its
// --path): the masters' election, as a demonstration apart from them.
func (l Layout) Election() string { return l.join("election") }

// Roles is the role match's directory (see RoleMatch): the roles, the
// applicants waiting for one, and the holders.
func (l Layout) Roles() string { return l.join("roles") }

// sharded are the parents whose children are the 256 shards.
func (l Layout) sharded() []string {
	return []string{l.Tasks(), l.Data(), l.Results(), l.Dead(), l.Keys()}
}

// EnsureLayout creates whatever persistent znode of the layout is missing.
// It is idempotent and safe to run from several processes at once.
func EnsureLayout(ctx context.Context, c *zkclient.Client, l Layout) error {
	var parents []string
	for p := l.root; p != "/"; p = path.Dir(p) {
		parents = append([]string{p}, parents...)
	}
	top := append(parents, l.Master(), l.Workers(), l.Assign(), l.Config())
	top = append(top, l.sharded()...)
	for _, p := range top {
		if err := createIfMissing(ctx, c, p, nil); err != nil {
			return err
		}
	}
	if err := createIfMissing(ctx, c, l.Epoch(), mustEncodeEpoch(Epoch{})); err != nil {
		return err
	}
	if err := ensurePartitions(ctx, c, l); err != nil {
		return err
	}
	for _, parent := range l.sharded() {
		if err := ensureShards(ctx, c, parent); err != nil {
			return err
		}
	}
	return nil
}

// Preparing the tree is the first thing a master or worker does once
// connected; a connection lost meanwhile (the ensemble electing a leader)
// must not make it give up. A create or a multi whose reply was lost may
// have been applied: creating again answers NodeExists, and the shards are
// listed again before each multi.

func createIfMissing(ctx context.Context, c *zkclient.Client, p string, data []byte) error {
	for {
		_, err := c.Create(ctx, p, data, zk.FlagPersistent)
		if err == nil || errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		if err := c.Retry(ctx, err); err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
}

func ensureShards(ctx context.Context, c *zkclient.Client, parent string) error {
	for attempt := 0; ; attempt++ {
		have, _, err := c.Children(ctx, parent)
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return fmt.Errorf("list %s: %w", parent, err)
			}
			attempt--
			continue
		}
		present := make(map[string]bool, len(have))
		for _, h := range have {
			present[h] = true
		}
		var ops []zkclient.Op
		for _, s := range task.Shards() {
			if !present[s] {
				ops = append(ops, zkclient.CreateOp(parent+"/"+s, nil, zk.FlagPersistent))
			}
		}
		if len(ops) == 0 {
			return nil
		}
		_, err = c.Multi(ctx, ops...)
		if err == nil {
			return nil
		}
		werr := c.Retry(ctx, err)
		switch {
		case werr == nil:
			attempt-- // the outcome is unknown: list again
		case errors.Is(werr, zk.ErrNodeExists) && attempt < 5:
			// Another process is creating them too: list again.
		default:
			return fmt.Errorf("create shards of %s: %w", parent, werr)
		}
	}
}
