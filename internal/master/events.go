package master

import (
	"context"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/recipe"
)

// dirtySet is what changed since the controller last looked: watches mark
// it (mark), the controller takes it at the start of a step (take).
type dirtySet struct {
	pool  []recipe.Entry // the workers' registrations, when they changed
	fresh bool           // pool holds news
	dirs  map[string]bool
	// shards maps each task shard to list to when its watch fired first
	// since it was last listed: no task submitted since is older (a child
	// watch fires at the first new child). Zero: never listed.
	shards map[string]time.Time
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

// await marks f once w fires (or is dropped with the session). The
// goroutine that waits is the term's: it stops with ctx, and lead waits
// for it.
func (ct *controller) await(ctx context.Context, w coord.Watch, f func(d *dirtySet)) {
	if !w.Set() {
		return
	}
	ct.bg.Go(func() {
		if w.Wait(ctx) {
			ct.mark(f)
		}
	})
}

// take takes the pool's news and the marked directories; the marked
// shards stay, for refill lists them only when there is room.
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

// markShard marks s to be listed, keeping the earliest time it fired.
func markShard(x *dirtySet, s string, fired time.Time) {
	if prev, ok := x.shards[s]; !ok || (!prev.IsZero() && fired.Before(prev)) || fired.IsZero() {
		x.shards[s] = fired
	}
}

func (ct *controller) anyDirtyShard() bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return len(ct.dirty.shards) > 0
}
