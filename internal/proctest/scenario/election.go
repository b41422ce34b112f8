package scenario

import (
	"fmt"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// Election: four `election --json` processes stand on one path; the
// leader is stopped rounds times, alternately with SIGTERM and SIGKILL,
// and a newcomer joins after each round. At no instant may two live
// processes be elected; the next candidate in line must be elected within
// 1 s of a SIGTERM (the leader resigns) and within the session timeout +
// 1 s of a SIGKILL (its session must expire first); a SIGTERM'd process
// exits 0 within 1 s; a live process is elected at the end.
func Election(e *pt.Env, rec Recorder, rounds int) {
	t := e.TB
	r := newReport(t, rec)
	dir := e.Root + "/election"
	var procs []*pt.Proc
	n := 0
	start := func() *pt.Proc {
		n++
		p := e.Election(fmt.Sprintf("e%d", n), dir)
		procs = append(procs, p)
		return p
	}
	for range 4 {
		p := start()
		// One at a time, so the order of the line is the start order.
		p.WaitOut(pt.StartTimeout, pt.AnyOf(pt.Event("elected"), pt.Event("following")))
	}
	l, lead, err := pt.FindAny(0, "stdout", pt.Event("elected"), procs...)
	if err != nil {
		t.Fatalf("no process elected: %v", err)
	}
	r.Event(l.TS, "%s elected first", lead.Name)
	if lead != procs[0] {
		t.Errorf("%s elected first, want the first to stand (%s): %s", lead.Name, procs[0].Name, l)
	}
	var last time.Time
	for round := 1; round <= rounds; round++ {
		kill := round%2 == 0
		var others []*pt.Proc
		for _, p := range procs {
			if p != lead && len(p.Signals()) == 0 {
				others = append(others, p)
			}
		}
		var at time.Time
		bound := time.Second
		how := "SIGTERM"
		if kill {
			at, bound, how = lead.Kill(), e.SessionTimeout+time.Second, "kill -9"
		} else {
			at = lead.Term()
		}
		last = at
		r.Event(at, "round %d: %s the leader %s", round, how, lead.Name)
		l, next, err := pt.FindAny(bound+10*time.Second, "stdout", pt.All(pt.Event("elected"), pt.After(at)), others...)
		if err != nil {
			t.Fatalf("round %d: no successor elected after %s of %s: %v", round, how, lead.Name, err)
		}
		r.Event(l.TS, "round %d: %s elected", round, next.Name)
		r.Measure(fmt.Sprintf("round %d: %s of the leader → successor elected", round, how), l.TS.Sub(at), bound)
		code := lead.Wait(5 * time.Second)
		if !kill {
			if code != 0 {
				t.Errorf("round %d: %s exited %d after SIGTERM, want 0", round, lead.Name, code)
			}
			r.AtMost(fmt.Sprintf("round %d: SIGTERM → %s exited", round, lead.Name), lead.ExitedAt().Sub(at), time.Second)
		}
		if next != others[0] { // candidates queue in the order they joined
			t.Errorf("round %d: %s elected, but %s was next in line", round, next.Name, others[0].Name)
		}
		lead = next
		start().WaitOut(pt.StartTimeout, pt.Event("following"))
	}
	ck := pt.NewChecker()
	ck.Electors = procs
	ck.FaultsEnded, ck.ElectBound = last, e.SessionTimeout+time.Second
	r.Check(ck)
}
