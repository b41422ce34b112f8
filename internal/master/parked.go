package master

import (
	"time"

	"github.com/paddock-zk/paddock/internal/task"
)

// parked holds the tasks the leader has read but cannot place yet and must
// not look at again on every round: those scheduled for later (their
// Spec's not_before), and those whose kind no live worker advertises.
// Their records are dropped, so a backlog of them costs the leader an id's
// worth of memory each and no request until one comes back to pending:
// when its time comes (one timer, for the earliest: see next), or, for a
// kind, when a worker that runs it appears (releaseKinds). It is then read
// again, as any pending task, because it may have changed (cancelled,
// requeued) while it was parked.
type parked struct {
	kind   map[task.ID]string // id -> the kind it waits for; "": scheduled
	byKind map[string]map[task.ID]struct{}
	due    minHeap[dueEntry] // when each parked task must be looked at again; stale entries are skipped
}

func newParked() *parked {
	return &parked{kind: make(map[task.ID]string), byKind: make(map[string]map[task.ID]struct{}),
		due: minHeap[dueEntry]{less: func(a, b dueEntry) bool { return a.at.Before(b.at) }}}
}

// park holds id until at (zero: no time, only a worker of kind releases
// it), or until a worker of kind appears (kind "": scheduled only).
func (p *parked) park(id task.ID, kind string, at time.Time) {
	p.remove(id)
	p.kind[id] = kind
	if kind != "" {
		ids := p.byKind[kind]
		if ids == nil {
			ids = make(map[task.ID]struct{})
			p.byKind[kind] = ids
		}
		ids[id] = struct{}{}
	}
	if !at.IsZero() {
		p.due.push(dueEntry{at: at, id: id})
	}
}

// remove forgets id (gone, or back to pending).
func (p *parked) remove(id task.ID) {
	k, ok := p.kind[id]
	if !ok {
		return
	}
	delete(p.kind, id)
	if k != "" {
		delete(p.byKind[k], id)
		if len(p.byKind[k]) == 0 {
			delete(p.byKind, k)
		}
	}
}

func (p *parked) has(id task.ID) bool { _, ok := p.kind[id]; return ok }

// releaseDue removes and returns the parked tasks whose time has come.
func (p *parked) releaseDue(now time.Time) []task.ID {
	var out []task.ID
	for p.due.Len() > 0 && !p.due.top().at.After(now) {
		e := p.due.pop()
		if p.has(e.id) {
			p.remove(e.id)
			out = append(out, e.id)
		}
	}
	return out
}

// releaseKinds removes and returns the tasks waiting for a kind that
// advertised holds.
func (p *parked) releaseKinds(advertised map[string]bool) []task.ID {
	var out []task.ID
	for k, ids := range p.byKind {
		if !advertised[k] {
			continue
		}
		for id := range ids {
			delete(p.kind, id)
			out = append(out, id)
		}
		delete(p.byKind, k)
	}
	return out
}

// next is when the earliest parked task is due (false: none is timed).
// Stale entries at the top are dropped here, so that the timer is not
// armed for a task that has left.
func (p *parked) next() (time.Time, bool) {
	for p.due.Len() > 0 {
		if e := p.due.top(); p.has(e.id) {
			return e.at, true
		}
		p.due.pop()
	}
	return time.Time{}, false
}

// counts returns how many parked tasks are scheduled for later and how
// many wait for each kind.
func (p *parked) counts() (scheduled int, waiting map[string]int) {
	waiting = make(map[string]int, len(p.byKind))
	n := 0
	for k, ids := range p.byKind {
		waiting[k] = len(ids)
		n += len(ids)
	}
	return len(p.kind) - n, waiting
}

type dueEntry struct {
	at time.Time
	id task.ID
}
