package master

import "container/heap"

// minHeap is a binary heap of T ordered by less: the one heap behind the
// pending tasks (by id) and the parked ones (by due time).
type minHeap[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *minHeap[T]) Len() int           { return len(h.items) }
func (h *minHeap[T]) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *minHeap[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *minHeap[T]) Push(x any)         { h.items = append(h.items, x.(T)) }
func (h *minHeap[T]) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

func (h *minHeap[T]) push(x T) { heap.Push(h, x) }
func (h *minHeap[T]) pop() T   { return heap.Pop(h).(T) }

// top is the least item; the heap must not be empty.
func (h *minHeap[T]) top() T { return h.items[0] }
