package master

import (
	"container/heap"

	"github.com/paddock-zk/paddock/internal/task"
)

// pending holds the ids of tasks known to wait for a worker, oldest first
// (ids start with their submit time).
type pending struct {
	h   idHeap
	set map[task.ID]struct{}
}

func newPending() *pending { return &pending{set: make(map[task.ID]struct{})} }

func (p *pending) Len() int { return len(p.set) }

func (p *pending) Has(id task.ID) bool { _, ok := p.set[id]; return ok }

func (p *pending) Push(id task.ID) {
	if _, ok := p.set[id]; ok {
		return
	}
	p.set[id] = struct{}{}
	heap.Push(&p.h, id)
}

// Pop removes and returns up to n oldest ids.
func (p *pending) Pop(n int) []task.ID {
	out := make([]task.ID, 0, min(n, p.Len()))
	for len(out) < n && p.h.Len() > 0 {
		id := heap.Pop(&p.h).(task.ID)
		if _, ok := p.set[id]; !ok {
			continue // removed while queued
		}
		delete(p.set, id)
		out = append(out, id)
	}
	return out
}

// Oldest returns the oldest id without removing it (false: none).
func (p *pending) Oldest() (task.ID, bool) {
	for p.h.Len() > 0 {
		if id := p.h[0]; p.Has(id) {
			return id, true
		}
		heap.Pop(&p.h) // removed while queued
	}
	return "", false
}

// Remove forgets id; its heap entry is skipped when it surfaces.
func (p *pending) Remove(id task.ID) { delete(p.set, id) }

type idHeap []task.ID

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(task.ID)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
