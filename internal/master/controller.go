package master

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// controller is the leader's state machine. One goroutine owns all state;
// watch callbacks only mark what changed and wake it, so events that arrive
// while it works coalesce into one re-read (Kafka's controller event queue,
// reduced to dirty flags).
type controller struct {
	c         *zkclient.Client
	q         *coord.Queue
	l         coord.Layout
	cfg       Config
	retention *liveRetention
	log       *zap.Logger
	fence     coord.Fence
	sess      *zkclient.Session
	m         *Metrics
	loop      *ops.Loop

	mu    sync.Mutex // guards dirty
	dirty dirtySet
	wake  chan struct{}

	workers  map[string]*worker
	assigned map[task.ID]string // task -> worker whose assign/ dir holds it
	pending  *pending
	specs    map[task.ID]cachedSpec // read for pending tasks, reused across rounds
	needMore bool                   // free slots went unused: list dirty shards
	turn     int                    // rotates ties between equally loaded workers
	ignored  map[string]bool        // foreign znode names already warned about
	listed   bool                   // every task shard has been listed once
}

type dirtySet struct {
	pool  []recipe.Entry // the workers' registrations, when they changed
	fresh bool           // pool holds news
	dirs  map[string]bool
	// shards maps each task shard to list to when its watch fired first
	// since it was last listed: no task submitted since is older (a child
	// watch fires at the first new child). Zero: never listed.
	shards map[string]time.Time
}

type worker struct {
	name       string
	info       coord.WorkerInfo
	registered bool // its registration exists, as last listed
	infoOK     bool // its registration data parsed
	hasDir     bool // its assign/ dir exists, as last listed
	tasks      map[task.ID]struct{}
}

func (w *worker) free() int {
	if !w.registered || !w.infoOK || !w.hasDir || w.info.Draining {
		return 0
	}
	return max(0, w.info.Concurrency-len(w.tasks))
}

type cachedSpec struct {
	spec    task.Spec
	version int32
	err     error  // malformed
	raw     string // the data as read, kept for a malformed task's dead letter
}

func lead(ctx context.Context, c *zkclient.Client, l coord.Layout, cfg Config, retention *liveRetention, cand *recipe.Candidate, fence coord.Fence) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer cfg.Loop.Working() // the caller goes on with the loop's work
	ct := &controller{
		c: c, q: coord.NewQueue(c, l, 0), l: l, cfg: cfg, retention: retention, log: cfg.Logger.With(zap.Int64("epoch", fence.Epoch)),
		fence: fence, sess: cand.Session(), m: cfg.Metrics, loop: cfg.Loop,
		wake:     make(chan struct{}, 1),
		workers:  make(map[string]*worker),
		assigned: make(map[task.ID]string),
		pending:  newPending(),
		specs:    make(map[task.ID]cachedSpec),
		ignored:  make(map[string]bool),
		dirty:    dirtySet{dirs: map[string]bool{}, shards: map[string]time.Time{}},
	}
	for _, s := range task.Shards() {
		ct.dirty.shards[s] = time.Time{} // listed at once (see refill), then when there is room for work
	}
	gone := cand.Gone(ctx)
	// Workers register through discovery; its watch reports every change
	// of the pool (joined, left, drained, resized) with the whole pool.
	pool := recipe.NewService(c, l.Workers())
	if err := pool.Watch(ctx, func(entries []recipe.Entry) {
		ct.mark(func(d *dirtySet) { d.pool, d.fresh = entries, true })
	}); err != nil {
		return err
	}
	sweepErr := make(chan error, 1)
	go func() { sweepErr <- ct.sweepLoop(ctx) }()

	if err := ct.bootstrap(ctx); err != nil {
		return err
	}
	for {
		progressed, err := ct.step(ctx)
		ct.publish()
		switch {
		case err == nil:
		case errors.Is(err, coord.ErrDeposed), errors.Is(err, recipe.ErrSessionLost), ctx.Err() != nil:
			return err
		case zkclient.IsConnectionError(err):
			// The step's dirty marks were restored; wait for the link.
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
		if w.free() > 0 {
			return ct.pending.Len() > 0 || ct.needMore
		}
	}
	return false
}

func (ct *controller) anyDirtyShard() bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return len(ct.dirty.shards) > 0
}

// mark records a change seen by a watch and wakes the controller.
func (ct *controller) mark(f func(d *dirtySet)) {
	ct.mu.Lock()
	f(&ct.dirty)
	ct.mu.Unlock()
	select {
	case ct.wake <- struct{}{}:
	default:
	}
}

// await marks f once the watch fires (or is dropped with the session).
func (ct *controller) await(ch <-chan zk.Event, f func(d *dirtySet)) {
	go func() {
		<-ch
		ct.mark(f)
	}()
}

func (ct *controller) take() dirtySet {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	d := ct.dirty
	ct.dirty = dirtySet{dirs: map[string]bool{}, shards: d.shards}
	return d
}

// restore puts back marks whose work failed for want of a connection.
func (ct *controller) restore(d dirtySet) {
	ct.mark(func(x *dirtySet) {
		if d.fresh && !x.fresh {
			x.pool, x.fresh = d.pool, true
		}
		for k := range d.dirs {
			x.dirs[k] = true
		}
	})
}

func (ct *controller) worker(name string) *worker {
	w := ct.workers[name]
	if w == nil {
		w = &worker{name: name, tasks: make(map[task.ID]struct{})}
		ct.workers[name] = w
	}
	return w
}

// bootstrap finds the assign/ directories of workers that died while no
// master led, so their tasks are taken back like any lost worker's.
func (ct *controller) bootstrap(ctx context.Context) error {
	for {
		names, _, err := ct.c.Children(ctx, ct.l.Assign())
		if err == nil {
			ct.mark(func(d *dirtySet) {
				for _, n := range names {
					d.dirs[n] = true
				}
			})
			for _, n := range names {
				ct.worker(n)
			}
			ct.log.Info("took over", zap.Int("assign_dirs", len(names)))
			return nil
		}
		if !zkclient.IsConnectionError(err) {
			return err
		}
		if err := ct.waitConnected(ctx); err != nil {
			return err
		}
	}
}

// step does one round: re-read what changed, take back lost workers' tasks,
// learn of new tasks if there is room for them, and assign one batch.
// It reports whether it got anything done, so that work the controller
// cannot place now (no worker runs its kind) does not make it spin.
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
	done, err := ct.schedule(ctx)
	return added+done > 0, err
}

func (ct *controller) refresh(ctx context.Context, d dirtySet) error {
	if d.fresh {
		ct.updatePool(d.pool, d.dirs)
	}
	return ct.listDirs(ctx, keys(d.dirs))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// updatePool applies the workers' registrations as discovery reported them:
// new workers get their directory listed, vanished ones are lost.
func (ct *controller) updatePool(entries []recipe.Entry, dirs map[string]bool) {
	live := make(map[string]bool, len(entries))
	for _, e := range entries {
		n := e.Key
		live[n] = true
		w := ct.worker(n)
		if !w.registered {
			w.registered = true
			dirs[n] = true
		}
		info, err := coord.DecodeWorkerInfo(e.Raw)
		if err != nil {
			if w.infoOK || !ct.ignored["info:"+n] {
				ct.log.Warn("worker registration is malformed; not assigning to it", zap.String("worker", n), zap.Error(err))
				ct.ignored["info:"+n] = true
			}
			w.infoOK = false
			continue
		}
		if !w.infoOK || w.info.Concurrency != info.Concurrency || w.info.Draining != info.Draining {
			ct.log.Info("worker ready", zap.String("worker", n), zap.Int("concurrency", info.Concurrency),
				zap.Strings("kinds", info.Kinds), zap.Bool("draining", info.Draining))
		}
		delete(ct.ignored, "info:"+n)
		w.info, w.infoOK = info, true
	}
	for n, w := range ct.workers {
		if w.registered && !live[n] {
			w.registered = false
			ct.log.Warn("worker lost", zap.String("worker", n), zap.Int("tasks", len(w.tasks)))
		}
	}
}

func (ct *controller) listDirs(ctx context.Context, names []string) error {
	type res struct {
		ids []string
		ch  <-chan zk.Event
		err error
	}
	out := make([]res, len(names))
	err := zkclient.Pipeline(len(names), func(i int) error {
		ids, ch, err := ct.c.ChildrenW(ctx, ct.l.AssignDir(names[i]))
		if errors.Is(err, zk.ErrNoNode) {
			// Learn of its creation instead (a worker creates its own).
			var st *zk.Stat
			st, ch, err = ct.c.ExistsW(ctx, ct.l.AssignDir(names[i]))
			if err == nil && st != nil {
				ids, ch, err = ct.c.ChildrenW(ctx, ct.l.AssignDir(names[i]))
			} else if err == nil {
				err = zk.ErrNoNode
			}
		}
		out[i] = res{ids, ch, err}
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, n := range names {
		w := ct.worker(n)
		r := out[i]
		if r.ch != nil {
			ct.await(r.ch, func(x *dirtySet) { x.dirs[n] = true })
		}
		w.hasDir = r.err == nil
		now := make(map[task.ID]struct{}, len(r.ids))
		for _, s := range r.ids {
			id, err := task.ParseID(s)
			if err != nil {
				ct.warnForeign(ct.l.AssignDir(n) + "/" + s)
				continue
			}
			now[id] = struct{}{}
		}
		for id := range w.tasks {
			if _, ok := now[id]; !ok {
				delete(w.tasks, id) // finished or cancelled
				if ct.assigned[id] == n {
					delete(ct.assigned, id)
				}
			}
		}
		for id := range now {
			if _, ok := w.tasks[id]; !ok {
				w.tasks[id] = struct{}{}
				ct.assigned[id] = n
				ct.pending.Remove(id)
				delete(ct.specs, id)
			}
		}
	}
	return nil
}

func (ct *controller) warnForeign(path string) {
	if !ct.ignored[path] {
		ct.ignored[path] = true
		ct.log.Warn("ignoring a znode that is not Paddock's", zap.String("path", path))
	}
}

// reclaim returns the tasks of lost workers to pending (or dead-letters them
// when they have used their attempts) and removes their empty directories.
func (ct *controller) reclaim(ctx context.Context) error {
	for _, name := range sortedWorkers(ct.workers) {
		w := ct.workers[name]
		if w.registered {
			continue
		}
		if len(w.tasks) > 0 {
			if err := ct.takeBack(ctx, w); err != nil {
				return err
			}
			continue // the dir goes once a listing shows it empty
		}
		if w.hasDir {
			_, err := coord.FencedMulti(ctx, ct.c, ct.fence, zkclient.DeleteOp(ct.l.AssignDir(name), -1))
			switch {
			case err == nil, errors.Is(err, zk.ErrNoNode):
			case errors.Is(err, zk.ErrNotEmpty):
				ct.mark(func(x *dirtySet) { x.dirs[name] = true })
				continue
			default:
				return err
			}
		}
		delete(ct.workers, name)
	}
	return nil
}

func sortedWorkers(m map[string]*worker) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (ct *controller) takeBack(ctx context.Context, w *worker) error {
	ids := make([]task.ID, 0, len(w.tasks))
	for id := range w.tasks {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	specs, err := ct.readSpecs(ctx, ids)
	if err != nil {
		return err
	}
	type outcome int
	const (
		toPending outcome = iota
		toDead
		orphan
	)
	var items [][]zkclient.Op
	var itemIDs []task.ID
	var outcomes []outcome
	var reasons []string // of dead letters
	for _, id := range ids {
		cs, ok := specs[id]
		var ops []zkclient.Op
		out, reason := toDead, ""
		switch {
		case !ok:
			out = orphan
			// The task is gone but its assignment is not (only a tool can
			// do that): remove the orphan, or the directory never empties.
			ops = []zkclient.Op{zkclient.DeleteOp(ct.l.Assignment(w.name, id), -1)}
		case cs.err != nil:
			reason = task.ReasonMalformed
			ops, err = ct.deadOps(id, cs, w.name, reason, cs.err.Error())
		case cs.spec.Attempts >= cs.spec.AttemptLimit():
			reason = task.ReasonMaxAttempts
			ops, err = ct.deadOps(id, cs, w.name, reason,
				fmt.Sprintf("assigned %d times without finishing; worker %s was lost", cs.spec.Attempts, w.name))
		default:
			s := cs.spec
			s.Worker, s.LastWorker = "", w.name
			ops, err = ct.q.UnassignOps(id, w.name, cs.version, s)
			out = toPending
		}
		if err != nil {
			return err
		}
		items, itemIDs, outcomes = append(items, ops), append(itemIDs, id), append(outcomes, out)
		reasons = append(reasons, reason)
	}
	failed, err := coord.FencedBatch(ctx, ct.c, ct.fence, items)
	if err != nil {
		return err
	}
	for i, id := range itemIDs {
		if me := failed[i]; me != nil {
			delete(ct.specs, id)
			if errors.Is(me, zk.ErrNoNode) || errors.Is(me, zk.ErrBadVersion) {
				// The task or assignment changed under us: re-read both.
				ct.log.Debug("take-back skipped", zap.Stringer("task", id), zap.Error(me))
				ct.mark(func(x *dirtySet) { x.dirs[w.name] = true })
			} else {
				// The tree contradicts itself (e.g. a result already exists);
				// retrying at once would spin. The next change retries.
				ct.log.Warn("cannot take back a lost worker's task", zap.Stringer("task", id), zap.Error(me))
			}
			continue
		}
		delete(w.tasks, id)
		delete(ct.assigned, id)
		delete(ct.specs, id)
		switch outcomes[i] {
		case toPending:
			ct.pending.Push(id)
			ct.m.reassigned.Inc()
			ct.log.Info("task returned to pending", zap.Stringer("task", id), zap.String("lost_worker", w.name))
		case toDead:
			ct.m.dead.WithLabelValues(reasons[i]).Inc()
			ct.log.Warn("task dead-lettered", zap.Stringer("task", id), zap.String("lost_worker", w.name))
		case orphan:
			ct.log.Warn("removed an assignment whose task is gone", zap.Stringer("task", id), zap.String("lost_worker", w.name))
		}
	}
	return nil
}

func (ct *controller) forget(id task.ID) {
	if w := ct.workers[ct.assigned[id]]; w != nil {
		delete(w.tasks, id)
	}
	delete(ct.assigned, id)
	ct.pending.Remove(id)
	delete(ct.specs, id)
}

// readSpecs reads task znodes in one pipelined round. A task that no longer
// exists is absent from the map; a malformed one carries its error.
func (ct *controller) readSpecs(ctx context.Context, ids []task.ID) (map[task.ID]cachedSpec, error) {
	if ct.cfg.beforeRead != nil {
		ct.cfg.beforeRead(ids)
	}
	out := make([]cachedSpec, len(ids))
	found := make([]bool, len(ids))
	err := zkclient.Pipeline(len(ids), func(i int) error {
		data, stat, err := ct.c.Get(ctx, ct.l.Task(ids[i]))
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		spec, derr := task.DecodeSpec(data)
		out[i] = cachedSpec{spec: spec, version: stat.Version, err: derr}
		if derr != nil {
			out[i] = cachedSpec{version: stat.Version, err: derr, raw: task.Printable(data, 4096)}
		}
		found[i] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	m := make(map[task.ID]cachedSpec, len(ids))
	for i, id := range ids {
		if found[i] {
			m[id] = out[i]
		}
	}
	return m, nil
}

func (ct *controller) deadOps(id task.ID, cs cachedSpec, assignedTo, reason, detail string) ([]zkclient.Op, error) {
	spec, raw := cs.spec, cs.raw
	if cs.err == nil {
		if b, err := task.Encode(spec); err == nil {
			raw = string(b)
		}
	}
	d := task.DeadLetter{ID: id, Reason: reason, Detail: detail, Attempts: spec.Attempts,
		LastWorker: assignedTo, At: time.Now().UTC(), Spec: raw}
	if assignedTo == "" {
		d.LastWorker = spec.LastWorker
	}
	return ct.q.DeadLetterOps(id, cs.version, assignedTo, d, deadResult(id, spec, reason, detail, d.LastWorker))
}

// refill lists the task shards that changed, when the master has room for
// more tasks than it knows of. A shard's watch is re-armed only by listing
// it, so while workers are saturated new submissions cost the master
// nothing, however long the backlog.
//
// A new leader lists every shard once, whether or not it has room: until
// then it does not know its backlog (paddock_tasks_pending, the oldest
// pending age), and each shard's watch is armed by its first listing.
func (ct *controller) refill(ctx context.Context) (int, error) {
	free := 0
	for _, w := range ct.workers {
		free += w.free()
	}
	if ct.listed && (free == 0 || (ct.pending.Len() >= free && !ct.needMore)) {
		return 0, nil
	}
	ct.needMore = false
	ct.mu.Lock()
	marked := ct.dirty.shards
	ct.dirty.shards = map[string]time.Time{}
	ct.mu.Unlock()
	shards := keys(marked)
	if len(shards) == 0 {
		return 0, nil
	}
	lists := make([][]string, len(shards))
	chans := make([]<-chan zk.Event, len(shards))
	err := zkclient.Pipeline(len(shards), func(i int) error {
		names, ch, err := ct.c.ChildrenW(ctx, ct.l.TaskShard(shards[i]))
		lists[i], chans[i] = names, ch
		if errors.Is(err, zk.ErrNoNode) {
			return nil // removed by hand; client init recreates it
		}
		return err
	})
	if err != nil {
		ct.mark(func(x *dirtySet) {
			for s, fired := range marked {
				markShard(x, s, fired)
			}
		})
		return 0, err
	}
	ct.listed = true
	added := 0
	for i, s := range shards {
		if chans[i] != nil {
			ct.awaitShard(chans[i], s)
		}
		for _, name := range lists[i] {
			id, err := task.ParseID(name)
			if err != nil || id.Shard() != s {
				ct.warnForeign(ct.l.TaskShard(s) + "/" + name)
				continue
			}
			if _, ok := ct.assigned[id]; ok || ct.pending.Has(id) {
				continue
			}
			ct.pending.Push(id)
			added++
		}
	}
	if added > 0 {
		ct.log.Debug("learned of tasks", zap.Int("new", added), zap.Int("pending", ct.pending.Len()), zap.Int("shards", len(shards)))
	}
	return added, nil
}

// awaitShard marks shard s once its child watch ch fires, remembering when
// (the oldest pending age counts from then for tasks not yet listed).
func (ct *controller) awaitShard(ch <-chan zk.Event, s string) {
	go func() {
		<-ch
		fired := time.Now()
		ct.mark(func(x *dirtySet) { markShard(x, s, fired) })
	}()
}

// markShard marks s to be listed, keeping the earliest time it fired.
func markShard(x *dirtySet, s string, fired time.Time) {
	if prev, ok := x.shards[s]; !ok || (!prev.IsZero() && fired.Before(prev)) || fired.IsZero() {
		x.shards[s] = fired
	}
}

// schedule assigns one batch: oldest pending tasks to the least-loaded
// workers that run their kind, in one fenced multi.
func (ct *controller) schedule(ctx context.Context) (int, error) {
	var slots []*Slots
	free := 0
	advertised := make(map[string]bool)
	for _, w := range ct.workers {
		if w.registered && w.infoOK && !w.info.Draining {
			for _, k := range w.info.Kinds {
				advertised[k] = true
			}
		}
		if f := w.free(); f > 0 {
			kinds := make(map[string]bool, len(w.info.Kinds))
			for _, k := range w.info.Kinds {
				kinds[k] = true
			}
			slots = append(slots, &Slots{Worker: w.name, Free: f, Load: len(w.tasks), Cap: w.info.Concurrency, Kinds: kinds})
			free += f
		}
	}
	if free == 0 || ct.pending.Len() == 0 {
		return 0, nil
	}
	// Look at the oldest pending tasks until the free slots are used. Tasks
	// that cannot be placed now (their kind's workers are busy) are set
	// aside, not retried in a loop: those behind them still get the slots
	// they fit. One round looks at a bounded number of tasks.
	var (
		items    [][]zkclient.Op // dead letters first, then placements
		itemIDs  []task.ID
		placed   []Placement
		deferred []task.ID
		examined int
	)
	limit := max(ct.cfg.Batch, 4*free)
	ct.turn++
	for free > 0 && len(placed) < ct.cfg.Batch && examined < limit && ct.pending.Len() > 0 {
		ids := ct.pending.Pop(min(free, ct.cfg.Batch-len(placed), limit-examined))
		examined += len(ids)
		var toRead []task.ID
		for _, id := range ids {
			if _, ok := ct.specs[id]; !ok {
				toRead = append(toRead, id)
			}
		}
		read, err := ct.readSpecs(ctx, toRead)
		if err != nil {
			for _, id := range append(ids, deferred...) {
				ct.pending.Push(id)
			}
			for _, p := range placed {
				ct.pending.Push(p.ID)
			}
			return 0, err
		}
		for id, cs := range read {
			ct.specs[id] = cs
		}
		var wants []Want
		for _, id := range ids {
			cs, ok := ct.specs[id]
			switch {
			case !ok:
				continue // gone: cancelled or finished
			case ct.assigned[id] != "":
				delete(ct.specs, id)
				continue
			case cs.err != nil:
				ops, err := ct.deadOps(id, cs, "", task.ReasonMalformed, cs.err.Error())
				if err != nil {
					return 0, err
				}
				items, itemIDs = append(items, ops), append(itemIDs, id)
			case cs.spec.Attempts >= cs.spec.AttemptLimit():
				ops, err := ct.deadOps(id, cs, "", task.ReasonMaxAttempts,
					fmt.Sprintf("assigned %d times without finishing", cs.spec.Attempts))
				if err != nil {
					return 0, err
				}
				items, itemIDs = append(items, ops), append(itemIDs, id)
			default:
				wants = append(wants, Want{ID: id, Kind: cs.spec.Kind})
			}
		}
		p, unplaced := Place(wants, slots, advertised, ct.turn)
		placed = append(placed, p...)
		free -= len(p)
		for _, u := range unplaced {
			deferred = append(deferred, u.ID)
		}
	}
	for _, id := range deferred {
		ct.pending.Push(id)
	}
	if len(deferred) > 0 && free > 0 {
		ct.needMore = true // tasks not yet known may fit the slots left
	}
	nDead := len(items)
	now := time.Now().UTC()
	for _, p := range placed {
		cs := ct.specs[p.ID]
		s := cs.spec
		s.Attempts++
		s.Worker, s.Epoch, s.AssignedAt = p.Worker, ct.fence.Epoch, now
		a := task.Assignment{Kind: s.Kind, TimeoutMS: s.TimeoutMS, Attempt: s.Attempts, MaxAttempts: s.AttemptLimit(),
			Epoch: ct.fence.Epoch, Master: ct.cfg.ID, SubmittedAt: p.ID.SubmittedAt().UTC(), AssignedAt: now}
		ops, err := ct.q.AssignOps(p.ID, cs.version, s, a)
		if err != nil {
			return 0, err
		}
		items, itemIDs = append(items, ops), append(itemIDs, p.ID)
	}
	if len(items) == 0 {
		return 0, nil
	}
	failed, err := coord.FencedBatch(ctx, ct.c, ct.fence, items)
	if err != nil {
		// Unknown outcome: put the tasks back (a dead letter that landed
		// reads as gone next time) and re-list the workers' dirs so
		// assignments that did land are found before these are retried.
		for i, id := range itemIDs {
			delete(ct.specs, id)
			ct.pending.Push(id)
			if i >= nDead {
				w := placed[i-nDead].Worker
				ct.mark(func(x *dirtySet) { x.dirs[w] = true })
			}
		}
		return 0, err
	}
	nAssigned := 0
	for i, id := range itemIDs {
		me := failed[i]
		if i < nDead {
			reason := ct.specs[id].reasonFor()
			delete(ct.specs, id)
			switch {
			case me == nil:
				ct.m.dead.WithLabelValues(reason).Inc()
				ct.log.Warn("task dead-lettered", zap.Stringer("task", id), zap.String("reason", reason))
			case me.Index == 0 && errors.Is(me, zk.ErrNoNode):
				ct.forget(id) // cancelled meanwhile
			default:
				// Changed meanwhile (read it again) or contradicted by the
				// tree (a result exists): keep it, never lose it.
				ct.pending.Push(id)
				ct.log.Warn("could not dead-letter a task; will retry", zap.Stringer("task", id), zap.Error(me))
			}
			continue
		}
		w := ct.workers[placed[i-nDead].Worker]
		if me != nil {
			ct.placementFailed(id, w, me)
			continue
		}
		ct.m.assigned.WithLabelValues(kindLabel(ct.specs[id].spec.Kind, advertised)).Inc()
		delete(ct.specs, id)
		w.tasks[id] = struct{}{}
		ct.assigned[id] = w.name
		nAssigned++
		ct.log.Debug("assigned", zap.Stringer("task", id), zap.String("worker", w.name))
	}
	if nAssigned > 0 {
		ct.log.Info("assigned tasks", zap.Int("tasks", nAssigned), zap.Int("pending", ct.pending.Len()))
	}
	return len(itemIDs) - len(failed), nil
}

func (cs cachedSpec) reasonFor() string {
	if cs.err != nil {
		return task.ReasonMalformed
	}
	return task.ReasonMaxAttempts
}

// placementFailed handles one assignment the server refused.
func (ct *controller) placementFailed(id task.ID, w *worker, me *zkclient.MultiError) {
	delete(ct.specs, id)
	switch {
	case me.Index == 0 && errors.Is(me, zk.ErrNoNode):
		ct.forget(id) // the task is gone (cancelled)
	case me.Index == 0:
		ct.pending.Push(id) // the task changed (bad version): read it again
	case errors.Is(me, zk.ErrNoNode):
		// The worker's directory is missing: wait until it recreates it.
		w.hasDir = false
		ct.pending.Push(id)
		ct.mark(func(x *dirtySet) { x.dirs[w.name] = true })
	default:
		ct.pending.Push(id)
		ct.mark(func(x *dirtySet) { x.dirs[w.name] = true })
	}
	ct.log.Debug("assignment refused", zap.Stringer("task", id), zap.String("worker", w.name), zap.Error(me))
}
