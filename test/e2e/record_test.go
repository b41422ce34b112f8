package e2e

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/proctest/scenario"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
)

// recorder collects a scenario's evidence and writes it when the test
// ends (passed or not) to PADDOCK_E2E_EVIDENCE/<test>.json. Everything it
// records is also logged (go test -v shows the scenario as it unfolds).
//
// It is the scenario.Recorder of the scenarios shared with test/process,
// which judge for themselves (Measured, Judged only record); Measure, Check
// and Verdict, which record and judge, serve this suite's own scenarios.
type recorder struct {
	t  *testing.T
	t0 time.Time

	mu sync.Mutex
	s  evidence.Scenario
}

var _ scenario.Recorder = (*recorder)(nil)

// newRecorder starts recording t's scenario. Call it first in the test, so
// that its cleanup runs last, after the processes are stopped and the
// containers removed, and sees whether the test failed.
func newRecorder(t *testing.T, title, about string) *recorder {
	t.Helper()
	now := time.Now()
	r := &recorder{t: t, t0: now, s: evidence.Scenario{Name: t.Name(), Title: title, About: about, Started: now}}
	t.Cleanup(r.write)
	return r
}

func (r *recorder) write() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Seconds = time.Since(r.t0).Seconds()
	r.s.Passed = !r.t.Failed()
	sort.SliceStable(r.s.Events, func(i, j int) bool { return r.s.Events[i].At < r.s.Events[j].At })
	if evidenceDir == "" {
		return
	}
	if err := evidence.Write(evidenceDir, evidence.FileName(r.s.Name), r.s); err != nil {
		r.t.Errorf("write the evidence: %v", err)
	}
}

// Setup records the deployment.
func (r *recorder) Setup(s evidence.Setup) {
	if s.TickTime == "" {
		s.TickTime = zkTick.String()
	}
	if s.Image == "" {
		s.Image = zkImage
	}
	r.mu.Lock()
	r.s.Setup = s
	r.mu.Unlock()
	// The evidence of a run with several leaders must say so: its
	// failovers are share take-overs (proctest.LeadersEnv).
	if n, _ := proctest.LeadersFromEnv(); n > 1 && s.Masters > 1 {
		r.Note("master.leaders = %d (%s): up to %d masters lead at once, each over its share of the partitions", n, proctest.LeadersEnv, n)
	}
}

// Event records what happened at instant at.
func (r *recorder) Event(at time.Time, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	sec := at.Sub(r.t0).Seconds()
	r.mu.Lock()
	r.s.Events = append(r.s.Events, evidence.Event{At: sec, What: what})
	r.mu.Unlock()
	r.t.Logf("[%6.2fs] %s", sec, what)
}

// Line records a log line as an event.
func (r *recorder) Line(what string, l proctest.Line) {
	r.Event(l.TS, "%s (%s: %q)", what, l.Proc, l.Msg)
}

// Measure records a duration, failing the test when it exceeds bound
// (bound 0: no bound).
func (r *recorder) Measure(name string, d, bound time.Duration) time.Duration {
	r.t.Helper()
	r.Measured(name, d, bound)
	scenario.Within(r.t, name, d, bound)
	return d
}

// Measured records a duration and the bound it is held to, without
// judging it (a shared scenario does that itself).
func (r *recorder) Measured(name string, d, bound time.Duration) {
	m := evidence.Measure{Name: name, Value: ms(d), Unit: "ms", OK: bound == 0 || d <= bound}
	if bound > 0 {
		m.Bound = ms(bound)
	}
	r.mu.Lock()
	r.s.Measures = append(r.s.Measures, m)
	r.mu.Unlock()
	if bound > 0 {
		r.t.Logf("measure: %s: %v (bound %v)", name, d.Round(time.Millisecond), bound)
	} else {
		r.t.Logf("measure: %s: %v", name, d.Round(time.Millisecond))
	}
}

// Value records a number.
func (r *recorder) Value(name string, v float64, unit string) {
	r.mu.Lock()
	r.s.Measures = append(r.s.Measures, evidence.Measure{Name: name, Value: v, Unit: unit, OK: true})
	r.mu.Unlock()
	r.t.Logf("measure: %s: %g %s", name, v, unit)
}

// Run records a client run's summary.
func (r *recorder) Run(label string, s proctest.RunSummary, code int) {
	r.mu.Lock()
	r.s.Runs = append(r.s.Runs, evidence.Run{Label: label, Code: code, RunSummary: s})
	r.mu.Unlock()
	r.t.Logf("run %s: exit %d, %d/%d succeeded, %d lost, %.0f tasks/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		label, code, s.Succeeded, s.Tasks, s.Lost, s.TasksPerSec, s.LatencyP50, s.LatencyP99, s.LatencyMax)
}

// Note records a remark for the report.
func (r *recorder) Note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.s.Notes = append(r.s.Notes, n)
	r.mu.Unlock()
	r.t.Log("note: " + n)
}

// Fact records an observation the report quotes (key: see scenariosdoc).
func (r *recorder) Fact(key, value string) {
	r.mu.Lock()
	if r.s.Facts == nil {
		r.s.Facts = map[string]string{}
	}
	r.s.Facts[key] = value
	r.mu.Unlock()
	r.t.Logf("fact: %s: %s", key, value)
}

// Check runs the history checker, records its verdict and fails the test
// with its problems.
func (r *recorder) Check(ck *proctest.Checker) proctest.Verdict {
	r.t.Helper()
	return r.Verdict(ck.Verdict())
}

// Verdict records a verdict and fails the test with its problems.
func (r *recorder) Verdict(v proctest.Verdict) proctest.Verdict {
	r.t.Helper()
	r.Judged(v)
	v.Require(r.t)
	return v
}

// Judged records a verdict without failing the test (a shared scenario
// does that itself).
func (r *recorder) Judged(v proctest.Verdict) {
	r.mu.Lock()
	r.s.Verdict = &v
	r.mu.Unlock()
	var b strings.Builder
	for _, c := range v.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "\n  %s %s: %s", mark, c.Name, c.Detail)
	}
	r.t.Logf("verdict: %s%s\n  counts: %+v", v, b.String(), v.Counts)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
