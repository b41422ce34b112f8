package worker

import (
	"context"
	"sync"
)

// limit bounds the tasks running at once; unlike a semaphore channel its
// size can change while tasks hold it (the worker.concurrency setting is
// live). Lowering it lets running tasks finish; new ones wait.
type limit struct {
	mu      sync.Mutex
	size    int
	used    int
	changed chan struct{} // closed and replaced when a slot may have opened
}

func newLimit(size int) *limit { return &limit{size: size, changed: make(chan struct{})} }

func (l *limit) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.used < l.size {
			l.used++
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *limit) release() {
	l.mu.Lock()
	l.used--
	l.wakeLocked()
	l.mu.Unlock()
}

func (l *limit) resize(size int) {
	l.mu.Lock()
	l.size = size
	l.wakeLocked()
	l.mu.Unlock()
}

func (l *limit) wakeLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}
