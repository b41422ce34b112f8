package paddock_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock"
)

func TestParseRetryPolicy(t *testing.T) {
	for in, want := range map[string]paddock.RetryPolicy{
		"max=5,initial=1s,max-delay=5m,multiplier=2,jitter=0.2": {MaxRetries: 5, Initial: time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.2},
		"max=0":                               {},
		" max=3 , initial=250ms ":             {MaxRetries: 3, Initial: 250 * time.Millisecond},
		"jitter=0.5,max=1":                    {MaxRetries: 1, Jitter: 0.5},
		"max=2,max-delay=10s":                 {MaxRetries: 2, Max: 10 * time.Second},
		"max=1000,multiplier=1.5":             {MaxRetries: 1000, Multiplier: 1.5},
		"max=1,initial=0s,jitter=0":           {MaxRetries: 1},
		"3":                                   {MaxRetries: 3},
		`{"max_retries":2,"initial_ms":1500}`: {MaxRetries: 2, Initial: 1500 * time.Millisecond},
	} {
		got, err := paddock.ParseRetryPolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseRetryPolicy(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		if back, err := paddock.ParseRetryPolicy(got.String()); err != nil || back != got {
			t.Errorf("%q: String %q reads back as %+v, %v", in, got.String(), back, err)
		}
	}
	for in, says := range map[string]string{
		"":                              "key=value",
		"often":                         "a number of retries",
		"initial=1s":                    "max",
		"max=1,max=2":                   "each key once",
		"max=x":                         `max "x"`,
		"max=1,delay=1s":                "unknown key",
		"max=1,initial=soon":            `initial "soon"`,
		"max=1,jitter=NaN":              "finite",
		"max=1,multiplier=Inf":          "finite",
		"max=1001":                      "max_retries",
		"max=1,jitter=1":                "jitter",
		"max=1,multiplier=0.9":          "multiplier",
		"max=1,initial=-1s":             "negative",
		"max=1,initial=10m":             "exceeds",
		"max=1,initial=2s,max-delay=1s": "exceeds",
	} {
		_, err := paddock.ParseRetryPolicy(in)
		if !errors.Is(err, paddock.ErrBadTask) || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseRetryPolicy(%q): %v; want ErrBadTask saying %q", in, err, says)
		}
	}
}

func TestRetryPolicyDelay(t *testing.T) {
	p := paddock.RetryPolicy{MaxRetries: 5, Initial: time.Second, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.1}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second} {
		if got := p.Delay(n, 0.5); got != want { // r = 0.5: no jitter
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}
