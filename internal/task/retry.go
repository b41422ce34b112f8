package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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

// Validate checks a policy read from a Spec: a record out of range is
// malformed (ErrMalformed), as any other bad field of the Spec.
func (p RetryPolicy) Validate() error {
	if err := p.check(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// check is Validate without ErrMalformed: a setting or a flag that does not
// parse is the user's typo, not a record another tool broke.
func (p RetryPolicy) check() error {
	switch {
	case p.MaxRetries < 0 || p.MaxRetries > MaxRetries:
		return fmt.Errorf("retry.max_retries %d out of [0,%d]", p.MaxRetries, MaxRetries)
	case p.InitialMS < 0 || p.MaxMS < 0:
		return errors.New("negative retry delay")
	case p.Multiplier != 0 && (p.Multiplier < 1 || p.Multiplier > 100 || math.IsNaN(p.Multiplier)):
		return fmt.Errorf("retry.multiplier %v out of [1,100]", p.Multiplier)
	case p.Jitter < 0 || p.Jitter >= 1 || math.IsNaN(p.Jitter):
		return fmt.Errorf("retry.jitter %v out of [0,1)", p.Jitter)
	}
	return nil
}

// ParseRetryPolicy is the one parser of a retry policy written by a
// person: the live setting retry.<kind> (checked by `client config set`,
// read by every worker) and `client submit --retry` both take it, so a
// policy that works in one works in the other. It accepts
//
//   - a whole number: that many retries, the default backoff ("3");
//   - comma-separated key=value pairs, each key once, max required:
//     max (retries), initial and max-delay (Go durations, rounded up to
//     milliseconds), multiplier, jitter
//     ("max=5,initial=1s,max-delay=5m,multiplier=2,jitter=0.2");
//   - the record's JSON form, unknown fields refused
//     ({"max_retries":5,"initial_ms":500}).
//
// Besides the record's ranges it refuses an initial delay over the
// longest one: the cap would silently override it.
func ParseRetryPolicy(s string) (RetryPolicy, error) {
	var (
		p   RetryPolicy
		err error
	)
	v := strings.TrimSpace(s)
	if n, aerr := strconv.Atoi(v); aerr == nil {
		p.MaxRetries = n
	} else if strings.HasPrefix(v, "{") {
		dec := json.NewDecoder(bytes.NewReader([]byte(v)))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&p); err == nil && dec.More() {
			err = errors.New("text after the JSON object")
		}
	} else {
		p, err = parsePairs(v)
	}
	if err == nil {
		err = p.check()
	}
	if err == nil {
		longest := millis(p.MaxMS)
		if longest == 0 {
			longest = DefaultRetryMax
		}
		if millis(p.InitialMS) > longest {
			err = fmt.Errorf("initial delay %v exceeds the longest delay %v (max-delay)", millis(p.InitialMS), longest)
		}
	}
	if err != nil {
		return RetryPolicy{}, fmt.Errorf("retry policy %q: %w", s, err)
	}
	return p, nil
}

// parsePairs reads ParseRetryPolicy's key=value form.
func parsePairs(s string) (RetryPolicy, error) {
	var p RetryPolicy
	seen := map[string]bool{}
	for _, field := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || seen[k] {
			return RetryPolicy{}, errors.New("want a number of retries, key=value pairs with each key once (max=5,initial=1s,max-delay=5m,multiplier=2,jitter=0.2), or a JSON policy ({\"max_retries\":5,\"initial_ms\":500})")
		}
		seen[k] = true
		if err := p.set(k, v); err != nil {
			return RetryPolicy{}, fmt.Errorf("%s %q: %v", k, v, err)
		}
	}
	if !seen["max"] {
		return RetryPolicy{}, errors.New("max (the retries allowed) is required")
	}
	return p, nil
}

// set parses one key of the key=value form.
func (p *RetryPolicy) set(k, v string) error {
	var err error
	switch k {
	case "max":
		p.MaxRetries, err = strconv.Atoi(v)
	case "initial":
		p.InitialMS, err = parseMillis(v)
	case "max-delay":
		p.MaxMS, err = parseMillis(v)
	case "multiplier":
		p.Multiplier, err = parseFinite(v)
	case "jitter":
		p.Jitter, err = parseFinite(v)
	default:
		err = errors.New("unknown key: want max, initial, max-delay, multiplier or jitter")
	}
	return err
}

// parseMillis reads a Go duration as the record's milliseconds, rounding
// up: a delay asked for is never shortened to none.
func parseMillis(v string) (int64, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("negative retry delay")
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond), nil
}

func parseFinite(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		err = errors.New("not a finite number")
	}
	return f, err
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

// AttemptErrorCap bounds one attempt's error text: MaxAttemptErrors of them
// must fit in a Spec (MaxRecord) beside everything else.
const AttemptErrorCap = 4 << 10

// AppendAttemptError adds e to errs, keeping the first error (often the
// telling one: later ones may only be consequences of it) and the newest,
// at most MaxAttemptErrors; dropped counts those left out and is returned
// updated. errs itself is not modified: it may be a Spec's that is still
// in use.
func AppendAttemptError(errs []AttemptError, dropped int, e AttemptError) ([]AttemptError, int) {
	e.Error = Printable([]byte(e.Error), AttemptErrorCap)
	out := append(slices.Clip(errs), e)
	for len(out) > MaxAttemptErrors {
		out = slices.Delete(out, 1, 2)
		dropped++
	}
	return out, dropped
}
