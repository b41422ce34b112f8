// Package scenario holds the fault scenarios that both process-level suites
// replay: test/process (ZooKeeper as a local process) and test/e2e
// (ZooKeeper in Docker containers). Each scenario is written once, here,
// against a [proctest.Env], and makes every check either suite makes of it,
// so that the two cannot drift apart; a suite chooses only the ZooKeeper,
// a few sizes (rounds, tasks) and whether to keep evidence.
//
// test/e2e also keeps evidence of each run for docs/SCENARIOS.md: it
// passes a [Recorder], which is told what the scenario did, saw and
// measured. A Recorder only records; the scenario judges by itself, so a
// suite that keeps no evidence passes nil and loses no check.
package scenario

import (
	"fmt"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// Recorder is told what a scenario does and sees, for a report. Its
// methods are notifications: none of them may fail the test, and none
// needs to, since the scenario checks every bound and verdict itself.
type Recorder interface {
	// Event: what happened (or was done) at instant at.
	Event(at time.Time, format string, args ...any)
	// Measured: a duration and the bound the scenario holds it to (0:
	// none).
	Measured(name string, d, bound time.Duration)
	// Value: a number worth reporting.
	Value(name string, v float64, unit string)
	// Run: the summary and exit code of a `client run`.
	Run(label string, s pt.RunSummary, code int)
	// Note: a remark for the report.
	Note(format string, args ...any)
	// Fact: an observation a report quotes by key.
	Fact(key, value string)
	// Judged: the history checker's verdict.
	Judged(v pt.Verdict)
}

// report is a scenario's test and recorder together: what the scenario
// records goes to the recorder, what it measures against a bound is also
// checked here.
type report struct {
	t   testing.TB
	rec Recorder
}

func newReport(tb testing.TB, rec Recorder) *report {
	if rec == nil {
		rec = logRecorder{tb}
	}
	return &report{t: tb, rec: rec}
}

func (r *report) Event(at time.Time, format string, args ...any) { r.rec.Event(at, format, args...) }

// Line records a log line as an event.
func (r *report) Line(what string, l pt.Line) {
	r.rec.Event(l.TS, "%s (%s: %q)", what, l.Proc, l.Msg)
}

// Measure records d and fails the test when it exceeds bound (0: no
// bound).
func (r *report) Measure(name string, d, bound time.Duration) time.Duration {
	r.t.Helper()
	r.rec.Measured(name, d, bound)
	Within(r.t, name, d, bound)
	return d
}

// AtMost fails the test when d exceeds bound, without recording d: for
// bounds the report does not show (the e2e evidence has a fixed set of
// measures), checked all the same.
func (r *report) AtMost(what string, d, bound time.Duration) {
	r.t.Helper()
	if Within(r.t, what, d, bound) {
		r.t.Logf("%s: %v (bound %v)", what, d.Round(time.Millisecond), bound)
	}
}

func (r *report) Value(name string, v float64, unit string)   { r.rec.Value(name, v, unit) }
func (r *report) Note(format string, args ...any)             { r.rec.Note(format, args...) }
func (r *report) Fact(key, value string)                      { r.rec.Fact(key, value) }
func (r *report) Run(label string, s pt.RunSummary, code int) { r.rec.Run(label, s, code) }

// Check runs the history checker, records its verdict and fails the test
// with its problems.
//
// It also fails on a completion the checker accepts as a lost reply
// (applied although its worker logged it as dropped): these scenarios
// never disturb a worker's link to ZooKeeper, so no reply can be lost, and
// a worker that logs its own applied completion as dropped is a bug here.
func (r *report) Check(ck *pt.Checker) pt.Verdict {
	r.t.Helper()
	v := ck.Verdict()
	r.rec.Judged(v)
	v.Require(r.t)
	if n := v.Counts.LostReplies; n > 0 {
		r.t.Errorf("%d completion(s) applied although their worker logged them as dropped, with no fault on any worker's link to ZooKeeper", n)
	}
	return v
}

// Within fails tb unless d <= bound (bound 0: no bound) and says whether
// d was within it.
func Within(tb testing.TB, what string, d, bound time.Duration) bool {
	tb.Helper()
	if bound > 0 && d > bound {
		tb.Errorf("%s took %v, more than its bound %v", what, d.Round(time.Millisecond), bound)
		return false
	}
	return true
}

// logRecorder is the Recorder of a suite that keeps no evidence: it only
// logs (go test -v shows the scenario as it unfolds).
type logRecorder struct{ t testing.TB }

func (l logRecorder) Event(at time.Time, format string, args ...any) {
	l.t.Logf("[%s] %s", at.Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (l logRecorder) Measured(name string, d, bound time.Duration) {
	if bound > 0 {
		l.t.Logf("measure: %s: %v (bound %v)", name, d.Round(time.Millisecond), bound)
	} else {
		l.t.Logf("measure: %s: %v", name, d.Round(time.Millisecond))
	}
}

func (l logRecorder) Value(name string, v float64, unit string) {
	l.t.Logf("measure: %s: %g %s", name, v, unit)
}

func (l logRecorder) Run(label string, s pt.RunSummary, code int) {
	l.t.Logf("run %s: exit %d, %d/%d succeeded, %d lost, %.0f tasks/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		label, code, s.Succeeded, s.Tasks, s.Lost, s.TasksPerSec, s.LatencyP50, s.LatencyP99, s.LatencyMax)
}

func (l logRecorder) Note(format string, args ...any) { l.t.Logf("note: "+format, args...) }
func (l logRecorder) Fact(key, value string)          { l.t.Logf("fact: %s: %s", key, value) }
func (l logRecorder) Judged(v pt.Verdict)             { l.t.Logf("verdict: %s", v) }

// clientRun is a `client run` started by a scenario, and how many tasks it
// was asked for.
type clientRun struct {
	p    *pt.Proc
	want int
}

func startRuns(e *pt.Env, n, tasks, loops int, kind, data string) []clientRun {
	e.TB.Helper()
	var out []clientRun
	for range n {
		out = append(out, clientRun{p: e.StartRun(tasks, loops, kind, data), want: tasks})
	}
	return out
}

// finishRuns waits for the runs, records them, adds them to ck and
// returns the longest submit-to-result latency any of them saw.
func (r *report) finishRuns(e *pt.Env, ck *pt.Checker, runs []clientRun, timeout time.Duration) (maxLatency time.Duration) {
	r.t.Helper()
	for _, c := range runs {
		s, code := e.RunDone(c.p, timeout)
		r.Run(c.p.Name, s, code)
		ck.AddRun(c.p.Name, c.want, s, code)
		maxLatency = max(maxLatency, time.Duration(s.LatencyMax*float64(time.Millisecond)))
	}
	return maxLatency
}

// Epoch is the epoch a master logged in l (its "elected: leading" line),
// failing the test when there is none.
func Epoch(tb testing.TB, l pt.Line) int64 {
	tb.Helper()
	e, ok := l.Int("epoch")
	if !ok {
		tb.Fatalf("no epoch in %s", l)
	}
	return e
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
