package task

import (
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
