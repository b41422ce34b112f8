package proctest

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tid is a task id submitted at at(sec).
func tid(sec float64, n int) string { return fmt.Sprintf("%011x%09x", at(sec).UnixMilli(), n) }

func TestSubmitTime(t *testing.T) {
	got, ok := SubmitTime(tid(1.5, 7))
	if !ok || !got.Equal(at(1.5)) {
		t.Errorf("SubmitTime = %v %v, want %v", got, ok, at(1.5))
	}
	if _, ok := SubmitTime("zz"); ok {
		t.Error("short id accepted")
	}
}

func checkNames(v Verdict, ok bool) []string {
	var out []string
	for _, c := range v.Checks {
		if c.OK == ok {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestCheckerVerdict(t *testing.T) {
	a, b, c := tid(1, 1), tid(1, 2), tid(3, 3)
	m1 := fake("master-m1", "master", "m1",
		logl(0, MsgElected, "epoch", 1),
		logl(1.1, MsgAssigned, "epoch", 1, "task", a),
		logl(1.1, MsgAssigned, "epoch", 1, "task", b),
		logl(1.1, MsgAssignedTasks, "epoch", 1, "tasks", 2))
	m2 := fake("master-m2", "master", "m2",
		logl(0.5, MsgBackup),
		logl(4, MsgElected, "epoch", 2),
		logl(4.1, MsgAssigned, "epoch", 2, "task", b),
		logl(4.1, MsgAssigned, "epoch", 2, "task", c),
		logl(4.1, MsgAssignedTasks, "epoch", 2, "tasks", 2))
	w1 := fake("worker-w1", "worker", "w1",
		logl(1.2, MsgStarted, "task", a, "attempt", 1, "epoch", 1),
		logl(1.3, MsgFinished, "task", a, "attempt", 1),
		logl(1.2, MsgStarted, "task", b, "attempt", 1, "epoch", 1),
		logl(5, MsgDropped, "task", b))
	w2 := fake("worker-w2", "worker", "w2",
		logl(4.2, MsgStarted, "task", b, "attempt", 2, "epoch", 2),
		logl(4.3, MsgFinished, "task", b, "attempt", 2),
		logl(4.2, MsgStarted, "task", c, "attempt", 1, "epoch", 2),
		logl(4.4, MsgFinished, "task", c, "attempt", 1))
	ck := NewChecker(m1, m2, w1, w2)
	ck.Submitted = []string{a, b}
	ck.Results[a] = Result{ID: a, Status: "succeeded", Worker: "w1", Attempts: 1}
	ck.Results[b] = Result{ID: b, Status: "succeeded", Worker: "w2", Attempts: 2}
	ck.AddRun("client-run", 1, RunSummary{Tasks: 1, Succeeded: 1}, 0)
	ck.Deposed(m1, at(2), "SIGSTOP")
	ck.FaultsEnded, ck.Bound = at(3.5), time.Second
	ck.Tree = &Tree{Root: "/r", Assign: map[string][]string{"w1": nil}}
	v := ck.Verdict()
	if !v.OK || len(v.Checks) != 4 {
		t.Fatalf("a clean history: %+v", v)
	}
	want := Counts{Submitted: 3, Assignments: 4, Starts: 4, Completed: 3, Results: 3, Rerun: 1, Dropped: 1, Masters: 2, Workers: 2, Elections: 2, WorstCompletionMS: 900}
	if v.Counts != want {
		t.Errorf("counts %+v, want %+v", v.Counts, want)
	}
	if !strings.HasPrefix(v.String(), "PASS") {
		t.Errorf("String() = %q", v.String())
	}

	// A lost task, a task left pending, a run that lost one, a late
	// completion and an assignment after the pause.
	m1bad := fake("master-m1", "master", "m1",
		logl(0, MsgElected, "epoch", 1),
		logl(1.1, MsgAssignedTasks, "epoch", 1, "tasks", 2),
		logl(3, MsgAssigned, "epoch", 1, "task", c),
		logl(3, MsgAssignedTasks, "epoch", 1, "tasks", 1),
		logl(3.2, MsgAssigned, "epoch", 1, "task", c))
	w2late := fake("worker-w2", "worker", "w2",
		logl(4.2, MsgStarted, "task", b, "attempt", 2, "epoch", 2),
		logl(9, MsgFinished, "task", b, "attempt", 2))
	ck = NewChecker(m1bad, m2, w1, w2late)
	ck.Submitted = []string{a, b, c}
	ck.Results[a] = Result{ID: a, Status: "succeeded", Worker: "w1", Attempts: 1}
	ck.Results[b] = Result{ID: b, Status: "succeeded", Worker: "w2", Attempts: 2}
	ck.AddRun("client-run", 2, RunSummary{Tasks: 2, Succeeded: 1, Lost: 1}, 3)
	ck.Deposed(m1bad, at(2), "SIGSTOP")
	ck.FaultsEnded, ck.Bound = at(3.5), time.Second
	ck.Tree = &Tree{Root: "/r", Tasks: map[string]string{c: "{}"}}
	v = ck.Verdict()
	if v.OK {
		t.Fatalf("a bad history passed: %+v", v)
	}
	if bad := checkNames(v, false); len(bad) != 3 || bad[0] != CheckNoTaskLost || bad[1] != CheckNoDeposedWrites || bad[2] != CheckCompletionBound {
		t.Errorf("failed checks %v, want lost, deposed and bound", bad)
	}
	if !strings.HasPrefix(v.String(), "FAIL") {
		t.Errorf("String() = %q", v.String())
	}
}

func TestCheckerElection(t *testing.T) {
	ev := func(sec float64, event string) string {
		return fmt.Sprintf(`{"event":%q,"ts":%q}`, event, ts(sec))
	}
	a := fake("a", "election", "a", ev(0, "elected"))
	a.signals = []Signal{{Sig: syscall.SIGKILL, At: at(1)}}
	b := fake("b", "election", "b", ev(0.1, "following"), ev(2.5, "elected"))
	c := fake("c", "election", "c", ev(0.2, "following"))
	ck := NewChecker()
	ck.Electors = []*Proc{a, b, c}
	ck.FaultsEnded, ck.ElectBound = at(1), 2*time.Second
	v := ck.Verdict()
	if !v.OK || len(v.Checks) != 2 || v.Counts.Elections != 2 {
		t.Fatalf("%+v", v)
	}
	ck.ElectBound = time.Second
	if v := ck.Verdict(); v.OK {
		t.Errorf("an election 1.5s after the fault passed a 1s bound: %+v", v)
	}
	b.signals = []Signal{{Sig: syscall.SIGTERM, At: at(3)}}
	if v := ck.Verdict(); v.OK {
		t.Errorf("no live leader passed: %+v", v)
	}
}

func TestCombine(t *testing.T) {
	a := Verdict{OK: true, Counts: Counts{Submitted: 2, WorstCompletionMS: 5}, Checks: []CheckResult{{Name: "x", OK: true, Detail: "fine"}}}
	b := Verdict{OK: false, Counts: Counts{Submitted: 3, WorstCompletionMS: 7}, Checks: []CheckResult{{Name: "x", OK: false, Problems: []string{"bad"}}, {Name: "y", OK: true}}}
	v := Combine([]string{"A", "B"}, []Verdict{a, b})
	if v.OK || v.Counts.Submitted != 5 || v.Counts.WorstCompletionMS != 7 || len(v.Checks) != 2 {
		t.Fatalf("%+v", v)
	}
	if x := v.Checks[0]; x.OK || x.Detail != "A: fine" || len(x.Problems) != 1 || x.Problems[0] != "B: bad" {
		t.Errorf("%+v", x)
	}
}

// A completion whose reply was lost: the worker logged it as dropped, but
// it is the only one that ever ran the task, so its own attempt landed.
func TestCheckerLostReply(t *testing.T) {
	a := tid(1, 1)
	m := fake("master-m1", "master", "m1",
		logl(0, MsgElected, "epoch", 1),
		logl(1, MsgAssigned, "epoch", 1, "task", a))
	w1 := fake("worker-w1", "worker", "w1",
		logl(1.1, MsgStarted, "task", a, "attempt", 1, "epoch", 1),
		logl(9, MsgDropped, "task", a))
	ck := NewChecker(m, w1)
	ck.Submitted = []string{a}
	ck.Results[a] = Result{ID: a, Status: "succeeded", Worker: "w1", Attempts: 1}
	ck.FaultsEnded, ck.Bound = at(8.5), time.Second
	v := ck.Verdict()
	if !v.OK || v.Counts.LostReplies != 1 || v.Counts.Completed != 1 {
		t.Fatalf("a lost reply: %+v", v)
	}
	// Run by two workers and finished by none: that is a lost task.
	w2 := fake("worker-w2", "worker", "w2", logl(5, MsgStarted, "task", a, "attempt", 2, "epoch", 1))
	ck = NewChecker(m, w1, w2)
	ck.AddRun("client-run", 1, RunSummary{Tasks: 1, Succeeded: 1}, 0)
	if v := ck.Verdict(); v.OK || v.Counts.LostReplies != 0 {
		t.Errorf("a task run twice and finished by nobody passed: %+v", v)
	}
}

// A leader cut off at 2 s: an assignment of its epoch that a worker started
// before the next leader was elected (at 3.5 s) was written while it led,
// though it never logged it (the reply was lost with the link).
func TestFencedCut(t *testing.T) {
	m1 := fake("master-m1", "master", "m1", logl(0, MsgElected, "epoch", 1))
	// m3 led a share of its own, with a newer epoch, before m1 was cut off.
	m2 := fake("master-m2", "master", "m2", logl(3.5, MsgElected, "epoch", 3))
	m3 := fake("master-m3", "master", "m3", logl(0.5, MsgElected, "epoch", 2))
	w := fake("worker-w1", "worker", "w1",
		logl(2.01, MsgStarted, "task", "z", "attempt", 1, "epoch", 1),
		logl(4, MsgStarted, "task", "y", "attempt", 1, "epoch", 1))
	h := NewHistory(m1, m2, m3, w)
	if _, p := h.Fenced(m1, at(2)); len(p) != 2 {
		t.Errorf("Fenced: want z and y flagged, got %v", p)
	}
	if _, p := h.FencedCut(m1, at(2)); len(p) != 1 || !strings.Contains(p[0], `"y"`) {
		t.Errorf("FencedCut: want only y flagged, got %v", p)
	}
}

// TestCheckerClientHistory judges a client's own record against ZooKeeper's
// log: each way a task can go wrong is reported once, under its property.
func TestCheckerClientHistory(t *testing.T) {
	ok := func(n int) string { return tid(1, n) }
	h := NewClientHistory()
	res := func(id, status, out string) Result {
		return Result{ID: id, Status: status, Output: out, Worker: "w1", Attempts: 1, FinishedAt: at(2)}
	}
	submit := func(n int, o SubmitOutcome) string {
		id := ok(n)
		h.Submitted(ClientTask{ID: id, Kind: "echo", Want: fmt.Sprint("p", n), Submitted: at(1), Outcome: o})
		return id
	}
	good, stuck, absent, landed, _, wrong, cancelled, lost, duped := submit(1, SubmitAcked), submit(2, SubmitAcked),
		submit(3, SubmitUnknown), submit(4, SubmitUnknown), submit(5, SubmitFailed), submit(6, SubmitAcked),
		submit(7, SubmitAcked), submit(8, SubmitAcked), submit(9, SubmitAcked)
	h.Read(good, res(good, "succeeded", "p1"), at(2))
	h.Absent(absent)
	h.Read(landed, res(landed, "succeeded", "p4"), at(2))
	h.Read(wrong, res(wrong, "succeeded", "p5"), at(2))
	h.Read(cancelled, res(cancelled, "cancelled", ""), at(2))
	h.Absent(lost)
	h.Read(duped, res(duped, "succeeded", "p9"), at(2))
	stranger := tid(1, 10)

	tx := &RootTxns{Root: "/r", Creates: map[string]map[string]int{PartTasks: {}, PartData: {}, PartResults: {}}, ResultAt: map[string]time.Time{}}
	for _, id := range []string{good, stuck, landed, wrong, cancelled, lost, duped, stranger} {
		tx.Creates[PartTasks][id]++
		tx.Creates[PartData][id]++
	}
	for _, id := range []string{good, landed, wrong, cancelled, duped, duped} {
		tx.Creates[PartResults][id]++
		tx.ResultAt[id] = at(2)
	}
	var lines []string
	for _, id := range []string{good, landed, wrong, duped} {
		lines = append(lines, logl(1.5, MsgStarted, "task", id, "attempt", 1), logl(2, MsgFinished, "task", id, "attempt", 1))
	}
	ck := NewChecker(fake("worker-w1", "worker", "w1", lines...))
	ck.Client, ck.Txns = h, tx
	ck.Tree, ck.Collected = &Tree{Root: "/r", Tasks: map[string]string{stuck: "{}"}}, true
	ck.Bound = time.Minute
	v := ck.Verdict()
	byName := map[string][]string{}
	for _, c := range v.Checks {
		byName[c.Name] = c.Problems
	}
	if p := byName[CheckNoTaskLost]; len(p) != 3 || !strings.Contains(p[0], stuck+" (submit acknowledged at 00:00:01.000): stuck") ||
		!strings.Contains(p[1], lost) || !strings.Contains(p[2], "1 tasks left") {
		t.Errorf("lost: %q", p)
	}
	want := []string{wrong + " (echo, submitted at 00:00:01.000): output \"p5\", want \"p6\"", cancelled + " (echo, submitted at 00:00:01.000): cancelled",
		duped + ": results/ znode created 2 times", duped + ": the client read a result created 2 times", stranger + ": a tasks/ znode was created, but no client submitted it"}
	if p := byName[CheckExactlyOnce]; len(p) != len(want) {
		t.Errorf("exactly once: %q", p)
	} else {
		for i := range want {
			if !strings.Contains(p[i], want[i]) {
				t.Errorf("exactly once problem %d: %q, want it to say %q", i, p[i], want[i])
			}
		}
	}
	c := v.Counts
	if c.Acknowledged != 6 || c.SubmitUnknown != 2 || c.UnknownApplied != 1 || c.SubmitFailed != 1 || c.Results != 4 || c.Cancelled != 1 ||
		c.Lost != 1 || c.Stuck != 1 || c.Duplicates != 1 || c.Leaks != 1 || c.Submitted != 7 {
		t.Errorf("counts %+v", c)
	}
	if len(byName[CheckHistoryComplete]) != 0 || len(byName[CheckNoDeposedWrites]) != 0 || len(byName[CheckCompletionBound]) != 0 {
		t.Errorf("checks %+v", v.Checks)
	}
}
