package task

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRetryDelayGrowsAndIsCapped(t *testing.T) {
	p := RetryPolicy{MaxRetries: 10, InitialMS: 100, MaxMS: 1000, Multiplier: 3, Jitter: 0.5}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 300 * time.Millisecond, 3: 900 * time.Millisecond, 4: time.Second, 9: time.Second} {
		if got := p.Delay(n, 0.5); got != want { // r = 0.5: no jitter
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
		lo, hi := p.Delay(n, 0), p.Delay(n, 0.999999)
		if lo < want/2 || hi > want*3/2 || lo >= hi {
			t.Errorf("Delay(%d) jitter range [%v, %v] around %v", n, lo, hi, want)
		}
	}
	if d := (RetryPolicy{MaxRetries: 1}).Delay(1, 0.5); d != DefaultRetryInitial {
		t.Errorf("defaults: %v", d)
	}
}

func TestRetryPolicyValidation(t *testing.T) {
	for _, p := range []RetryPolicy{{MaxRetries: -1}, {MaxRetries: MaxRetries + 1}, {InitialMS: -1}, {Multiplier: 0.5}, {Jitter: 1}, {Jitter: -0.1}} {
		if (Spec{Kind: "echo", Retry: &p}).Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if err := (Spec{Kind: "echo", Retry: &RetryPolicy{MaxRetries: 3}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// One parser for retry.<kind> and `client submit --retry`: its three
// forms, and the errors that name what is wrong.
func TestParseRetryPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RetryPolicy
		err  string
	}{
		{"3", RetryPolicy{MaxRetries: 3}, ""},
		{" 2 ", RetryPolicy{MaxRetries: 2}, ""},
		{`{"max_retries":5,"initial_ms":500,"jitter":0.1}`, RetryPolicy{MaxRetries: 5, InitialMS: 500, Jitter: 0.1}, ""},
		{"max=5,initial=1s,max-delay=5m,multiplier=2,jitter=0.2", RetryPolicy{MaxRetries: 5, InitialMS: 1000, MaxMS: 300000, Multiplier: 2, Jitter: 0.2}, ""},
		{"max=1,initial=1500us", RetryPolicy{MaxRetries: 1, InitialMS: 2}, ""}, // rounded up, never to none
		{"-1", RetryPolicy{}, "max_retries -1"},
		{`{"max_retries":5,"initial":500}`, RetryPolicy{}, "unknown field"},
		{`{"max_retries":5} {}`, RetryPolicy{}, "after the JSON"},
		{"often", RetryPolicy{}, "want a number of retries"},
		{"initial=1s", RetryPolicy{}, "max (the retries allowed) is required"},
		{"max=1,max=2", RetryPolicy{}, "each key once"},
		{"max=1,delay=1s", RetryPolicy{}, "unknown key"},
		{"max=1,jitter=NaN", RetryPolicy{}, "finite"},
		{"max=1,initial=-1s", RetryPolicy{}, "negative"},
		{"max=1,initial=10m", RetryPolicy{}, "exceeds"},
		{`{"max_retries":1,"initial_ms":2000,"max_ms":1000}`, RetryPolicy{}, "exceeds"},
		{"max=1001", RetryPolicy{}, "max_retries 1001"},
	} {
		p, err := ParseRetryPolicy(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, ErrMalformed) {
				t.Errorf("ParseRetryPolicy(%s) = %v, want an error containing %q (not ErrMalformed: it is no record)", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p != tc.want {
			t.Errorf("ParseRetryPolicy(%s) = %+v, %v; want %+v", tc.in, p, err, tc.want)
		}
	}
}

// The first error and the newest are kept; the count of those dropped
// between them grows; the caller's slice is left as it was.
func TestAppendAttemptError(t *testing.T) {
	var (
		errs    []AttemptError
		dropped int
	)
	for i := 1; i <= MaxAttemptErrors+5; i++ {
		before := append([]AttemptError(nil), errs...)
		next, d := AppendAttemptError(errs, dropped, AttemptError{Attempt: i, Error: strings.Repeat("x", AttemptErrorCap+i)})
		if !slices.Equal(errs, before) {
			t.Fatalf("append %d modified its input", i)
		}
		errs, dropped = next, d
	}
	if len(errs) != MaxAttemptErrors || dropped != 5 || errs[0].Attempt != 1 || errs[1].Attempt != 7 || errs[len(errs)-1].Attempt != MaxAttemptErrors+5 {
		t.Errorf("kept %d (first %d, second %d, last %d), dropped %d", len(errs), errs[0].Attempt, errs[1].Attempt, errs[len(errs)-1].Attempt, dropped)
	}
	if len(errs[0].Error) > AttemptErrorCap+64 {
		t.Errorf("an error of %d bytes kept whole", len(errs[0].Error))
	}
}

// Each retry grants one more assignment: a retried failure must not use up
// max_attempts, the budget meant for workers that die under the task.
func TestAttemptLimitCountsRetries(t *testing.T) {
	if got := (Spec{MaxAttempts: 2, Retries: 3}).AttemptLimit(); got != 5 {
		t.Errorf("AttemptLimit = %d, want 5", got)
	}
	if got := (Spec{Retries: 1}).AttemptLimit(); got != DefaultMaxAttempts+1 {
		t.Errorf("AttemptLimit = %d, want %d", got, DefaultMaxAttempts+1)
	}
}
