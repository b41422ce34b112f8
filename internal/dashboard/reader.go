package dashboard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/zkclient"
)

// ThroughputWindow is how far back the throughput looks.
const ThroughputWindow = time.Minute

// ReadTimeout bounds one reading: a page that updates every second should
// say "cannot reach ZooKeeper" soon, not hang for a session timeout.
const ReadTimeout = 5 * time.Second

// ErrDisconnected is a reading refused because the client has no connection
// to ZooKeeper right now: nothing is sent (requests would only pile up
// until it reconnects).
var ErrDisconnected = errors.New("cannot reach ZooKeeper: disconnected, reconnecting")

// Reader reads a deployment's status and keeps the last minute of readings'
// counters to report throughput. It is safe for concurrent use.
type Reader struct {
	c     *zkclient.Client
	l     coord.Layout
	extra func(*coord.Status)

	mu      sync.Mutex
	samples []sample // oldest first, none older than ThroughputWindow before the newest
}

// sample is one reading's counters. at is the local monotonic clock, so a
// wall-clock step does not make a rate.
type sample struct {
	at               time.Time
	submitted, ended int64
}

// NewReader reads the tree of l through c. extra, when not nil, adds what
// only the caller knows to each good reading (see Options.Extra).
func NewReader(c *zkclient.Client, l coord.Layout, extra func(*coord.Status)) *Reader {
	return &Reader{c: c, l: l, extra: extra}
}

// Read reads the status once, within ReadTimeout, and fills its Throughput
// from the readings of the last minute (none before the second reading).
func (r *Reader) Read(ctx context.Context) (coord.Status, error) {
	if !r.c.Connected() {
		return coord.Status{}, ErrDisconnected
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	st, err := coord.ReadStatus(ctx, r.c, r.l)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return coord.Status{}, fmt.Errorf("cannot reach ZooKeeper: no answer within %v", ReadTimeout)
		case zkclient.IsConnectionError(err):
			// The connection went while the reading was in flight: the
			// same news as ErrDisconnected, said the same way.
			return coord.Status{}, fmt.Errorf("cannot reach ZooKeeper: %w", err)
		}
		return coord.Status{}, fmt.Errorf("cannot read the status: %w", err)
	}
	if r.extra != nil {
		r.extra(&st)
	}
	st.Throughput = r.record(sample{at: start, submitted: st.Submitted, ended: st.Ended})
	return st, nil
}

// record adds s to the window and returns the rates across it.
func (r *Reader) record(s sample) *coord.Throughput {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.samples); n > 0 && (s.ended < r.samples[n-1].ended || s.submitted < r.samples[n-1].submitted) {
		r.samples = nil // a counter went back: the tree was made anew
	}
	r.samples = append(r.samples, s)
	cut := 0
	for s.at.Sub(r.samples[cut].at) > ThroughputWindow {
		cut++
	}
	r.samples = r.samples[cut:]
	first := r.samples[0]
	secs := s.at.Sub(first.at).Seconds()
	if secs <= 0 {
		return nil
	}
	return &coord.Throughput{
		WindowSeconds:      secs,
		EndedPerSecond:     float64(s.ended-first.ended) / secs,
		SubmittedPerSecond: float64(s.submitted-first.submitted) / secs,
	}
}
