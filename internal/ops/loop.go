package ops

import (
	"fmt"
	"sync/atomic"
	"time"
)

// DefaultStall is the least time a loop may work without going back to
// waiting before Loop.Check reports it stalled.
const DefaultStall = 30 * time.Second

// StallAfter is how long a daemon's main loop may work between two waits
// for events before it counts as wedged: DefaultStall, or three session
// timeouts if longer. A loop's work is ZooKeeper round trips, and a request
// to a server that went silent is failed only once the client gives up on
// the connection (2/3 of the session timeout); a few of those in a row are
// slow, not wedged.
func StallAfter(sessionTimeout time.Duration) time.Duration {
	return max(DefaultStall, 3*sessionTimeout)
}

// Loop tells whether a daemon's main loop still turns. The loop says when
// it blocks to wait for events (Waiting) and when it wakes up to handle
// them (Working). A loop waiting for events is alive however long nothing
// happens; a loop that has been working longer than its stall limit is
// stuck: deadlocked on a lock or a channel, or blocked on a call that does
// not return, all of which happen outside its wait. So a deadlocked loop
// cannot pass the check, and an idle one cannot fail it.
//
// Waits inside library calls the loop makes for events (a session, a
// reconnection, its predecessor in an election) are marked as waits too.
// The methods are cheap (one atomic store) and safe on a nil *Loop, which
// does nothing.
type Loop struct {
	name  string
	stall time.Duration
	since atomic.Int64 // UnixNano when the loop last started working; 0 while it waits
	now   func() time.Time
}

// NewLoop returns the liveness of the loop called name, which counts as
// stalled after working for longer than stall. It starts out working: a
// loop that never reaches its first wait is stuck too.
func NewLoop(name string, stall time.Duration) *Loop {
	l := &Loop{name: name, stall: stall, now: time.Now}
	l.since.Store(l.now().UnixNano())
	return l
}

// Waiting marks the loop as blocked waiting for events. Call it right
// before the blocking select (or call) and Working right after.
func (l *Loop) Waiting() {
	if l != nil {
		l.since.Store(0)
	}
}

// Working marks the loop as busy since now.
func (l *Loop) Working() {
	if l != nil {
		l.since.Store(l.now().UnixNano())
	}
}

// Check is the liveness check: an error once the loop has been working
// for longer than its stall limit.
func (l *Loop) Check() error {
	if l == nil {
		return nil
	}
	since := l.since.Load()
	if since == 0 {
		return nil
	}
	if busy := l.now().Sub(time.Unix(0, since)); busy > l.stall {
		return fmt.Errorf("the %s loop has not waited for events for %s (limit %s): it is stuck",
			l.name, busy.Round(time.Millisecond), l.stall)
	}
	return nil
}
