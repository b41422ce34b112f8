package master

import (
	"sort"

	"github.com/paddock-zk/paddock/internal/task"
)

// Slots is a worker as the scheduler sees it.
type Slots struct {
	Worker string
	Free   int // assignments it can take now
	Load   int // assignments it holds
	Cap    int // its concurrency
	Kinds  map[string]bool
}

// Want is a task waiting for a worker.
type Want struct {
	ID   task.ID
	Kind string
}

// Placement pairs a task with the worker chosen for it.
type Placement struct {
	ID     task.ID
	Worker string
}

// Place decides, in the order given (FIFO), which worker takes each task:
// among workers with a free slot that run the task's kind, the least loaded
// relative to its concurrency. Ties go to the first in name order after
// rotating by turn, so short tasks (always at load 0 when placed) still
// spread over every worker. A task only ever goes to a worker that runs
// its kind: one whose kind no live worker runs waits (the caller parks it,
// see controller.park) rather than failing on a worker that cannot run it,
// so that a rolling restart of a kind's only pool loses nothing. Tasks
// that cannot be placed now are returned in order. Place updates the slots
// it is given.
func Place(wants []Want, workers []*Slots, turn int) (placed []Placement, unplaced []Want) {
	sort.Slice(workers, func(i, j int) bool { return workers[i].Worker < workers[j].Worker })
	if n := len(workers); n > 0 {
		r := turn % n
		workers = append(workers[r:len(workers):len(workers)], workers[:r]...)
	}
	for _, t := range wants {
		var best *Slots
		for _, w := range workers {
			if w.Free <= 0 || !w.Kinds[t.Kind] {
				continue
			}
			// Compare Load/Cap without floating point.
			if best == nil || w.Load*best.Cap < best.Load*w.Cap {
				best = w
			}
		}
		if best == nil {
			unplaced = append(unplaced, t)
			continue
		}
		best.Free--
		best.Load++
		placed = append(placed, Placement{ID: t.ID, Worker: best.Worker})
	}
	return placed, unplaced
}
