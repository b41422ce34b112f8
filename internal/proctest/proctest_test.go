package proctest

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseLine(t *testing.T) {
	now := time.Now()
	l := parseLine("w", "stderr", 3, `{"level":"info","ts":"2026-11-21T11:27:13.442319641Z","logger":"worker","msg":"task started","id":"w1","task":"1a1fddc441985b8c43e1","kind":"sleep","attempt":1,"epoch":12345678901}`, now)
	if !l.JSON || l.Msg != MsgStarted || l.Level != "info" || l.Str("task") != "1a1fddc441985b8c43e1" || l.Str("id") != "w1" {
		t.Fatalf("%+v", l)
	}
	if e, ok := l.Int("epoch"); !ok || e != 12345678901 {
		t.Errorf("epoch %d %v", e, ok)
	}
	if l.Str("attempt") != "1" || l.TS.Nanosecond() != 442319641 {
		t.Errorf("attempt %q ts %v", l.Str("attempt"), l.TS)
	}
	if !All(Msg(MsgStarted), Field("task", "1a1fddc441985b8c43e1"))(l) || Msg(MsgFinished)(l) {
		t.Error("predicates")
	}
	p := parseLine("c", "stderr", 0, "submitted 1a1fddc441985b8c43e1; waiting for its result", now)
	if p.JSON || !p.TS.Equal(now) || !Contains("waiting")(p) {
		t.Errorf("%+v", p)
	}
	ev := parseLine("e", "stdout", 0, `{"event":"elected","id":"e1","ts":"2026-11-21T11:27:13Z","candidate":"c"}`, now)
	if !Event("elected")(ev) || ev.TS.Year() != 2026 {
		t.Errorf("%+v", ev)
	}
}

func testEnv(t *testing.T) *Env {
	return NewEnv(t, Bins{}, "127.0.0.1:1")
}

func sh(e *Env, name, script string) *Proc {
	e.TB.Helper()
	return e.Start(name, "sh", "", "/bin/sh", []string{"-c", script})
}

func TestProcWaitLog(t *testing.T) {
	e := testEnv(t)
	p := sh(e, "talker", `
		echo '{"msg":"one","n":1}' >&2
		sleep 0.2
		echo out
		echo '{"msg":"two","n":2}' >&2
		printf 'no newline' >&2
		exit 7`)
	start := time.Now()
	l := p.WaitLog(5*time.Second, Msg("two"))
	if n, _ := l.Int("n"); n != 2 || time.Since(start) > 3*time.Second {
		t.Errorf("%+v", l)
	}
	if got := p.Wait(5 * time.Second); got != 7 {
		t.Errorf("exit %d", got)
	}
	if _, err := p.FindLog(5*time.Second, Msg("three")); !errors.Is(err, ErrExited) {
		t.Errorf("FindLog after exit: %v", err)
	}
	if _, err := p.FindLog(0, Contains("no newline")); err != nil {
		t.Errorf("unterminated last line: %v", err)
	}
	if p.Stdout() != "out\n" || len(p.Logs()) != 3 {
		t.Errorf("stdout %q, %d log lines", p.Stdout(), len(p.Logs()))
	}
	// Another process's line wakes FindAny.
	q := sh(e, "late", `sleep 0.3; echo '{"msg":"late"}' >&2; sleep 5`)
	if _, who, err := FindAny(5*time.Second, "stderr", Msg("late"), p, q); err != nil || who != q {
		t.Errorf("FindAny: %v %v", who, err)
	}
	if _, err := q.FindLog(100*time.Millisecond, Msg("never")); err == nil || errors.Is(err, ErrExited) {
		t.Errorf("FindLog timeout: %v", err)
	}
}

func TestProcSignals(t *testing.T) {
	e := testEnv(t)
	// A loop that prints a line every 20ms: SIGSTOP freezes it.
	p := sh(e, "ticker", `trap 'echo term >&2; exit 0' TERM; i=0; while :; do i=$((i+1)); echo "$i"; sleep 0.02; done`)
	p.WaitOut(5*time.Second, Contains("3"))
	p.Stop()
	n := len(p.Out())
	time.Sleep(300 * time.Millisecond) // not synchronisation: it must print nothing meanwhile
	if m := len(p.Out()); m > n+1 {    // one line may have been in the pipe
		t.Errorf("printed %d lines while stopped", m-n)
	}
	p.Cont()
	if _, err := p.FindOut(5*time.Second, Contains(fmt.Sprint(n+2))); err != nil {
		t.Errorf("no progress after SIGCONT: %v", err)
	}
	p.Term()
	if code := p.Wait(5 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	k := sh(e, "victim", `exec sleep 30`)
	at := k.Kill()
	if code := k.Wait(5 * time.Second); code != -1 {
		t.Errorf("exit %d after SIGKILL", code)
	}
	if !k.KilledAt().Equal(at) || len(k.Signals()) != 1 || k.Signals()[0].Sig != syscall.SIGKILL {
		t.Errorf("signals %v", k.Signals())
	}
	// Left running, stopped: the Env's cleanup must still kill it.
	var s *Proc
	t.Run("leave-stopped", func(t *testing.T) {
		s = sh(testEnv(t), "stopped", `exec sleep 30`)
		s.Stop()
	})
	if !s.Exited() {
		t.Error("cleanup left a stopped process running")
	}
}

// fake builds a process from lines, without running anything.
func fake(name, role, id string, lines ...string) *Proc {
	p := &Proc{Name: name, Role: role, ID: id, done: make(chan struct{})}
	p.out = &stream{proc: name, name: "stdout", changed: make(chan struct{})}
	p.err = &stream{proc: name, name: "stderr", changed: make(chan struct{})}
	for _, l := range lines {
		s := p.err
		if strings.Contains(l, `"event"`) {
			s = p.out
		}
		_, _ = s.Write([]byte(l + "\n"))
	}
	return p
}

func ts(sec float64) string {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(sec * float64(time.Second))).Format(time.RFC3339Nano)
}

func at(sec float64) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(sec * float64(time.Second)))
}

func logl(sec float64, msg string, kv ...any) string {
	s := fmt.Sprintf(`{"ts":%q,"level":"info","msg":%q`, ts(sec), msg)
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			s += fmt.Sprintf(`,%q:%q`, kv[i], v)
		default:
			s += fmt.Sprintf(`,%q:%v`, kv[i], v)
		}
	}
	return s + "}"
}

func TestHistoryExactlyOnce(t *testing.T) {
	w1 := fake("worker-w1", "worker", "w1",
		logl(1, MsgStarted, "task", "a", "attempt", 1, "epoch", 1),
		logl(2, MsgFinished, "task", "a", "attempt", 1, "status", "succeeded"))
	w2 := fake("worker-w2", "worker", "w2",
		logl(1.5, MsgStarted, "task", "a", "attempt", 2, "epoch", 1),
		logl(2.5, MsgDropped, "task", "a"))
	m := fake("master-m1", "master", "m1", logl(0, MsgElected, "epoch", 1))
	h := NewHistory(m, w1, w2)
	if p := h.ExactlyOnce(); len(p) != 0 {
		t.Errorf("dropped duplicate flagged: %v", p)
	}
	if p := h.Results([]string{"a"}, map[string]Result{"a": {ID: "a", Status: "succeeded", Worker: "w1", Attempts: 1}}); len(p) != 0 {
		t.Errorf("results: %v", p)
	}
	if p := h.Results([]string{"a", "b"}, map[string]Result{"a": {ID: "a", Status: "succeeded", Worker: "w2", Attempts: 2}}); len(p) != 2 {
		t.Errorf("want the wrong worker and the lost task flagged: %v", p)
	}
	w2bad := fake("worker-w2", "worker", "w2",
		logl(1.5, MsgStarted, "task", "a", "attempt", 1, "epoch", 1),
		logl(2.5, MsgFinished, "task", "a", "attempt", 2, "status", "succeeded"))
	h = NewHistory(m, w1, w2bad)
	if p := h.ExactlyOnce(); len(p) != 1 {
		t.Errorf("double completion not flagged: %v", p)
	}
	if p := h.AttemptsDistinct(); len(p) != 1 {
		t.Errorf("one attempt on two workers not flagged: %v", p)
	}
	// A worker restarted under its id runs again what its directory held.
	w1again := fake("worker-w1.2", "worker", "w1", logl(3, MsgStarted, "task", "a", "attempt", 1, "epoch", 1))
	if p := NewHistory(m, w1, w1again).AttemptsDistinct(); len(p) != 0 {
		t.Errorf("a restarted worker's rerun flagged: %v", p)
	}
	// w2's completion of attempt 2 went out as w2 lost its connection;
	// the task went back and w1 completed attempt 3 first; w2 found the
	// task and its result gone: its "outcome unknown" is not a completion.
	w2unknown := fake("worker-w2", "worker", "w2",
		logl(1.5, MsgStarted, "task", "a", "attempt", 2, "epoch", 1),
		logl(2.5, MsgOutcomeUnknown, "task", "a", "attempt", 2))
	w1third := fake("worker-w1", "worker", "w1",
		logl(2, MsgStarted, "task", "a", "attempt", 3, "epoch", 2),
		logl(2.2, MsgFinished, "task", "a", "attempt", 3))
	h2 := NewHistory(m, w1third, w2unknown)
	if f := h2.FinishedGiven(map[string]Result{"a": {Worker: "w1", Attempts: 3}}); len(f["a"]) != 1 || f["a"][0].Proc != "worker-w1" {
		t.Errorf("FinishedGiven kept %v", f)
	}
	if f := h2.FinishedGiven(map[string]Result{"a": {Worker: "w2", Attempts: 2}}); len(f["a"]) != 2 {
		t.Errorf("an outcome-unknown line the result confirms was dropped: %v", f)
	}
	if p := h.Completions(1); len(p) != 0 {
		t.Errorf("completions: %v", p)
	}
	if p := h.Completions(3); len(p) != 1 {
		t.Errorf("missing completions not flagged: %v", p)
	}
}

func TestHistoryMasters(t *testing.T) {
	m1 := fake("master-m1", "master", "m1",
		logl(0, MsgElected, "epoch", 1),
		logl(1, MsgAssigned, "epoch", 1, "task", "a"),
		logl(1, MsgAssignedTasks, "epoch", 1, "tasks", 1),
		// SIGSTOP at 2, SIGCONT at 4: the rest of a batch in flight is
		// allowed, up to its "assigned tasks" line.
		logl(4, MsgAssigned, "epoch", 1, "task", "b"),
		logl(4, MsgAssignedTasks, "epoch", 1, "tasks", 1),
		logl(4.1, MsgSessionExpired),
		logl(4.2, MsgDeposed, "epoch", 1),
		logl(4.3, MsgBackup))
	m2 := fake("master-m2", "master", "m2",
		logl(0.5, MsgBackup),
		logl(3.5, MsgElected, "epoch", 2),
		logl(3.6, MsgAssigned, "epoch", 2, "task", "c"))
	w := fake("worker-w1", "worker", "w1",
		logl(1.1, MsgStarted, "task", "a", "attempt", 1, "epoch", 1),
		logl(4.1, MsgStarted, "task", "b", "attempt", 1, "epoch", 1),
		logl(3.7, MsgStarted, "task", "c", "attempt", 1, "epoch", 2))
	h := NewHistory(m1, m2, w)
	for what, p := range map[string][]string{"deposed": h.DeposedQuiet(), "epochs": h.Epochs()} {
		if len(p) != 0 {
			t.Errorf("%s: %v", what, p)
		}
	}
	if e, p := h.Fenced(m1, at(2)); e != 1 || len(p) != 0 {
		t.Errorf("fenced: epoch %d, %v", e, p)
	}

	bad := fake("master-m1", "master", "m1",
		logl(0, MsgElected, "epoch", 1),
		logl(1, MsgAssignedTasks, "epoch", 1, "tasks", 1),
		logl(4, MsgAssigned, "epoch", 1, "task", "b"),
		logl(4, MsgAssignedTasks, "epoch", 1, "tasks", 1),
		logl(4.1, MsgAssigned, "epoch", 1, "task", "d"), // a second batch after waking
		logl(4.2, MsgDeposed, "epoch", 1),
		logl(4.3, MsgAssigned, "epoch", 1, "task", "e"), // after stepping down
		logl(5, MsgElected, "epoch", 2))                 // epoch 2 again
	wbad := fake("worker-w1", "worker", "w1", logl(4.5, MsgStarted, "task", "x", "attempt", 1, "epoch", 1))
	h = NewHistory(bad, m2, wbad)
	if _, p := h.Fenced(bad, at(2)); len(p) != 3 { // d, e, and x run with epoch 1
		t.Errorf("fenced: want 3 problems, got %v", p)
	}
	if p := h.DeposedQuiet(); len(p) != 1 {
		t.Errorf("deposed: want 1 problem, got %v", p)
	}
	if p := h.Epochs(); len(p) != 2 { // elected twice, and not increasing
		t.Errorf("epochs: want 2 problems, got %v", p)
	}
}

func TestSingleLeader(t *testing.T) {
	ev := func(sec float64, event string) string {
		return fmt.Sprintf(`{"event":%q,"ts":%q}`, event, ts(sec))
	}
	a := fake("a", "election", "a", ev(0, "elected"))
	a.signals = []Signal{{Sig: syscall.SIGTERM, At: at(1)}}
	b := fake("b", "election", "b", ev(0.1, "following"), ev(1.01, "elected"))
	c := fake("c", "election", "c", ev(0.2, "following"))
	if p := SingleLeader([]*Proc{a, b, c}); len(p) != 0 {
		t.Errorf("%v", p)
	}
	c2 := fake("c", "election", "c", ev(0.2, "following"), ev(1.5, "elected"))
	if p := SingleLeader([]*Proc{a, b, c2}); len(p) != 1 {
		t.Errorf("two leaders at 1.5s not flagged: %v", p)
	}
}

// Two leaders of partitions take over concurrently: the one whose
// take-over committed first (epoch 9) logged it after the other (epoch
// 10). That is no problem by the logs (the transaction log orders them);
// the same order between whole-tree leaders, or within one master, is.
func TestEpochsOfConcurrentPartitionLeaders(t *testing.T) {
	m3 := fake("master-m3", "master", "m3", logl(1, MsgElected, "epoch", 10, "partitions", rawJSON("[1,4]")))
	m1 := fake("master-m1", "master", "m1", logl(1.01, MsgElected, "epoch", 9, "partitions", rawJSON("[2,5]")))
	if p := NewHistory(m3, m1).Epochs(); len(p) != 0 {
		t.Errorf("concurrent partition leaders: %v", p)
	}
	w3 := fake("master-m3", "master", "m3", logl(1, MsgElected, "epoch", 10))
	w1 := fake("master-m1", "master", "m1", logl(1.01, MsgElected, "epoch", 9))
	if p := NewHistory(w3, w1).Epochs(); len(p) != 1 {
		t.Errorf("whole-tree leaders out of order: want 1 problem, got %v", p)
	}
	one := fake("master-m1", "master", "m1",
		logl(1, MsgElected, "epoch", 10, "partitions", rawJSON("[1,4]")),
		logl(2, MsgElected, "epoch", 9, "partitions", rawJSON("[2,5]")))
	if p := NewHistory(one).Epochs(); len(p) != 1 {
		t.Errorf("one master's epochs going down: want 1 problem, got %v", p)
	}
}

// rawJSON is a log field's value written as it is (logl quotes strings).
type rawJSON string

func (r rawJSON) String() string { return string(r) }
