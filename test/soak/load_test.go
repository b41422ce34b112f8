package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// load submits tasks at a varying rate and collects their results as they
// come, recording everything the client sees in a ClientHistory: the
// history the checker judges.
type load struct {
	cl   *client
	hist *pt.ClientHistory
	seed uint64

	mu       sync.Mutex
	rng      *rand.Rand
	n        int             // tasks submitted so far
	inflight map[string]bool // acknowledged, no result read yet
	unknown  []string        // submits whose reply was lost, resolved at the end

	waiters sync.WaitGroup // one collector goroutine per acknowledged task
}

// Rates: the load changes its rate every rateSpell, to a uniform pick in
// [minRate, maxRate] tasks/s, so faults hit it busy and idle.
const (
	minRate   = 5
	maxRate   = 40
	rateSpell = 5 * time.Second
	// submitting bounds the submits in flight: during an outage they pile
	// up to this and the pace slows down rather than the goroutines grow.
	submitting = 32
	// submitTimeout: a submit with no reply by then counts as unknown.
	submitTimeout = 15 * time.Second
)

func newLoad(cl *client, seed uint64) *load {
	return &load{cl: cl, hist: pt.NewClientHistory(), seed: seed, rng: rand.New(rand.NewPCG(seed, 1)), inflight: map[string]bool{}}
}

// intn draws from the load's own random stream.
func (l *load) intn(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rng.IntN(n)
}

// run submits until ctx ends, then waits for the submits in flight. The
// collectors it starts live on in collect until drain stops them.
func (l *load) run(ctx, collect context.Context) {
	sem := make(chan struct{}, submitting)
	var wg sync.WaitGroup
	defer wg.Wait()
	next := time.Now()
	for ctx.Err() == nil {
		rate := minRate + l.intn(maxRate-minRate+1)
		spellEnd := next.Add(rateSpell)
		for ; next.Before(spellEnd); next = next.Add(time.Second / time.Duration(rate)) {
			if !sleepUntil(ctx, next) {
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if lag := time.Since(next); lag > time.Second {
				// Submits were blocked (an outage): carry on at the pace
				// from now rather than catch up in a burst.
				next, spellEnd = next.Add(lag), spellEnd.Add(lag)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				l.submitOne(ctx, collect)
			}()
		}
	}
}

// sleepUntil waits until t (the pace of the load, not a synchronisation);
// false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// task makes the next task: mostly echo tasks whose payloads are unique
// and exercise quoting (quotes, backslashes, control characters, non-ASCII),
// and short sleeps (their payload a unique number of seconds, 0.1 to 1.5):
// long enough that workers hold tasks when the nemesis strikes them.
func (l *load) task() (kind string, payload []byte, want string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	n := l.n
	if l.rng.IntN(10) < 3 {
		ms := 100 + l.rng.IntN(1400)
		p := fmt.Sprintf("%d.%03d%06d", ms/1000, ms%1000, n)
		return "sleep", []byte(p), "0"
	}
	shapes := []string{
		"soak task %d",
		`"quoted" task %d with 'single' quotes`,
		`back\slash\\ task %d \n not a newline`,
		"ünïcödé task %d: 日本語, emoji 🦓, Ελληνικά",
		"{\"json\": \"looking\", \"n\": %d}\ttab",
		"line one\nline two of task %d\r\n",
	}
	p := fmt.Sprintf(shapes[l.rng.IntN(len(shapes))], n) + fmt.Sprintf(" (seed %d)", l.seed)
	return "echo", []byte(p), p
}

// submitOne submits a task and records how the submit ended: acknowledged
// tasks get a collector, unknown ones wait for the end to be resolved.
func (l *load) submitOne(ctx, collect context.Context) {
	kind, payload, want := l.task()
	now := time.Now()
	id := newID(now)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), submitTimeout)
	outcome, err := l.cl.submit(sctx, id, kind, payload)
	cancel()
	t := pt.ClientTask{ID: id, Kind: kind, Payload: payload, Want: want, Submitted: now, Outcome: outcome}
	if err != nil {
		t.Err = err.Error()
	}
	l.hist.Submitted(t)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch outcome {
	case pt.SubmitAcked:
		l.inflight[id] = true
		l.waiters.Add(1)
		go func() {
			defer l.waiters.Done()
			l.collectOne(collect, id)
		}()
	case pt.SubmitUnknown:
		l.unknown = append(l.unknown, id)
	}
}

// collectOne waits (a watch on the result) for id's result, records it and
// collects it. It gives up only when ctx ends; the checker then finds the
// task stuck or lost.
func (l *load) collectOne(ctx context.Context, id string) {
	r, err := l.cl.wait(ctx, id)
	switch {
	case errors.Is(err, errAbsent):
		l.hist.Absent(id)
		return
	case err != nil:
		return
	}
	l.hist.Read(id, r, time.Now())
	l.mu.Lock()
	delete(l.inflight, id)
	l.mu.Unlock()
	if l.cl.collect(ctx, id, r.Status) == nil {
		l.hist.Collected(id)
	}
}

// cancelOne asks Paddock to cancel a task picked at random among those in
// flight (the nemesis' "cancel a task"): its id and how the cancel ended.
func (l *load) cancelOne(ctx context.Context, rng *rand.Rand) (string, string) {
	l.mu.Lock()
	ids := make([]string, 0, len(l.inflight))
	for id := range l.inflight {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	if len(ids) == 0 {
		return "", "nothing in flight"
	}
	slices.Sort(ids) // the seed picks the same rank on a replay
	id := ids[rng.IntN(len(ids))]
	l.hist.CancelAsked(id, time.Now())
	return id, l.cl.cancel(ctx, id)
}

// drain waits up to timeout for every collector, then stops the rest
// (stop cancels their context) and waits for them to return.
func (l *load) drain(timeout time.Duration, stop context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		l.waiters.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		stop()
		<-done
	}
	stop()
}

// resolveUnknown settles every submit whose reply was lost, once all is
// healed: a result (it was applied) or no trace at all (it was not).
// Resolving them only now avoids a race: a submit whose connection broke
// may still be in the servers' pipeline for a moment.
func (l *load) resolveUnknown(ctx context.Context) {
	l.mu.Lock()
	ids := slices.Clone(l.unknown)
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.collectOne(ctx, id)
		}()
	}
	wg.Wait()
}
