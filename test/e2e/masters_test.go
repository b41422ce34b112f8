package e2e

import (
	"fmt"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
)

// cluster2 is two masters (m1 leading, m2 its backup), two workers and two
// client runs, with tasks flowing by the time it returns.
type cluster2 struct {
	e      *pt.Env
	m1, m2 *pt.Proc
	w1, w2 *pt.Proc
	runs   []clientRun
}

const (
	c2Tasks = 100 // per client run
	c2Loops = 4
)

// startCluster2 starts the cluster against zkAddr; m1's extra flags come
// first in m1Extra (e.g. its own --zk through a proxy).
func startCluster2(t *testing.T, r *recorder, zkAddr string, m1Extra ...string) *cluster2 {
	t.Helper()
	e := newEnv(t, zkAddr)
	r.Setup(evidence.Setup{
		ZooKeeper: "standalone, 1 container", SessionTimeout: e.SessionTimeout.String(), Masters: 2,
		Workers: "2 (concurrency 4)", Clients: fmt.Sprintf("2 × client run (%d tasks, %d loops)", c2Tasks, c2Loops), Tasks: "sleep 0.1 s",
	})
	c := &cluster2{e: e}
	c.m1 = e.Leader("m1", m1Extra...)
	c.m2 = e.Backup("m2")
	c.w1 = e.ReadyWorker(c.m1, "w1", 4)
	c.w2 = e.ReadyWorker(c.m1, "w2", 4)
	// 0.1 s tasks, 8 loops on 8 slots: about 70 tasks/s, so the runs last
	// a few seconds and the fault hits them mid-way.
	c.runs = startRuns(e, 2, c2Tasks, c2Loops, "sleep", "0.1")
	r.Event(time.Now(), "m1 leads, m2 stands by; two client runs started")
	c.w1.WaitLogN(pt.StartTimeout, 5, pt.Msg(pt.MsgFinished))
	c.w2.WaitLogN(pt.StartTimeout, 5, pt.Msg(pt.MsgFinished))
	return c
}

// finish waits for the runs and checks the history: faults ended at
// faultsEnded, every task then completes within bound.
func (c *cluster2) finish(t *testing.T, r *recorder, faultsEnded time.Time, bound time.Duration, deposed ...func(*pt.Checker)) {
	t.Helper()
	ck := c.e.Checker()
	maxLat := finishRuns(r, c.e, ck, c.runs, 90*time.Second)
	r.Event(time.Now(), "both client runs done")
	r.Measure("longest submit-to-result latency seen by the clients", maxLat, 0)
	ck.Tree, ck.Collected = c.e.Tree(), true
	ck.FaultsEnded, ck.Bound = faultsEnded, bound
	for _, d := range deposed {
		d(ck)
	}
	r.Check(ck)
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
// backup takes over once the leader's session expires.
func TestLeaderKilled(t *testing.T) {
	r := newRecorder(t, "2/2/2: the active master is killed (kill -9)",
		"Two masters, two workers, two clients running short tasks. The leader is killed with SIGKILL. Expected: the backup is elected when "+
			"the leader's session expires (session timeout, rounded up to a tick), bumps the epoch and assigns; every task gets exactly one result.")
	c := startCluster2(t, r, standalone(t).Addr())
	e, m1, m2 := c.e, c.m1, c.m2
	old := epochOf(t, m1.WaitLog(0, pt.Msg(pt.MsgElected)))
	killed := m1.Kill()
	r.Event(killed, "kill -9 the leader m1 (epoch %d)", old)
	m1.Wait(5 * time.Second)
	bound := e.SessionTimeout + zkTick + 1500*time.Millisecond
	el := m2.WaitLog(bound+10*time.Second, pt.Msg(pt.MsgElected))
	r.Line(fmt.Sprintf("m2 elected (epoch %d)", epochOf(t, el)), el)
	first := m2.WaitLog(bound+10*time.Second, pt.Msg(pt.MsgAssigned))
	r.Line("m2's first assignment", first)
	r.Measure("kill -9 → backup elected", el.TS.Sub(killed), 0)
	r.Measure("kill -9 → first assignment by the new master (failover)", first.TS.Sub(killed), bound)
	if ep := epochOf(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, old %d", ep, old)
	}
	c.finish(t, r, killed, bound+time.Second)
}

// 2/2/2: the leader gets SIGTERM while two clients run: it resigns at once
// and exits 0, and the backup takes over within 1 s.
func TestLeaderTerminated(t *testing.T) {
	r := newRecorder(t, "2/2/2: the active master is stopped (SIGTERM)",
		"As above, but the leader gets SIGTERM. Expected: it deletes its candidacy and exits 0 at once; the backup is elected and assigns "+
			"within a second, without waiting for a session to expire.")
	c := startCluster2(t, r, standalone(t).Addr())
	m1, m2 := c.m1, c.m2
	old := epochOf(t, m1.WaitLog(0, pt.Msg(pt.MsgElected)))
	termed := m1.Term()
	r.Event(termed, "SIGTERM to the leader m1 (epoch %d)", old)
	el := m2.WaitLog(10*time.Second, pt.Msg(pt.MsgElected))
	r.Line(fmt.Sprintf("m2 elected (epoch %d)", epochOf(t, el)), el)
	first := m2.WaitLog(10*time.Second, pt.Msg(pt.MsgAssigned))
	r.Line("m2's first assignment", first)
	if code := m1.Wait(5 * time.Second); code != 0 {
		t.Errorf("master m1 exited %d after SIGTERM, want 0", code)
	}
	r.Event(m1.ExitedAt(), "m1 exited with code %d", m1.ExitCode())
	m1.WaitLog(0, pt.Msg(pt.MsgResigned))
	r.Measure("SIGTERM → old leader exited", m1.ExitedAt().Sub(termed), time.Second)
	r.Measure("SIGTERM → backup elected", el.TS.Sub(termed), time.Second)
	r.Measure("SIGTERM → first assignment by the new master (takeover)", first.TS.Sub(termed), time.Second)
	if ep := epochOf(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, old %d", ep, old)
	}
	c.finish(t, r, termed, 2*time.Second)
}

// Master lag: the leader is frozen (SIGSTOP) past its session timeout
// while tasks flow; the backup takes over; the old leader is continued. It
// must find itself deposed, stand by as a backup, and have no write
// applied after it froze (but the batch already sent): its fence
// (candidacy + epoch) no longer holds.
func TestMasterLag(t *testing.T) {
	r := newRecorder(t, "Master lag: the leader freezes past its session timeout (SIGSTOP, then SIGCONT)",
		"Two masters, two workers, two clients. The leader is frozen with SIGSTOP, as in a long GC pause or a stalled VM, until well past its "+
			"session timeout and until the backup has taken over and assigned; then it is continued with SIGCONT. Expected: it finds itself "+
			"deposed (every write it attempts is a multi that checks its candidacy and the epoch, which fail), applies nothing, steps down to "+
			"backup; the new leader keeps assigning.")
	c := startCluster2(t, r, standalone(t).Addr())
	e, m1, m2 := c.e, c.m1, c.m2
	old := epochOf(t, m1.WaitLog(0, pt.Msg(pt.MsgElected)))
	stopped := m1.Stop()
	r.Event(stopped, "SIGSTOP the leader m1 (epoch %d)", old)
	el := m2.WaitLog(e.SessionTimeout+10*time.Second, pt.Msg(pt.MsgElected))
	r.Line(fmt.Sprintf("m2 elected (epoch %d) while m1 is frozen", epochOf(t, el)), el)
	first := m2.WaitLog(10*time.Second, pt.Msg(pt.MsgAssigned))
	r.Line("m2's first assignment", first)
	// Let the new leader work a little longer before waking the old one.
	m2.WaitLogN(10*time.Second, 10, pt.Msg(pt.MsgAssigned))
	continued := m1.Cont()
	r.Event(continued, "SIGCONT m1 after %v frozen", continued.Sub(stopped).Round(time.Millisecond))
	if d := continued.Sub(stopped); d <= e.SessionTimeout {
		t.Fatalf("paused for %v only, not past the session timeout %v", d, e.SessionTimeout)
	}
	r.Measure("frozen for", continued.Sub(stopped), 0)
	r.Measure("SIGSTOP → backup elected", el.TS.Sub(stopped), e.SessionTimeout+zkTick+1500*time.Millisecond)
	r.Measure("SIGSTOP → first assignment by the new master", first.TS.Sub(stopped), e.SessionTimeout+zkTick+1500*time.Millisecond)

	dep := m1.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgDeposed), pt.After(stopped)))
	r.Event(dep.TS, "m1 woke and logged %q (error: %s)", dep.Msg, dep.Str("error"))
	bk := m1.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgBackup), pt.After(dep.TS)))
	r.Line("m1 stands by as backup", bk)
	// It reconnects (go-zookeeper waits up to a second between rounds of
	// connection attempts), hears its session expired, and stands again.
	r.Measure("SIGCONT → old leader finds itself deposed", dep.TS.Sub(continued), e.SessionTimeout+2*time.Second)
	r.Measure("SIGCONT → old leader stands by as backup", bk.TS.Sub(continued), e.SessionTimeout+3*time.Second)
	if l, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgSessionExpired), pt.After(stopped))); err == nil {
		r.Line("m1 learned its session had expired", l)
	}
	inflight := len(pt.Filter(m1.Logs(), pt.All(pt.Msg(pt.MsgAssigned), pt.After(stopped))))
	r.Value("assignments m1 logged after SIGCONT (its batch already applied before it froze)", float64(inflight), "")
	if l, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgElected), pt.After(stopped))); err == nil {
		t.Errorf("the paused master was elected again while the new leader ran: %s", l)
	}
	if tr := e.Tree(); tr.Epoch.Epoch != epochOf(t, el) || tr.Epoch.Leader != "m2" {
		t.Errorf("epoch znode %+v, want epoch %d led by m2", tr.Epoch, epochOf(t, el))
	}
	r.Fact("deposed_error", dep.Str("error"))
	if l, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgSessionExpired), pt.After(stopped))); err == nil {
		r.Fact("session_expired_after_cont", l.TS.Sub(continued).Round(time.Millisecond).String())
	}
	c.finish(t, r, continued, e.SessionTimeout+zkTick+2500*time.Millisecond, func(ck *pt.Checker) {
		ck.Deposed(m1, stopped, fmt.Sprintf("SIGSTOP for %v", continued.Sub(stopped).Round(100*time.Millisecond)))
	})
}

// Master cut off: the leader's connection to ZooKeeper goes through a TCP
// proxy the test controls; the proxy blackholes it (a silent partition: no
// reset, nothing forwarded) while tasks flow, and heals it once the backup
// has taken over. The leader keeps running all along — it is not paused.
func TestMasterCutOff(t *testing.T) {
	r := newRecorder(t, "Master cut off: the leader's link to ZooKeeper is blackholed",
		"Two masters, two workers, two clients. The leader reaches ZooKeeper through a TCP proxy; the proxy silently drops its traffic "+
			"(no reset: a partition), the leader process keeps running. Once the backup has taken over, the link is healed. Expected: the leader "+
			"stops assigning when it loses the connection, its session expires on the server, the backup takes over; when the link heals the old "+
			"leader learns it is deposed, nothing it attempted is applied, and it stands by as backup.")
	zk := standalone(t)
	p := zktest.NewProxy(t, zk.Addr())
	c := startCluster2(t, r, zk.Addr(), "--zk", p.Addr())
	r.Note("m1 reaches ZooKeeper through a TCP proxy (internal/zktest.Proxy) at %s; everything else connects directly", p.Addr())
	e, m1, m2 := c.e, c.m1, c.m2
	old := epochOf(t, m1.WaitLog(0, pt.Msg(pt.MsgElected)))
	cut := time.Now()
	p.Blackhole()
	r.Event(cut, "blackhole m1's link to ZooKeeper (m1 leads, epoch %d)", old)
	el := m2.WaitLog(e.SessionTimeout+10*time.Second, pt.Msg(pt.MsgElected))
	r.Line(fmt.Sprintf("m2 elected (epoch %d)", epochOf(t, el)), el)
	first := m2.WaitLog(10*time.Second, pt.Msg(pt.MsgAssigned))
	r.Line("m2's first assignment", first)
	m2.WaitLogN(10*time.Second, 10, pt.Msg(pt.MsgAssigned))
	healed := time.Now()
	p.Restore()
	r.Event(healed, "heal m1's link after %v", healed.Sub(cut).Round(time.Millisecond))
	bound := e.SessionTimeout + zkTick + 1500*time.Millisecond
	r.Measure("cut → backup elected", el.TS.Sub(cut), bound)
	r.Measure("cut → first assignment by the new master", first.TS.Sub(cut), bound)

	dep := m1.WaitLog(15*time.Second, pt.All(pt.AnyOf(pt.Msg(pt.MsgDeposed), pt.Msg(pt.MsgSessionExpired)), pt.After(cut)))
	r.Line("m1 learned it lost its leadership", dep)
	if d, err := m1.FindLog(15*time.Second, pt.All(pt.Msg(pt.MsgDeposed), pt.After(cut))); err == nil {
		r.Event(d.TS, "m1 logged %q (error: %s)", d.Msg, d.Str("error"))
		r.Fact("deposed_error", d.Str("error"))
		r.Measure("heal → old leader finds itself deposed", d.TS.Sub(healed), e.SessionTimeout+3*time.Second)
	}
	if l, err := m1.FindLog(0, pt.All(pt.Msg("disconnected from zookeeper"), pt.After(cut))); err == nil {
		r.Line("m1 noticed it was disconnected", l)
		r.Measure("cut → old leader notices it is disconnected", l.TS.Sub(cut), 0)
	}
	bk := m1.WaitLog(15*time.Second, pt.All(pt.Msg(pt.MsgBackup), pt.After(cut)))
	r.Line("m1 stands by as backup", bk)
	if bk.TS.Before(healed) {
		r.Note("m1 stood down before the link healed")
	}
	r.Measure("heal → old leader stands by as backup", bk.TS.Sub(healed), 5*time.Second)
	if _, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgDeposed), pt.After(cut))); err != nil {
		t.Errorf("m1 did not log %q after the cut", pt.MsgDeposed)
	}
	during := len(pt.Filter(m1.Logs(), pt.All(pt.Msg(pt.MsgAssigned), pt.After(cut))))
	r.Value("assignments m1 logged after the cut (its batch in flight)", float64(during), "")
	if l, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgElected), pt.After(cut))); err == nil {
		t.Errorf("the cut-off master was elected again while the new leader ran: %s", l)
	}
	if tr := e.Tree(); tr.Epoch.Leader != "m2" {
		t.Errorf("epoch znode %+v, want led by m2", tr.Epoch)
	}
	c.finish(t, r, healed, bound+time.Second, func(ck *pt.Checker) {
		ck.CutOff(m1, cut, fmt.Sprintf("its link blackholed for %v", healed.Sub(cut).Round(100*time.Millisecond)))
	})
}
