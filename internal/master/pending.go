package master

import (
	"encoding/hex"

	"github.com/paddock-zk/paddock/internal/task"
)

// pending holds the ids of tasks known to wait for a worker, oldest first
// (ids start with their submit time). Ids are kept as their 10 bytes, not
// as 20-character strings: with a backlog of a million tasks this set is
// most of the leader's memory, and the compact form is a third of it.
type pending struct {
	h   minHeap[idKey]
	set map[idKey]struct{}
}

// idKey is a task id's 20 hex digits as 10 bytes: ordered as the ids are
// (fixed length, each digit's value in order).
type idKey [10]byte

// keyOf is id's key. Every id here came through task.ParseID (a shard
// listing), so it is 20 lowercase hex digits.
func keyOf(id task.ID) idKey {
	var k idKey
	_, _ = hex.Decode(k[:], []byte(id))
	return k
}

func (k idKey) id() task.ID { return task.ID(hex.EncodeToString(k[:])) }

func newPending() *pending {
	return &pending{set: make(map[idKey]struct{}), h: minHeap[idKey]{less: func(a, b idKey) bool { return string(a[:]) < string(b[:]) }}}
}

func (p *pending) Len() int { return len(p.set) }

func (p *pending) Has(id task.ID) bool { _, ok := p.set[keyOf(id)]; return ok }

func (p *pending) Push(id task.ID) {
	k := keyOf(id)
	if _, ok := p.set[k]; ok {
		return
	}
	p.set[k] = struct{}{}
	p.h.push(k)
}

// Pop removes and returns up to n oldest ids.
func (p *pending) Pop(n int) []task.ID {
	out := make([]task.ID, 0, min(n, p.Len()))
	for len(out) < n && p.h.Len() > 0 {
		k := p.h.pop()
		if _, ok := p.set[k]; !ok {
			continue // removed while queued
		}
		delete(p.set, k)
		out = append(out, k.id())
	}
	return out
}

// Peek returns up to n oldest ids, leaving them pending.
func (p *pending) Peek(n int) []task.ID {
	ids := p.Pop(n)
	for _, id := range ids {
		p.Push(id)
	}
	return ids
}

// Oldest returns the oldest id without removing it (false: none).
func (p *pending) Oldest() (task.ID, bool) {
	for p.h.Len() > 0 {
		if k := p.h.top(); p.hasKey(k) {
			return k.id(), true
		}
		p.h.pop() // removed while queued
	}
	return "", false
}

func (p *pending) hasKey(k idKey) bool { _, ok := p.set[k]; return ok }

// Remove forgets id; its heap entry is skipped when it surfaces.
func (p *pending) Remove(id task.ID) { delete(p.set, keyOf(id)) }
