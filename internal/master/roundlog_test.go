package master

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Under load the rounds go to debug level, one a second to info, and that
// one says what the quiet ones did: an info log holds every task assigned.
func TestRoundLogReportsOneRoundASecondAtInfo(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	var rl roundLog
	t0 := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
	rl.report(log, t0, 5, 100)                         // a term's first round: info
	rl.report(log, t0.Add(10*time.Millisecond), 3, 97) // within the second: debug
	rl.report(log, t0.Add(20*time.Millisecond), 4, 93)
	rl.report(log, t0.Add(time.Second), 2, 91) // a second on: info, with the two before
	rl.report(log, t0.Add(time.Second+time.Millisecond), 1, 90)

	got := logs.FilterMessage("assigned tasks").All()
	levels := []zapcore.Level{zapcore.InfoLevel, zapcore.DebugLevel, zapcore.DebugLevel, zapcore.InfoLevel, zapcore.DebugLevel}
	if len(got) != len(levels) {
		t.Fatalf("%d lines, want %d: every round logs once", len(got), len(levels))
	}
	for i, e := range got {
		if e.Level != levels[i] {
			t.Errorf("round %d at %v, want %v", i, e.Level, levels[i])
		}
	}
	if f := got[0].ContextMap(); f["rounds_before"] != nil {
		t.Errorf("the first line reports rounds before it: %v", f)
	}
	f := got[3].ContextMap()
	if f["tasks"] != int64(2) || f["rounds_before"] != int64(2) || f["tasks_before"] != int64(7) {
		t.Errorf("second info line: %v, want tasks 2, rounds_before 2, tasks_before 7", f)
	}
}
