package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Defaults and bounds of Config.
const (
	DefaultRoot         = "/paddock"
	DefaultConcurrency  = 4
	MaxConcurrency      = 10000
	DefaultDrainTimeout = 10 * time.Second
	// NoDrain, as Config.DrainTimeout, abandons running tasks at once on
	// shutdown (the master gives them to other workers).
	NoDrain time.Duration = -1
)

// Config says where a worker connects and how it runs. ID and a
// connection (Client, or ZK.Servers) are required; the rest has defaults.
type Config struct {
	// Client is a connection the worker shares with its program: Run
	// leaves it open. When nil, Run dials ZK and closes that connection
	// when it returns, which ends the worker's session at once, so the
	// master reassigns whatever it abandoned without waiting for the
	// session to expire. ZK is ignored when Client is set.
	Client *zkclient.Client
	ZK     zkclient.Config
	// Root is the znode under which Paddock keeps its tree, the one the
	// masters and clients use ("": DefaultRoot; "/" is the seed's bare
	// layout). Run creates what is missing of it.
	Root string
	// ID names the worker: its registration <root>/workers/<ID> and its
	// task directory <root>/assign/<ID>. It must be unique among live
	// workers (a second one with the same ID waits for the first's
	// registration to go) and a valid znode name. A worker restarted with
	// the same ID takes over what was assigned to its previous run.
	ID string
	// Concurrency is how many tasks run at once (0: DefaultConcurrency).
	// The live setting worker.concurrency overrides it until unset.
	Concurrency int
	// DrainTimeout is how long running tasks may finish on shutdown before
	// they are abandoned to other workers (0: DefaultDrainTimeout; NoDrain:
	// none).
	DrainTimeout time.Duration
	// Version is advertised in the registration (client status shows it).
	Version string
	// Logger receives the worker's log (nil: none). Every task start and
	// finish is logged at info level.
	Logger *zap.Logger

	// Roles makes the worker also apply for roles (long-lived jobs added
	// with "client role add", kept under <root>/roles) as ID and, while it
	// holds one, run the role's data, a JSON argv array, with the handler
	// of kind "exec" (Exec), restarting it when it exits; it needs that
	// handler. A role without data is held without a command.
	Roles bool

	// Metrics receives what the worker counts and whether it is ready
	// (nil: counted, not exported).
	Metrics *Metrics
	// Loop is told when the worker's main loop waits for events (nil: no
	// one is).
	Loop LoopHook
}

// LoopHook is told when a worker's main loop blocks waiting for events
// (Waiting) and when it wakes up to handle them (Working), so that a
// liveness check can tell a loop stuck in its work from one with nothing
// to do; the stock worker's /livez is such a check.
type LoopHook interface {
	Waiting()
	Working()
}

type noLoop struct{}

func (noLoop) Waiting() {}
func (noLoop) Working() {}

// Worker runs the tasks the master assigns to it with the handlers
// registered for their kinds. Register handlers and middleware (Handle,
// Use), then call Run once.
type Worker struct {
	cfg   Config
	l     coord.Layout
	retry retryDefaults

	mu       sync.Mutex
	handlers map[string]HandlerFunc
	mws      []Middleware
	started  bool
}

// New checks cfg and returns a worker with no handlers yet.
func New(cfg Config) (*Worker, error) {
	if cfg.ID == "" {
		return nil, errors.New("worker: Config.ID is required")
	}
	if cfg.Client == nil && len(cfg.ZK.Servers) == 0 {
		return nil, errors.New("worker: Config needs a Client or ZK.Servers")
	}
	if cfg.Concurrency < 0 || cfg.Concurrency > MaxConcurrency {
		return nil, fmt.Errorf("worker: Concurrency %d: want 1 to %d, or 0 for the default", cfg.Concurrency, MaxConcurrency)
	}
	l, err := coord.NewLayout(cmp.Or(cfg.Root, DefaultRoot))
	if err != nil {
		return nil, fmt.Errorf("worker: Root: %w", err)
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.DrainTimeout = cmp.Or(cfg.DrainTimeout, DefaultDrainTimeout)
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Loop == nil {
		cfg.Loop = noLoop{}
	}
	return &Worker{cfg: cfg, l: l, handlers: make(map[string]HandlerFunc)}, nil
}

// Handle registers h for the tasks of kind. The worker advertises the
// kinds it has handlers for, and the master gives it tasks of those kinds
// only. kind is 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter.
// Handle panics on an invalid kind, a nil h, a kind registered twice, or a
// call after Run: all programming errors.
func (w *Worker) Handle(kind string, h HandlerFunc) {
	if !task.ValidKind(kind) {
		panic(fmt.Sprintf("worker: invalid kind name %q: want 1 to 32 of a-z, 0-9, _ and -, starting with a letter", kind))
	}
	if h == nil {
		panic(fmt.Sprintf("worker: nil handler for kind %q", kind))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mustNotHaveStarted("Handle")
	if _, ok := w.handlers[kind]; ok {
		panic(fmt.Sprintf("worker: kind %q registered twice", kind))
	}
	w.handlers[kind] = h
}

// Use adds middleware around the handlers of every kind, including those
// registered later. The first added is the outermost: Use(a, b) runs a,
// which calls b, which calls the handler. It panics after Run.
func (w *Worker) Use(mw ...Middleware) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mustNotHaveStarted("Use")
	w.mws = append(w.mws, mw...)
}

func (w *Worker) mustNotHaveStarted(what string) {
	if w.started {
		panic("worker: " + what + " after Run: the kinds a worker runs are fixed when it registers")
	}
}

// Kinds lists, sorted, the kinds the worker has handlers for: what it
// advertises.
func (w *Worker) Kinds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.handlers))
}

// Run registers the worker and runs what the master assigns to it until
// ctx is done, then drains: it tells the master it takes no more work,
// lets running tasks finish for up to DrainTimeout, cancels the rest
// (their handlers' ctx ends with ErrShutdown) and returns once every
// handler has returned; the tasks it abandoned stay assigned to it until
// its session ends, then go to other workers. It follows ZooKeeper
// sessions itself: after an expiry it registers again and carries on with
// what is still assigned to it. It returns nil once ctx is done, or an
// error that stopped it (the connection closed, ZooKeeper unreachable at
// the start, a tree it cannot write). Run may be called once.
func (w *Worker) Run(ctx context.Context) error {
	handlers, exec, err := w.start()
	if err != nil {
		return err
	}
	c := w.cfg.Client
	if c == nil {
		zc := w.cfg.ZK
		if zc.Logger == nil {
			zc.Logger = w.cfg.Logger
		}
		if c, err = zkclient.Dial(ctx, zc); err != nil {
			return ignoreCancel(ctx, err)
		}
		defer c.Close()
	}
	if err := coord.EnsureLayout(ctx, c, w.l); err != nil {
		return ignoreCancel(ctx, fmt.Errorf("prepare the tree under %s: %w", w.l.Root(), err))
	}
	return newServer(w, c, handlers, exec).run(ctx)
}

// start fixes the handlers, each wrapped in the middleware, and returns
// them with the bare exec handler, which roles run (a role is not a task).
func (w *Worker) start() (map[string]HandlerFunc, HandlerFunc, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return nil, nil, errors.New("worker: Run called twice")
	}
	w.started = true
	exec := w.handlers["exec"]
	if w.cfg.Roles && exec == nil {
		return nil, nil, errors.New(`worker: Roles needs a handler for kind "exec" (Exec): a role's data is a command`)
	}
	wrapped := make(map[string]HandlerFunc, len(w.handlers))
	for kind, h := range w.handlers {
		for _, mw := range slices.Backward(w.mws) {
			h = mw(h)
		}
		wrapped[kind] = h
	}
	return wrapped, exec, nil
}

// unknownKind is the error of a task whose kind this worker has no handler
// for: the master gives a kind no worker advertises to any worker, which
// fails it. Another worker may run it: it is not final.
func unknownKind(kind string, kinds []string) error {
	runs := strings.Join(kinds, ", ")
	if runs == "" {
		runs = "nothing"
	}
	return fmt.Errorf("unknown task kind %q; this worker runs: %s", kind, runs)
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
