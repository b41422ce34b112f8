package zkclient

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Batcher is group commit for multis: callers hand it their ops, and ops
// that arrive while a multi is in flight go together in the next one. An
// idle caller's ops go at once (no timer, no added latency); under load one
// transaction carries many callers' ops, which is what a ZooKeeper server,
// paying a log append and fsync per transaction, needs. A multi fails as a
// whole when one op fails: the caller owning that op gets the *MultiError
// (Index counted in its own ops) and the others are retried without it.
type Batcher struct {
	c   *Client
	max int // most callers per multi

	mu      sync.Mutex
	queue   []*batchItem
	running bool
}

type batchItem struct {
	ops  []Op
	done chan error
}

// MaxBatchBytes bounds the paths and data of one batch, so that a multi of
// many callers (or items) stays within jute.maxbuffer (about 1 MiB) even
// when each carries a large payload; a caller whose ops alone exceed it
// goes alone.
const MaxBatchBytes = 768 << 10

// opsBytes is what ops weigh against MaxBatchBytes: their paths and data,
// and a rough allowance for each op's framing.
func opsBytes(ops []Op) int {
	n := 0
	for _, op := range ops {
		n += len(op.path) + len(op.data) + 16 // the op's own framing, roughly
	}
	return n
}

// NewBatcher returns a batcher that puts at most max callers in one multi.
func NewBatcher(c *Client, max int) *Batcher {
	if max < 1 {
		max = 1
	}
	return &Batcher{c: c, max: max}
}

// Multi applies ops atomically, possibly in one transaction with other
// callers' ops. Its errors are those of Client.Multi for these ops alone.
func (b *Batcher) Multi(ctx context.Context, ops ...Op) error {
	it := &batchItem{ops: ops, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, it)
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if lead {
		b.flush()
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the ops may still be applied
	}
}

// flush sends what is queued, batch after batch, until the queue is empty.
// It runs on the goroutine of the caller that found the batcher idle.
func (b *Batcher) flush() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.max) // apply keeps each multi within MaxBatchBytes
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := append([]*batchItem(nil), b.queue[:n]...)
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.apply(batch)
	}
}

// apply sends one batch with ApplyItems, the one split-and-resend loop:
// the caller whose op failed gets its MultiError, the rest are sent again.
func (b *Batcher) apply(batch []*batchItem) {
	items := make([][]Op, len(batch))
	for i, it := range batch {
		items[i] = it.ops
	}
	failed, err := ApplyItems(items, func(ops []Op) error {
		// Not bound to any caller's context: the transaction serves them all.
		_, err := b.c.Multi(context.Background(), ops...)
		return err
	})
	for i, it := range batch {
		if me, ok := failed[i]; ok {
			it.done <- me
			continue
		}
		it.done <- err
	}
}

// Batch applies many independent items (each a list of ops) in as few
// multis as possible: a multi fails as a whole when one op fails, so the
// item owning that op is reported in failed (a *MultiError whose Index
// counts within the item) and the others are sent again without it. Each
// multi stays within MaxBatchBytes (ApplyItems); InChunks bounds how many
// items a caller settles at a time.
func (c *Client) Batch(ctx context.Context, items [][]Op) (failed map[int]*MultiError, err error) {
	return ApplyItems(items, func(ops []Op) error {
		_, err := c.Multi(ctx, ops...)
		return err
	})
}

// InChunks calls f on consecutive [lo, hi) windows of n items, in order,
// stopping at the first error: how callers of Batch settle a long list a
// window at a time. A window holds at most maxItems items
// and, when weight is given (the bytes of item i), at most maxBytes of them
// past its first item.
func InChunks(n, maxItems, maxBytes int, weight func(i int) int, f func(lo, hi int) error) error {
	for lo := 0; lo < n; {
		hi := windowEnd(lo, n, maxItems, maxBytes, weight)
		if err := f(lo, hi); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// windowEnd is the end of the window of items that starts at lo: at most
// maxItems of them, and, when weight is given, at most maxBytes past the
// first (which goes alone when it weighs more). The one splitter under
// InChunks and ApplyItems.
func windowEnd(lo, n, maxItems, maxBytes int, weight func(i int) int) int {
	hi, bytes := lo, 0
	for hi < n && hi-lo < max(maxItems, 1) {
		if weight != nil {
			bytes += weight(hi)
			if hi > lo && bytes > maxBytes {
				break
			}
		}
		hi++
	}
	return hi
}

// ApplyItems is the loop under Batch, for callers that send each multi
// their own way (Paddock's fenced multis prepend a leader's checks): send
// the live items in multis of at most MaxBatchBytes (an item heavier than
// that goes alone), drop the item a *MultiError names (reported in failed,
// its Index counted within the item), send the rest of that multi again.
// Any other error from multi ends the loop and is returned: the items not
// yet settled have an unknown outcome.
//
// The bound is here, under every batch, because a multi past
// jute.maxbuffer (about 1 MiB) makes the server drop the connection, and a
// caller that sent the same batch again would never get through.
func ApplyItems(items [][]Op, multi func(ops []Op) error) (failed map[int]*MultiError, err error) {
	live := make([]int, 0, len(items))
	for i := range items {
		live = append(live, i)
	}
	for len(live) > 0 {
		n := windowEnd(0, len(live), len(live), MaxBatchBytes, func(k int) int { return opsBytes(items[live[k]]) })
		var ops []Op
		owner := make([]int, 0, n*3)
		start := make(map[int]int, n)
		for _, i := range live[:n] {
			start[i] = len(ops)
			ops = append(ops, items[i]...)
			for range items[i] {
				owner = append(owner, i)
			}
		}
		err := multi(ops)
		if err == nil {
			live = live[n:]
			continue
		}
		var me *MultiError
		if !errors.As(err, &me) {
			return failed, err
		}
		bad := owner[me.Index]
		if failed == nil {
			failed = make(map[int]*MultiError)
		}
		failed[bad] = me.within(start[bad])
		live = slices.DeleteFunc(live, func(i int) bool { return i == bad })
	}
	return failed, nil
}
