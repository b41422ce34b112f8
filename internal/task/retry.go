package task

import (
	"fmt"
	"math"
	"time"
)

// RetryPolicy says how a task that *fails* (its handler returns an error,
// it times out) is tried again: after a delay that grows exponentially,
// capped, with jitter, so that many tasks failing together do not all come
// back at the same instant. It is distinct from MaxAttempts, which bounds
// how often a task is assigned to workers that die under it.
type RetryPolicy struct {
	MaxRetries int     `json:"max_retries"`          // failures retried after the first; 0: none
	InitialMS  int64   `json:"initial_ms,omitempty"` // delay before the first retry; 0: DefaultRetryInitial
	MaxMS      int64   `json:"max_ms,omitempty"`     // longest delay; 0: DefaultRetryMax
	Multiplier float64 `json:"multiplier,omitempty"` // growth per retry; 0: DefaultRetryMultiplier
	Jitter     float64 `json:"jitter,omitempty"`     // ± fraction of the delay drawn at random, in [0,1); 0: DefaultRetryJitter
}

// Defaults of a RetryPolicy's zero fields.
const (
	DefaultRetryInitial    = time.Second
	DefaultRetryMax        = 5 * time.Minute
	DefaultRetryMultiplier = 2.0
	DefaultRetryJitter     = 0.2
	// MaxRetries bounds RetryPolicy.MaxRetries.
	MaxRetries = 1000
)

// Validate checks a policy read from a Spec.
func (p RetryPolicy) Validate() error {
	switch {
	case p.MaxRetries < 0 || p.MaxRetries > MaxRetries:
		return fmt.Errorf("%w: retry.max_retries %d out of [0,%d]", ErrMalformed, p.MaxRetries, MaxRetries)
	case p.InitialMS < 0 || p.MaxMS < 0:
		return fmt.Errorf("%w: negative retry delay", ErrMalformed)
	case p.Multiplier != 0 && (p.Multiplier < 1 || p.Multiplier > 100 || math.IsNaN(p.Multiplier)):
		return fmt.Errorf("%w: retry.multiplier %v out of [1,100]", ErrMalformed, p.Multiplier)
	case p.Jitter < 0 || p.Jitter >= 1 || math.IsNaN(p.Jitter):
		return fmt.Errorf("%w: retry.jitter %v out of [0,1)", ErrMalformed, p.Jitter)
	}
	return nil
}

// Delay is how long to wait before retry number n (1 for the first retry):
// min(max, initial × multiplier^(n-1)), then moved by up to ±jitter of
// itself; r is a random number in [0,1).
func (p RetryPolicy) Delay(n int, r float64) time.Duration {
	initial, maxd := millis(p.InitialMS), millis(p.MaxMS)
	if initial == 0 {
		initial = DefaultRetryInitial
	}
	if maxd == 0 {
		maxd = DefaultRetryMax
	}
	mult, jitter := p.Multiplier, p.Jitter
	if mult == 0 {
		mult = DefaultRetryMultiplier
	}
	if jitter == 0 {
		jitter = DefaultRetryJitter
	}
	d := float64(initial) * math.Pow(mult, float64(max(n, 1)-1))
	d = min(d, float64(maxd))
	d *= 1 + jitter*(2*r-1)
	return time.Duration(max(d, 0))
}

// AttemptError is one failed attempt, kept in the Spec while the task is
// retried and in its Result at the end, so the last error does not hide
// the earlier ones.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	Worker  string    `json:"worker,omitempty"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
}

// MaxAttemptErrors bounds the errors kept: the first one and the newest
// ones; ErrorsDropped counts what was left out between them.
const MaxAttemptErrors = 20
