package master

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// controller is the leader's state machine, one per term. One goroutine
// owns all its state; watch callbacks only mark what changed and wake it,
// so events that arrive while it works coalesce into one re-read (Kafka's
// controller event queue, reduced to dirty flags; see events.go).
//
// Its concerns, one file each: this loop; the events that drive it
// (events.go); the worker pool (pool.go); taking back lost workers' tasks
// (reclaim.go); learning of tasks (backlog.go); assigning them
// (assign.go); the writes all of them send (write.go); expiring results
// (sweep.go).
type controller struct {
	c         *zkclient.Client
	l         coord.Layout
	ld        *coord.Leader // every write, fenced
	cfg       Config
	retention *liveRetention
	log       *zap.Logger
	sess      *zkclient.Session
	m         *Metrics
	loop      *ops.Loop

	// share is the part of the work this term leads: its place among the
	// leaders sets its part of each worker's slots (see worker.free); its
	// partitions are the fence's (owns).
	share share
	fence coord.Fence

	// bg is the term's goroutines (the sweep, the waits on watches): each
	// stops when lead's context is done, and lead waits for them, so that
	// nothing of a term outlives it.
	bg sync.WaitGroup

	mu    sync.Mutex // guards dirty
	dirty dirtySet
	wake  chan struct{}

	workers  map[string]*worker
	assigned map[task.ID]string // task -> worker whose assign/ dir holds it
	pending  *pending
	parked   *parked // read, and not to be looked at again until due or until a worker runs its kind
	// seenRunning are assigned tasks that a shard listing showed: should
	// the assignment vanish, the task may be pending again (a worker's
	// "retry" recreates it) and that listing skipped it, so its shard is
	// listed again (see applyDir).
	seenRunning map[task.ID]struct{}
	published   map[string]int               // the waiting kinds last written (publishWaiting); nil: none this term
	specs       map[task.ID]coord.TaskRecord // read for pending tasks, reused across rounds
	// strays are the znodes under tasks/ that are not tasks, until they are
	// dead-lettered or removed (backlog.go). True: its dead letter was
	// refused; remove it instead.
	strays   map[coord.Stray]bool
	needMore bool            // free slots went unused: list dirty shards
	turn     int             // rotates ties between equally loaded workers
	rounds   roundLog        // reports the rounds: each at debug level, one a second at info
	ignored  map[string]bool // what was warned about once, not to repeat it
	listed   bool            // every task shard has been listed once
}

func lead(ctx context.Context, c *zkclient.Client, l coord.Layout, cfg Config, retention *liveRetention, cand *recipe.Candidate, fence coord.Fence, sh share) error {
	ctx, cancel := context.WithCancel(ctx)
	ct := newController(c, l, cfg, retention, cand.Session(), fence, sh)
	defer ct.bg.Wait()
	defer cancel()
	defer cfg.Loop.Working() // the caller goes on with the loop's work
	gone := cand.Gone(ctx)
	// Workers register through discovery; its watch reports every change
	// of the pool (joined, left, drained, resized) with the whole pool.
	if err := coord.NewPool(c, l).Watch(ctx, func(entries []recipe.Entry) {
		ct.mark(func(d *dirtySet) { d.pool, d.fresh = entries, true })
	}); err != nil {
		return err
	}
	sweepErr := make(chan error, 1)
	if ct.owns(0) {
		// One sweeper: the leader of partition 0 expires every partition's
		// results (they are found by listing, not by partition), so that
		// several leaders do not race to remove the same znodes.
		ct.bg.Go(func() { sweepErr <- ct.sweepLoop(ctx) })
	}
	if err := ct.bootstrap(ctx); err != nil {
		return err
	}
	return ct.run(ctx, cand, gone, sweepErr)
}

func newController(c *zkclient.Client, l coord.Layout, cfg Config, retention *liveRetention, sess *zkclient.Session, fence coord.Fence, sh share) *controller {
	ct := &controller{
		share: sh, fence: fence,
		c: c, l: l, ld: coord.NewLeader(c, l, fence, cfg.ID), cfg: cfg, retention: retention,
		log: cfg.Logger.With(zap.Int64("epoch", fence.Epoch)), sess: sess, m: cfg.Metrics, loop: cfg.Loop,
		wake:        make(chan struct{}, 1),
		workers:     make(map[string]*worker),
		assigned:    make(map[task.ID]string),
		pending:     newPending(),
		parked:      newParked(),
		seenRunning: make(map[task.ID]struct{}),
		specs:       make(map[task.ID]coord.TaskRecord),
		strays:      make(map[coord.Stray]bool),
		ignored:     make(map[string]bool),
		dirty:       dirtySet{dirs: map[string]bool{}, shards: map[string]time.Time{}},
	}
	for _, s := range task.Shards() {
		if ct.owns(coord.PartitionOfShard(s)) {
			ct.dirty.shards[s] = time.Time{} // listed at once (see refill), then when there is room for work
		}
	}
	return ct
}

// owns reports whether this term leads partition p.
func (ct *controller) owns(p int) bool { return ct.fence.Owns(p) }

// run turns the loop until the term ends: deposed, the session lost, ctx
// done, or an error no retry mends.
func (ct *controller) run(ctx context.Context, cand *recipe.Candidate, gone <-chan struct{}, sweepErr <-chan error) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		progressed, err := ct.step(ctx)
		ct.publish()
		switch {
		case err == nil:
		case errors.Is(err, coord.ErrDeposed), errors.Is(err, recipe.ErrSessionLost), ctx.Err() != nil:
			return err
		case zkclient.IsConnectionError(err):
			// The step put back what it took; wait for the link.
			ct.log.Info("step interrupted by the connection; retrying once reconnected", zap.Error(err))
			if err := ct.waitConnected(ctx); err != nil {
				return err
			}
			if !ct.sess.Alive() {
				return recipe.ErrSessionLost
			}
			continue
		default:
			return err
		}
		if progressed && ct.busy() {
			continue
		}
		ct.loop.Waiting()
		select {
		case <-ct.wake:
		case <-ct.armDue(timer):
		case <-gone:
			if !ct.sess.Alive() {
				return recipe.ErrSessionLost
			}
			return fmt.Errorf("%w: candidacy %s deleted", coord.ErrDeposed, cand.Key())
		case <-ct.sess.Done():
			return recipe.ErrSessionLost
		case err := <-sweepErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		ct.loop.Working()
	}
}

// step does one round: re-read what changed, take back lost workers' tasks,
// learn of new tasks if there is room for them (and clear what is not a
// task), and assign one batch. It reports whether it got anything done, so
// that work the controller cannot place now (no worker runs its kind) does
// not make it spin.
func (ct *controller) step(ctx context.Context) (bool, error) {
	d := ct.take()
	if err := ct.refresh(ctx, d); err != nil {
		if zkclient.IsConnectionError(err) {
			ct.restore(d)
		}
		return false, err
	}
	if err := ct.reclaim(ctx); err != nil {
		return false, err
	}
	added, err := ct.refill(ctx)
	if err != nil {
		return false, err
	}
	cleared, err := ct.clearStrays(ctx)
	if err != nil {
		return false, err
	}
	done, err := ct.schedule(ctx)
	if err != nil {
		return false, err
	}
	return added+cleared+done > 0, ct.publishWaiting(ctx)
}

// publishWaiting writes the kinds that tasks wait for (coord.Waiting) when
// they changed since the last write of this term: `client status` shows
// them (each of several leaders writes its own record, for its
// partitions). A term that never parks a task for its kind writes nothing.
func (ct *controller) publishWaiting(ctx context.Context) error {
	if len(ct.parked.byKind) == 0 && len(ct.published) == 0 {
		// None waiting, none written: the usual case costs no counting.
		return nil
	}
	_, waiting := ct.parked.counts()
	if maps.Equal(waiting, ct.published) {
		return nil
	}
	if err := ct.ld.PublishWaiting(ctx, coord.Waiting{Kinds: waiting, At: time.Now().UTC()}); err != nil {
		return err
	}
	ct.published = waiting
	return nil
}

// armDue sets timer for the earliest parked task and returns its channel;
// nil (which blocks for ever in a select) when no parked task is timed.
// One timer for all of them: a backlog of scheduled tasks costs the loop
// no wake-up until the first is due.
func (ct *controller) armDue(timer *time.Timer) <-chan time.Time {
	at, ok := ct.parked.next()
	if !ok {
		timer.Stop()
		return nil
	}
	timer.Reset(time.Until(at))
	return timer.C
}

// waitConnected waits for the connection to come back, as a wait for
// events (the loop is not stuck meanwhile).
func (ct *controller) waitConnected(ctx context.Context) error {
	ct.loop.Waiting()
	defer ct.loop.Working()
	return ct.c.WaitConnected(ctx)
}

// publish gives the metrics the leader's view as of this turn. It costs no
// request: every number is in the controller's state. Until every shard
// has been listed once the backlog is unknown, and nothing is published.
func (ct *controller) publish() {
	if !ct.listed {
		return
	}
	v := leaderView{pending: ct.pending.Len(), running: len(ct.assigned)}
	v.scheduled, v.waiting = ct.parked.counts()
	for _, w := range ct.workers {
		if w.registered {
			v.workers++
		}
	}
	if id, ok := ct.pending.Oldest(); ok {
		v.oldest = id.SubmittedAt()
	}
	ct.mu.Lock()
	v.unlisted = len(ct.dirty.shards)
	for _, fired := range ct.dirty.shards {
		if !fired.IsZero() && (v.oldest.IsZero() || fired.Before(v.oldest)) {
			v.oldest = fired
		}
	}
	ct.mu.Unlock()
	ct.m.publish(v)
}

// busy reports work that needs no new event: tasks waiting and free slots.
func (ct *controller) busy() bool {
	if ct.pending.Len() == 0 && !(ct.needMore && ct.anyDirtyShard()) {
		return false
	}
	for _, w := range ct.workers {
		if w.free(ct.share) > 0 {
			return ct.pending.Len() > 0 || ct.needMore
		}
	}
	return false
}
