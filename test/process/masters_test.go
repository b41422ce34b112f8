package process

import (
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// cluster2 is two masters (m1 leading, m2 its backup), two workers and two
// clients running tasks, flowing by the time it returns.
type cluster2 struct {
	e              *pt.Env
	m1, m2         *pt.Proc
	w1, w2         *pt.Proc
	clients        []*pt.Proc
	tasksPerClient int
}

func startCluster2(t *testing.T) *cluster2 {
	t.Helper()
	e := newEnv(t)
	c := &cluster2{e: e, tasksPerClient: 120}
	c.m1 = e.Leader("m1")
	c.m2 = e.Backup("m2")
	c.w1 = e.ReadyWorker(c.m1, "w1", 4)
	c.w2 = e.ReadyWorker(c.m1, "w2", 4)
	// 0.1 s tasks, 8 loops on 8 slots: about 70 tasks/s, so the runs last
	// a few seconds without a fault and the fault hits them mid-way.
	for range 2 {
		c.clients = append(c.clients, e.StartRun(c.tasksPerClient, 4, "sleep", "0.1"))
	}
	c.w1.WaitLogN(pt.StartTimeout, 5, pt.Msg(pt.MsgFinished))
	c.w2.WaitLogN(pt.StartTimeout, 5, pt.Msg(pt.MsgFinished))
	return c
}

// finish waits for the clients and checks that every task succeeded
// exactly once, none taking longer than maxLatency from submission to
// result (the fault's outage plus a task's run).
func (c *cluster2) finish(t *testing.T, maxLatency time.Duration) *pt.History {
	t.Helper()
	for _, cl := range c.clients {
		s, code := c.e.RunDone(cl, 90*time.Second)
		if code != 0 || s.Tasks != c.tasksPerClient || s.Succeeded != c.tasksPerClient || s.Lost != 0 {
			t.Errorf("%s: exit %d, summary %+v", cl.Name, code, s)
		}
		t.Logf("%s: %d tasks in %.2fs, latency p50 %.0fms, max %.0fms", cl.Name, s.Tasks, s.Seconds, s.LatencyP50, s.LatencyMax)
		if lat := time.Duration(s.LatencyMax * float64(time.Millisecond)); lat > maxLatency {
			t.Errorf("%s: a task took %v from submission to result, more than %v", cl.Name, lat, maxLatency)
		}
	}
	h := c.e.History()
	h.Check(t)
	total := len(c.clients) * c.tasksPerClient
	if got := len(h.Finished()); got != total {
		t.Errorf("workers logged %d completed tasks, want %d", got, total)
	}
	quiescent(t, c.e, true)
	return h
}

func epochOf(t *testing.T, l pt.Line) int64 {
	t.Helper()
	e, ok := l.Int("epoch")
	if !ok {
		t.Fatalf("no epoch in %s", l)
	}
	return e
}

// 2/2/2: the leader is killed with SIGKILL while two clients run. The
// backup takes over once the leader's session expires and assigns within
// session timeout + 1 tick + 1.5 s of the kill.
func TestLeaderKilled(t *testing.T) {
	c := startCluster2(t)
	e, m1, m2 := c.e, c.m1, c.m2
	old := epochOf(t, m1.WaitLog(0, pt.Msg(pt.MsgElected)))
	killed := m1.Kill()
	m1.Wait(5 * time.Second)
	bound := e.SessionTimeout + tickTime + 1500*time.Millisecond
	el := m2.WaitLog(bound+10*time.Second, pt.Msg(pt.MsgElected))
	first := m2.WaitLog(bound+10*time.Second, pt.Msg(pt.MsgAssigned))
	t.Logf("new leader elected %v after the kill", el.TS.Sub(killed).Round(time.Millisecond))
	atMost(t, "failover (kill -9 of the leader to the first assignment by the new one)", first.TS.Sub(killed), bound)
	if ep := epochOf(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, old %d", ep, old)
	}
	c.finish(t, bound+time.Second)
}

// 2/2/2: the leader gets SIGTERM while two clients run: it resigns at once
// and exits 0, and the backup takes over within 1 s.
func TestLeaderTerminated(t *testing.T) {
	c := startCluster2(t)
	m1, m2 := c.m1, c.m2
	old := epochOf(t, m1.WaitLog(0, pt.Msg(pt.MsgElected)))
	termed := m1.Term()
	el := m2.WaitLog(10*time.Second, pt.Msg(pt.MsgElected))
	first := m2.WaitLog(10*time.Second, pt.Msg(pt.MsgAssigned))
	if code := m1.Wait(5 * time.Second); code != 0 {
		t.Errorf("master m1 exited %d after SIGTERM, want 0", code)
	}
	t.Logf("m1 exited %v after SIGTERM", m1.ExitedAt().Sub(termed).Round(time.Millisecond))
	m1.WaitLog(0, pt.Msg(pt.MsgResigned))
	atMost(t, "takeover (SIGTERM of the leader to the backup elected)", el.TS.Sub(termed), time.Second)
	atMost(t, "takeover (SIGTERM of the leader to the first assignment by the new one)", first.TS.Sub(termed), time.Second)
	if ep := epochOf(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, old %d", ep, old)
	}
	c.finish(t, 2*time.Second)
}

// Master lag: the leader is frozen (SIGSTOP) past its session timeout while
// tasks flow; the backup takes over; the old leader is continued. It must
// find itself deposed, stand by as a backup, and assign nothing after it
// woke: its fence (candidacy + epoch) no longer holds.
func TestLeaderPaused(t *testing.T) {
	c := startCluster2(t)
	e, m1, m2 := c.e, c.m1, c.m2
	stopped := m1.Stop()
	el := m2.WaitLog(e.SessionTimeout+10*time.Second, pt.Msg(pt.MsgElected))
	// A bit more: the new leader has written with its epoch.
	m2.WaitLog(10*time.Second, pt.Msg(pt.MsgAssigned))
	continued := m1.Cont()
	if d := continued.Sub(stopped); d <= e.SessionTimeout {
		t.Fatalf("paused for %v only, not past the session timeout %v", d, e.SessionTimeout)
	}
	t.Logf("m1 paused %v; m2 elected %v after the pause began", continued.Sub(stopped).Round(time.Millisecond),
		el.TS.Sub(stopped).Round(time.Millisecond))

	woke := m1.WaitLog(10*time.Second, pt.All(pt.AnyOf(pt.Msg(pt.MsgDeposed), pt.Msg(pt.MsgSessionExpired)), pt.After(stopped)))
	m1.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgBackup), pt.After(woke.TS)))
	if _, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgDeposed), pt.After(stopped))); err != nil {
		t.Errorf("m1 did not log %q after it woke", pt.MsgDeposed)
	}
	t.Logf("m1 woke: %q %v after SIGCONT", woke.Msg, woke.TS.Sub(continued).Round(time.Millisecond))

	h := c.finish(t, e.SessionTimeout+tickTime+2500*time.Millisecond)
	old, problems := h.Fenced(m1, stopped)
	pt.Require(t, "fencing of the paused master", problems)
	if ep := epochOf(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, paused leader's %d", ep, old)
	}
	if l, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgElected), pt.After(stopped))); err == nil {
		t.Errorf("the paused master was elected again while the new leader ran: %s", l)
	}
	if n := len(pt.Filter(m1.Logs(), pt.All(pt.Msg(pt.MsgAssigned), pt.After(stopped)))); n > 0 {
		t.Logf("m1 logged %d assignments of its in-flight batch after SIGCONT (applied before it froze)", n)
	}
	if tr := e.Tree(); tr.Epoch.Epoch != epochOf(t, el) || tr.Epoch.Leader != "m2" {
		t.Errorf("epoch znode %+v, want epoch %d led by m2", tr.Epoch, epochOf(t, el))
	}
}
