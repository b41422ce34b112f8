package master

import (
	"context"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// worker is a worker as the leader knows it: its registration (from the
// pool's watch) and its assign/ dir (from listing it).
type worker struct {
	name       string
	info       coord.WorkerInfo
	registered bool                 // its registration exists, as last listed
	infoOK     bool                 // its registration data parsed
	hasDir     bool                 // its assign/ dir exists, as last listed
	tasks      map[task.ID]struct{} // the tasks of this leader's partitions it holds
	others     int                  // the tasks of other leaders' partitions in its dir, as last listed
	version    int32                // its dir's data version, as last listed or written (shared slots)
}

func (w *worker) free(sh share) int {
	if !w.registered || !w.infoOK || !w.hasDir || w.info.Draining {
		return 0
	}
	if w.shared(sh) {
		// One at a time: each assignment is checked against the version
		// of the directory this count comes from.
		return min(1, max(0, w.info.Concurrency-len(w.tasks)-w.others))
	}
	return max(0, slotShare(w.name, w.info.Concurrency, sh)-len(w.tasks))
}

// shared reports whether the leaders share the worker's slots instead of
// splitting them: it has fewer slots than there are leaders, so a split
// would leave some leaders none, and their tasks of a kind only it runs
// would never run. Every leader then counts every leader's tasks on it and
// writes its directory at the version it listed with each assignment
// (coord.AssignShared): of two leaders filling one free slot, one fails
// and lists the directory again.
func (w *worker) shared(sh share) bool {
	return sh.leaders > 1 && w.info.Concurrency < sh.leaders
}

// slotShare is how many of a worker's slots this leader may fill: all of
// them with one leader; with k leaders, an equal part each, the remainder
// going to the leaders after a place that the worker's name picks, so that
// a worker with fewer slots than leaders is not left to the first ones
// alone. The parts add up to the worker's concurrency and each leader
// counts only its own partitions' tasks against its part, so two leaders
// never book the same slot, without a write or a lock between them.
func slotShare(name string, concurrency int, sh share) int {
	if sh.leaders <= 1 {
		return concurrency
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	j := (sh.rank + int(h.Sum32()%uint32(sh.leaders))) % sh.leaders
	n := concurrency / sh.leaders
	if j < concurrency%sh.leaders {
		n++
	}
	return n
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
		names, err := coord.ListAssignDirs(ctx, ct.c, ct.l)
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

// refresh applies what changed: the pool's news, then the listings of the
// marked assign/ dirs.
func (ct *controller) refresh(ctx context.Context, d dirtySet) error {
	if d.fresh {
		ct.updatePool(d.pool, d.dirs)
	}
	return ct.listDirs(ctx, slices.Sorted(maps.Keys(d.dirs)))
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
			delete(ct.ignored, "info:"+n) // a registration of the name's next worker is new: report it
			ct.log.Warn("worker lost", zap.String("worker", n), zap.Int("tasks", len(w.tasks)))
		}
	}
}

// listDirs lists the assign/ dirs of the workers named, re-arming their
// watches, and learns from them which tasks each worker holds.
func (ct *controller) listDirs(ctx context.Context, names []string) error {
	dirs, err := coord.WatchAssignDirs(ctx, ct.c, ct.l, names)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		w := d.Worker // not d: the closure lives until the watch fires
		ct.await(ctx, d.Watch, func(x *dirtySet) { x.dirs[w] = true })
		ct.applyDir(d)
	}
	return nil
}

// applyDir makes a worker's tasks what its directory holds: an assignment
// gone is a task finished or cancelled, a new one a task assigned.
func (ct *controller) applyDir(d coord.DirListing) {
	w := ct.worker(d.Worker)
	w.hasDir, w.version = d.Exists, d.Version
	for _, name := range d.Foreign {
		ct.warnOnce(ct.l.AssignDir(d.Worker)+"/"+name, "ignoring a znode that is not Paddock's")
	}
	now := make(map[task.ID]struct{}, len(d.Tasks))
	w.others = 0
	for _, id := range d.Tasks {
		if !ct.owns(coord.PartitionOf(id)) {
			w.others++ // another leader's: counted in its share, or in the shared slots
			continue
		}
		now[id] = struct{}{}
	}
	for id := range w.tasks {
		if _, ok := now[id]; !ok {
			delete(w.tasks, id) // finished, cancelled, or retried
			if ct.assigned[id] == w.name {
				delete(ct.assigned, id)
			}
			ct.relist(id)
		}
	}
	for id := range now {
		if _, ok := w.tasks[id]; !ok {
			w.tasks[id] = struct{}{}
			ct.assigned[id] = w.name
			ct.pending.Remove(id)
			ct.parked.remove(id)
			delete(ct.specs, id)
		}
	}
}

// relist marks the shard of a task whose assignment vanished to be listed
// again, when a listing may have skipped it: a worker's "retry" recreates
// the task pending as it deletes the assignment, and the shard's watch may
// have been handled (the task seen, still assigned) before the directory's.
// Only tasks a listing showed while they ran need it, so a completion
// normally costs no listing.
func (ct *controller) relist(id task.ID) {
	if _, ok := ct.seenRunning[id]; !ok {
		return
	}
	delete(ct.seenRunning, id)
	ct.mark(func(x *dirtySet) { markShard(x, id.Shard(), time.Now()) })
}

// warnOnce logs msg about path the first time only.
func (ct *controller) warnOnce(path, msg string) {
	if !ct.ignored[path] {
		ct.ignored[path] = true
		ct.log.Warn(msg, zap.String("path", path))
	}
}
