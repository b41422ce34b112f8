package process

import (
	"fmt"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// Four `election --json` processes stand on one path; the leader is
// stopped five times, alternately with SIGTERM and SIGKILL, and replaced
// by a newcomer each time. At no instant may two live processes be
// elected; a successor must be elected within 1 s of a SIGTERM (the
// leader resigns) and within session timeout + 1 s of a SIGKILL; a
// SIGTERM'd process exits 0 at once.
func TestElection(t *testing.T) {
	e := newEnv(t)
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
	if lead != procs[0] {
		t.Errorf("%s elected first, want the first to stand (%s): %s", lead.Name, procs[0].Name, l)
	}

	for round := 1; round <= 5; round++ {
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
			at, bound, how = lead.Kill(), e.SessionTimeout+time.Second, "SIGKILL"
		} else {
			at = lead.Term()
		}
		l, next, err := pt.FindAny(bound+10*time.Second, "stdout", pt.All(pt.Event("elected"), pt.After(at)), others...)
		if err != nil {
			t.Fatalf("round %d: no successor elected after %s of %s: %v", round, how, lead.Name, err)
		}
		atMost(t, fmt.Sprintf("round %d: %s of leader %s to %s elected", round, how, lead.Name, next.Name), l.TS.Sub(at), bound)
		if kill {
			lead.Wait(5 * time.Second)
		} else {
			code := lead.Wait(5 * time.Second)
			if code != 0 {
				t.Errorf("round %d: %s exited %d after SIGTERM, want 0", round, lead.Name, code)
			}
			atMost(t, fmt.Sprintf("round %d: exit of %s after SIGTERM", round, lead.Name), lead.ExitedAt().Sub(at), time.Second)
		}
		if next != others[0] { // candidates queue in the order they joined
			t.Errorf("round %d: %s elected, but %s was next in line", round, next.Name, others[0].Name)
		}
		lead = next
		start().WaitOut(pt.StartTimeout, pt.Event("following"))
	}
	pt.Require(t, "at most one leader at any instant", pt.SingleLeader(procs))
}
