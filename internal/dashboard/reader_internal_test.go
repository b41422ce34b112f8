package dashboard

import (
	"testing"
	"time"
)

// The throughput is the counters' rate over the readings of the last
// minute; a counter that goes back starts over.
func TestThroughputWindow(t *testing.T) {
	r := &Reader{}
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	if tp := r.record(sample{at: at(0), submitted: 100, ended: 50}); tp != nil {
		t.Fatalf("one reading gave %+v", tp)
	}
	tp := r.record(sample{at: at(2), submitted: 120, ended: 60})
	if tp == nil || tp.WindowSeconds != 2 || tp.SubmittedPerSecond != 10 || tp.EndedPerSecond != 5 {
		t.Fatalf("after 2 s: %+v", tp)
	}
	// 70 s later the first two readings are out of the window.
	r.record(sample{at: at(40), submitted: 200, ended: 100})
	tp = r.record(sample{at: at(70), submitted: 230, ended: 160})
	if tp == nil || tp.WindowSeconds != 30 || tp.SubmittedPerSecond != 1 || tp.EndedPerSecond != 2 {
		t.Fatalf("after 70 s: %+v", tp)
	}
	if tp := r.record(sample{at: at(71), submitted: 5, ended: 1}); tp != nil {
		t.Fatalf("a counter went back, yet %+v", tp)
	}
	if n := len(r.samples); n != 1 {
		t.Fatalf("%d samples kept after a reset", n)
	}
}
