package paddock

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
)

// Defaults of a RetryPolicy's zero fields.
const (
	DefaultRetryInitial    = task.DefaultRetryInitial
	DefaultRetryMax        = task.DefaultRetryMax
	DefaultRetryMultiplier = task.DefaultRetryMultiplier
	DefaultRetryJitter     = task.DefaultRetryJitter
)

// RetryPolicy says how a task whose handler fails is tried again: after a
// delay that starts at Initial and grows by Multiplier per retry, capped
// at Max, and moved at random by up to ±Jitter of itself, so that many
// tasks failing together do not all come back at the same instant. While
// it waits, the task is pending and no worker holds it. A zero field takes
// its default (DefaultRetryInitial, ...).
//
// Retries are distinct from Task.MaxAttempts, which bounds how often a task
// is handed to workers that die under it: a retry follows a failure the
// handler reported, an attempt follows a worker's disappearance.
//
// Its JSON form is the record's (docs/PROTOCOL.md): max_retries,
// initial_ms, max_ms, multiplier, jitter.
type RetryPolicy struct {
	MaxRetries int           // failures retried after the first; 0: none
	Initial    time.Duration // delay before the first retry
	Max        time.Duration // longest delay
	Multiplier float64       // growth per retry, in [1,100]
	Jitter     float64       // ± fraction of each delay drawn at random, in [0,1)
}

// Validate checks the policy's ranges; its errors wrap ErrBadTask.
func (p RetryPolicy) Validate() error {
	maxDelay := p.Max
	if maxDelay == 0 {
		maxDelay = DefaultRetryMax
	}
	switch {
	case p.MaxRetries < 0 || p.MaxRetries > MaxRetriesLimit:
		return badTask("retry: MaxRetries %d out of [0,%d]", p.MaxRetries, MaxRetriesLimit)
	case p.Initial < 0 || p.Max < 0:
		return badTask("retry: negative delay (Initial %v, Max %v)", p.Initial, p.Max)
	case p.Initial > maxDelay:
		return badTask("retry: Initial %v exceeds the longest delay %v (Max)", p.Initial, maxDelay)
	case p.Multiplier != 0 && !(p.Multiplier >= 1 && p.Multiplier <= 100):
		return badTask("retry: Multiplier %v out of [1,100]", p.Multiplier)
	case !(p.Jitter >= 0 && p.Jitter < 1):
		return badTask("retry: Jitter %v out of [0,1)", p.Jitter)
	}
	return nil
}

// wire is the policy as the task record holds it.
func (p RetryPolicy) wire() task.RetryPolicy {
	return task.RetryPolicy{MaxRetries: p.MaxRetries, InitialMS: ceilMillis(p.Initial), MaxMS: ceilMillis(p.Max),
		Multiplier: p.Multiplier, Jitter: p.Jitter}
}

func retryFrom(w task.RetryPolicy) RetryPolicy {
	return RetryPolicy{MaxRetries: w.MaxRetries, Initial: fromMillis(w.InitialMS), Max: fromMillis(w.MaxMS),
		Multiplier: w.Multiplier, Jitter: w.Jitter}
}

// Delay is how long the task waits before retry number n (1 for the
// first), given r, a random number in [0,1): what a worker computes.
func (p RetryPolicy) Delay(n int, r float64) time.Duration { return p.wire().Delay(n, r) }

// MarshalJSON writes the record's form.
func (p RetryPolicy) MarshalJSON() ([]byte, error) { return json.Marshal(p.wire()) }

// UnmarshalJSON reads the record's form.
func (p *RetryPolicy) UnmarshalJSON(b []byte) error {
	var w task.RetryPolicy
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = retryFrom(w)
	return nil
}

// ParseRetryPolicy reads a policy as a person writes it, in the live
// setting retry.<kind> or `client submit --retry`: comma-separated
// key=value pairs, max (MaxRetries), initial, max-delay (Go durations,
// rounded up to milliseconds), multiplier and jitter, e.g.
// "max=5,initial=1s,max-delay=5m,multiplier=2,jitter=0.2"; keys left out
// take their defaults, max is required. A bare number ("3": that many
// retries, the default backoff) and the JSON form are accepted too.
// String writes the key=value form. The parser is the one the workers
// and `client config set` use, so a policy that parses here is one a
// retry.<kind> setting accepts. Its errors wrap ErrBadTask.
func ParseRetryPolicy(s string) (RetryPolicy, error) {
	w, err := task.ParseRetryPolicy(s)
	if err != nil {
		return RetryPolicy{}, badTask("%v", err)
	}
	p := retryFrom(w)
	return p, p.Validate()
}

// String writes the policy in ParseRetryPolicy's form, leaving out the
// fields that take their defaults.
func (p RetryPolicy) String() string {
	parts := []string{"max=" + strconv.Itoa(p.MaxRetries)}
	if p.Initial != 0 {
		parts = append(parts, "initial="+p.Initial.String())
	}
	if p.Max != 0 {
		parts = append(parts, "max-delay="+p.Max.String())
	}
	if p.Multiplier != 0 {
		parts = append(parts, "multiplier="+strconv.FormatFloat(p.Multiplier, 'g', -1, 64))
	}
	if p.Jitter != 0 {
		parts = append(parts, "jitter="+strconv.FormatFloat(p.Jitter, 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}
