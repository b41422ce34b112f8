package paddock

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// DefaultRoot is where Paddock keeps its tree unless Config.Root says
// otherwise; masters and workers use the same default.
const DefaultRoot = "/paddock"

// Config says how to reach a Paddock deployment.
type Config struct {
	// Servers are the ZooKeeper servers, host:port each.
	Servers []string
	// Root is the znode under which the deployment keeps its tree (its
	// masters' and workers' --root); "": DefaultRoot.
	Root string
	// SessionTimeout is asked of ZooKeeper (which clamps it); 0: 10 s. A
	// client holds no ephemeral state, so it matters little.
	SessionTimeout time.Duration
	// ConnectTimeout bounds Dial's wait for a first session; 0: 5 s.
	ConnectTimeout time.Duration
	// Auth is "user:password" for ZooKeeper digest auth, when the tree
	// was created with it; "": none.
	Auth string
	// TLS, when set, connects to the servers' secureClientPort.
	TLS *tls.Config
	// Logger receives the connection's events; nil: none.
	Logger *zap.Logger
	// MaxPayload bounds the payloads Submit accepts, in bytes; 0:
	// DefaultMaxPayload, at most MaxPayloadLimit.
	MaxPayload int
	// Name is recorded in every task this client submits and in its
	// cancellations, for operators; "": host/pid.
	Name string
}

// Client submits tasks to a Paddock deployment, waits for their results,
// and lists, inspects and repairs its tasks. It is safe for concurrent
// use; one per process is enough (one ZooKeeper connection carries many
// requests in flight).
type Client struct {
	zk   *zkclient.Client
	own  bool // Close closes zk
	l    coord.Layout
	q    *coord.Queue
	name string
	ids  task.IDSource // this client's ids: runs of one shard (see task.ShardRun)

	closed atomic.Bool
}

// Dial connects to ZooKeeper and returns a Client of the deployment under
// cfg.Root. It fails with ErrUnreachable when no session is established
// within cfg.ConnectTimeout. It does not check that the tree exists: a
// client may start before the first master does (Submit then reports
// ErrNotInitialized).
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if _, err := cfg.check(); err != nil {
		return nil, err
	}
	zc, err := zkclient.Dial(ctx, zkclient.Config{
		Servers:        cfg.Servers,
		SessionTimeout: cfg.SessionTimeout,
		ConnectTimeout: cfg.ConnectTimeout,
		Auth:           cfg.Auth,
		TLS:            cfg.TLS,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	c, err := New(zc, cfg)
	if err != nil {
		zc.Close()
		return nil, err
	}
	c.own = true
	return c, nil
}

// New returns a Client over a connection the caller already has (a
// program that also uses zkclient or the recipes for its own purposes).
// Of cfg it uses Root, MaxPayload and Name; the connection's settings are
// zc's. Close leaves zc open: it is the caller's.
func New(zc *zkclient.Client, cfg Config) (*Client, error) {
	l, err := cfg.check()
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		h, _ := os.Hostname()
		name = fmt.Sprintf("%s/%d", h, os.Getpid())
	}
	// Group commit: goroutines submitting or collecting at once share
	// multis (and ZooKeeper requests); a lone call goes at once.
	q := coord.NewQueue(zc, l, cfg.MaxPayload).WithBatcher(zkclient.NewBatcher(zc, 64))
	return &Client{zk: zc, l: l, q: q, name: name}, nil
}

// check validates what New uses of cfg, and returns the tree's layout.
func (cfg Config) check() (coord.Layout, error) {
	root := cfg.Root
	if root == "" {
		root = DefaultRoot
	}
	l, err := coord.NewLayout(root)
	switch {
	case err != nil:
		return l, fmt.Errorf("paddock: Root: %w", err)
	case cfg.MaxPayload < 0 || cfg.MaxPayload > MaxPayloadLimit:
		return l, fmt.Errorf("paddock: MaxPayload %d out of [0,%d]", cfg.MaxPayload, MaxPayloadLimit)
	}
	return l, nil
}

// Close ends the client: its session ends at once (when Dial made it),
// and calls made afterwards fail with ErrClosed. Tasks it submitted keep
// running; any client can collect their results. Closing twice is
// harmless.
func (c *Client) Close() error {
	if c.closed.Swap(true) || !c.own {
		return nil
	}
	c.zk.Close()
	return nil
}

// Root is the znode under which the deployment keeps its tree.
func (c *Client) Root() string { return c.l.Root() }

// MaxPayload is the largest payload Submit accepts.
func (c *Client) MaxPayload() int { return c.q.MaxPayload() }

// use is the check every call starts with; ids, when given, must be task
// ids (a malformed one would name znodes outside the task tree's shards).
func (c *Client) use(ids ...ID) error {
	if c.closed.Load() {
		return ErrClosed
	}
	for _, id := range ids {
		if _, err := ParseID(string(id)); err != nil {
			return err
		}
	}
	return nil
}

// Init creates the deployment's tree under Root, if it is not there yet:
// what masters and workers do when they start. A program that submits
// before any of them has run calls it once; calling it again changes
// nothing.
func (c *Client) Init(ctx context.Context) error {
	if err := c.use(); err != nil {
		return err
	}
	return coord.EnsureLayout(ctx, c.zk, c.l)
}

// Wait blocks until task id has a result and returns it, driven by a
// ZooKeeper watch (no polling). It does not collect the result. A task
// that did not succeed is not an error: look at Result.Status. Errors:
// ErrUnknownTask (never submitted, or its result already collected),
// the context's, ErrClosed. Bound it with ctx: a task whose kind no
// worker runs waits (unless it has a RoutingTimeout).
func (c *Client) Wait(ctx context.Context, id ID) (Result, error) {
	if err := c.use(id); err != nil {
		return Result{}, err
	}
	r, err := c.q.Wait(ctx, task.ID(id))
	return resultFrom(r), err
}

// Result reads task id's result now: ErrNotFinished when it has none yet,
// ErrUnknownTask when nothing of the task is left.
func (c *Client) Result(ctx context.Context, id ID) (Result, error) {
	if err := c.use(id); err != nil {
		return Result{}, err
	}
	r, err := c.q.Result(ctx, task.ID(id))
	return resultFrom(r), err
}

// Collect removes a result (and the task's payload) from ZooKeeper once
// the caller has it: results are kept until collected or expired (after
// 24 h by default), so a program that reads many should collect them.
// A dead result goes alone: its dead letter keeps the payload, so that
// Requeue can run the task again. Collecting twice is harmless.
func (c *Client) Collect(ctx context.Context, r Result) error {
	if err := c.use(r.ID); err != nil {
		return err
	}
	return c.q.Collect(ctx, task.ID(r.ID), task.Status(r.Status))
}

// Cancel ends an unfinished task with status Cancelled and returns that
// result: a pending task will not run, a running one is stopped by its
// worker. ErrFinished (with the task's result) when it had already ended;
// ErrUnknownTask when nothing of it is left.
func (c *Client) Cancel(ctx context.Context, id ID) (Result, error) {
	if err := c.use(id); err != nil {
		return Result{}, err
	}
	r, err := c.q.Cancel(ctx, task.ID(id), "client "+c.name)
	return resultFrom(r), err
}

// Status reads who leads, the backups, the workers and their load, the
// task counts, the newest dead letters and the roles. Its cost does not
// grow with the number of tasks.
func (c *Client) Status(ctx context.Context) (ClusterStatus, error) {
	if err := c.use(); err != nil {
		return ClusterStatus{}, err
	}
	st, err := coord.ReadStatus(ctx, c.zk, c.l)
	return statusFrom(st), err
}

// List lists the tasks in one state, oldest first, reading only the
// records it returns (a short listing of a huge backlog stays fast).
func (c *Client) List(ctx context.Context, opts ListOptions) (Listing, error) {
	if err := c.use(); err != nil {
		return Listing{}, err
	}
	st := opts.State
	if st == "" {
		st = StatePending
	}
	if _, err := coord.ParseState(string(st)); err != nil {
		return Listing{}, fmt.Errorf("paddock: List: %w", err)
	}
	ls, err := coord.List(ctx, c.zk, c.l, coord.ListOptions{State: coord.State(st), Kind: opts.Kind,
		Reason: opts.Reason, Limit: opts.Limit, MaxScan: opts.MaxScan, Conns: opts.Conns})
	return listingFrom(ls), err
}

// Inspect reads everything ZooKeeper holds about task id, wherever it is
// in its life, with up to preview bytes of its payload as text. It only
// reads. ErrUnknownTask when nothing of the task is left.
func (c *Client) Inspect(ctx context.Context, id ID, preview int) (Inspection, error) {
	if err := c.use(id); err != nil {
		return Inspection{}, err
	}
	in, err := coord.Inspect(ctx, c.zk, c.l, task.ID(id), max(preview, 0))
	return inspectionFrom(in), err
}

// Requeue puts dead letter id back to pending, as it was submitted, with
// its attempts reset, all or nothing. ErrNotDead (the message names its
// state) when it is not a dead letter; ErrNotRequeueable or
// ErrPayloadGone when it cannot run again.
func (c *Client) Requeue(ctx context.Context, id ID) error {
	if err := c.use(id); err != nil {
		return err
	}
	return c.q.Requeue(ctx, task.ID(id))
}

// RequeueDead requeues every dead letter with that reason (all of them
// when reason is ""), in batches; those that cannot be requeued are named
// in Requeued.Failed and left. progress, when not nil, is told the count
// so far after each batch.
func (c *Client) RequeueDead(ctx context.Context, reason string, progress func(done int)) (Requeued, error) {
	if err := c.use(); err != nil {
		return Requeued{}, err
	}
	r, err := c.q.RequeueDead(ctx, reason, progress)
	return requeuedFrom(r), err
}

// FindPurgeable finds the results and dead letters created before
// opts.Before, oldest first, with what removing each takes along: what
// the master's retention would remove later. It only reads. Dead letters
// are looked at first, and a dead result that goes with its dead letter
// is not listed again as a result.
func (c *Client) FindPurgeable(ctx context.Context, opts PurgeOptions) ([]Purgeable, error) {
	if err := c.use(); err != nil {
		return nil, err
	}
	var states []coord.State
	if opts.Dead {
		states = append(states, coord.StateDead)
	}
	if opts.Finished {
		states = append(states, coord.StateFinished)
	}
	found := []Purgeable{}
	along := map[task.ID]bool{} // dead results that go with their dead letters
	for _, st := range states {
		olds, err := coord.FindOld(ctx, c.zk, c.l, st, opts.Before)
		if err != nil {
			return nil, err
		}
		for _, o := range olds {
			if o.State == coord.StateDead && o.Result {
				along[o.ID] = true
			}
			if o.State == coord.StateFinished && along[o.ID] {
				continue
			}
			found = append(found, purgeableFrom(o))
		}
	}
	return found, nil
}

// Purge removes what FindPurgeable found, in batched multis. One that
// changed since (collected, requeued) is looked at again: gone or newer,
// it is left alone.
func (c *Client) Purge(ctx context.Context, ps []Purgeable) (Purged, error) {
	if err := c.use(); err != nil {
		return Purged{}, err
	}
	olds := make([]coord.Old, len(ps))
	for i, p := range ps {
		if err := c.use(p.ID); err != nil {
			return Purged{}, err
		}
		olds[i] = p.old()
	}
	done, err := coord.RemoveOld(ctx, c.zk, c.l, olds, coord.DefaultRemoveBatch,
		func(items [][]zkclient.Op) (map[int]*zkclient.MultiError, error) { return c.zk.Batch(ctx, items) })
	return Purged(done), err
}
