package scenario

import (
	"fmt"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// ClusterLoops is how many tasks each client run of a [Cluster] keeps in
// flight.
const ClusterLoops = 4

// Cluster is the deployment of the 2/2/2 scenarios: two masters (M1
// leading, M2 its backup), two workers of concurrency 4 and two `client
// run` loops of 0.1 s tasks, with tasks flowing.
//
// With several leaders (the Env's Leaders, [pt.LeadersEnv]) M2 leads the
// odd partitions and M1 the even ones: M1, the front candidate, is still
// "the leader" the scenarios fault (it leads partition 0), and M2's
// failover is taking M1's share over on top of its own.
type Cluster struct {
	Env            *pt.Env
	M1, M2, W1, W2 *pt.Proc
	// Tick is ZooKeeper's tickTime: a session expires up to a tick after
	// its timeout, and failover bounds allow for it.
	Tick time.Duration

	r    *report
	runs []clientRun
}

// StartCluster starts a Cluster whose client runs submit tasksPerRun
// tasks each, and returns once both workers have finished a few. m1Extra
// are M1's extra flags (e.g. its own --zk, through a proxy).
func StartCluster(e *pt.Env, rec Recorder, tick time.Duration, tasksPerRun int, m1Extra ...string) *Cluster {
	e.TB.Helper()
	c := &Cluster{Env: e, Tick: tick, r: newReport(e.TB, rec)}
	c.M1 = e.Leader("m1", m1Extra...)
	c.M2 = e.Backup("m2")
	what := "m1 leads, m2 stands by; two client runs started"
	if c.several() {
		what = "m1 leads the even partitions, m2 the odd ones; two client runs started"
	}
	c.load(4, tasksPerRun, what)
	return c
}

// load starts the two workers (slots each) and the two client runs, and
// returns once both workers have finished a few tasks.
func (c *Cluster) load(slots, tasksPerRun int, what string) {
	e := c.Env
	c.W1 = e.ReadyWorker(c.M1, "w1", slots)
	c.W2 = e.ReadyWorker(c.M1, "w2", slots)
	// 0.1 s tasks, 8 loops on 8 slots: about 70 tasks/s, so the runs last
	// a few seconds and the fault hits them mid-way.
	c.runs = startRuns(e, 2, tasksPerRun, ClusterLoops, "sleep", "0.1")
	c.r.Event(time.Now(), "%s", what)
	c.W1.WaitLogN(pt.StartTimeout, 5, pt.Msg(pt.MsgFinished))
	c.W2.WaitLogN(pt.StartTimeout, 5, pt.Msg(pt.MsgFinished))
}

// Finish waits for the client runs and judges the history: the faults
// ended at faultsEnded, and every task completes within bound of the later
// of that and its submission; no client waited longer than bound for a
// result either (the fault's outage plus a task's run). deposed tell the
// checker which master the scenario deposed, and when.
func (c *Cluster) Finish(faultsEnded time.Time, bound time.Duration, deposed ...func(*pt.Checker)) {
	e, r := c.Env, c.r
	e.TB.Helper()
	ck := e.Checker()
	maxLat := r.finishRuns(e, ck, c.runs, 90*time.Second)
	r.Event(time.Now(), "both client runs done")
	// The report shows the latency without a bound; it is held to one all
	// the same.
	r.Measure("longest submit-to-result latency seen by the clients", maxLat, 0)
	Within(e.TB, "longest submit-to-result latency seen by the clients", maxLat, bound)
	ck.Tree, ck.Collected = e.Tree(), true
	ck.FaultsEnded, ck.Bound = faultsEnded, bound
	for _, d := range deposed {
		d(ck)
	}
	r.Check(ck)
}

// Term is m's latest "elected: leading" line: the term it leads now
// (with several leaders a master is elected again each time the
// partitions are dealt again), failing the test when it never led.
func Term(tb testing.TB, m *pt.Proc) pt.Line {
	tb.Helper()
	ls := pt.Filter(m.Logs(), pt.Msg(pt.MsgElected))
	if len(ls) == 0 {
		tb.Fatalf("%s never led", m.Name)
	}
	return ls[len(ls)-1]
}

// several says whether more than one master leads at once: M2 is then
// M1's co-leader, not its backup.
func (c *Cluster) several() bool { return c.Env.Leaders > 1 }

// TakenOver waits (up to timeout) for M2 to take over after the fault at
// `at` on M1, records it, and returns M2's election and its first
// assignment in the term that election began: with one leader the backup
// is elected; with several, the co-leader takes M1's share over on top of
// its own (elected again), and assigns all along for its own partitions,
// so only an assignment after that election shows the failover done.
func (c *Cluster) TakenOver(at time.Time, timeout time.Duration) (el, first pt.Line) {
	t, m2 := c.Env.TB, c.M2
	t.Helper()
	el = m2.WaitLog(timeout, pt.All(pt.Msg(pt.MsgElected), pt.After(at)))
	what := "m2 elected"
	if c.several() {
		what = "m2 takes over every partition"
	}
	c.r.Line(fmt.Sprintf("%s (epoch %d)", what, Epoch(t, el)), el)
	first = m2.WaitLog(timeout, pt.All(pt.Msg(pt.MsgAssigned), pt.After(el.TS)))
	c.r.Line("m2's first assignment", first)
	return el, first
}

// StandsAgain waits for m, deposed at `after`, to stand in the election
// again, and records it: as a backup with one leader; with several, it
// may lead the share its new place in line (behind M2) gives it.
func (c *Cluster) StandsAgain(m *pt.Proc, after time.Time, timeout time.Duration) pt.Line {
	c.Env.TB.Helper()
	if !c.several() {
		bk := m.WaitLog(timeout, pt.All(pt.Msg(pt.MsgBackup), pt.After(after)))
		c.r.Line(m.ID+" stands by as backup", bk)
		return bk
	}
	l := m.WaitLog(timeout, pt.All(pt.AnyOf(pt.Msg(pt.MsgBackup), pt.Msg(pt.MsgElected)), pt.After(after)))
	c.r.Line(m.ID+" stands again, behind m2 (as a backup or over a share)", l)
	return l
}

// NotElectedWhileDeposed fails the test if m, deposed at `from`, was
// elected again while the new leader ran: at all with one leader (m2 leads
// to the end); with several, before it stood again (stood, from
// [Cluster.StandsAgain]), after which it rightly takes a share.
func (c *Cluster) NotElectedWhileDeposed(m *pt.Proc, from time.Time, stood pt.Line, who string) {
	t := c.Env.TB
	t.Helper()
	l, err := m.FindLog(0, pt.All(pt.Msg(pt.MsgElected), pt.After(from)))
	if err == nil && (!c.several() || l.TS.Before(stood.TS)) {
		t.Errorf("%s was elected again while the new leader ran: %s", who, l)
	}
}

// Leads fails the test unless m leads at the front from epoch on: the
// epoch znode names it at that epoch with one leader; with several (the
// epoch then names whoever took over last) partition 0, which the front
// candidate leads, names it at that epoch or later.
func (c *Cluster) Leads(m *pt.Proc, epoch int64) {
	e := c.Env
	e.TB.Helper()
	if !c.several() {
		if tr := e.Tree(); tr.Epoch.Epoch != epoch || tr.Epoch.Leader != m.ID {
			e.TB.Errorf("epoch znode %+v, want epoch %d led by %s", tr.Epoch, epoch, m.ID)
		}
		return
	}
	var zero coord.PartitionRecord
	for _, p := range e.Status().Partitions {
		if p.Partition == "0" {
			zero = p.PartitionRecord
		}
	}
	if zero.Leader != m.ID || zero.Epoch < epoch {
		e.TB.Errorf("partition 0 %+v, want led by %s from epoch %d on", zero, m.ID, epoch)
	}
}

// LeaderKilled (2/2/2): the leader is killed with SIGKILL while the
// clients run. The backup is elected once the leader's session expires,
// bumps the epoch and assigns within the session timeout + a tick + 1.5 s
// of the kill.
func LeaderKilled(c *Cluster) {
	e, m1, r, t := c.Env, c.M1, c.r, c.Env.TB
	old := Epoch(t, Term(t, m1))
	killed := m1.Kill()
	r.Event(killed, "kill -9 the leader m1 (epoch %d)", old)
	m1.Wait(5 * time.Second)
	bound := e.SessionTimeout + c.Tick + 1500*time.Millisecond
	el, first := c.TakenOver(killed, bound+10*time.Second)
	r.Measure("kill -9 → backup elected", el.TS.Sub(killed), 0)
	r.Measure("kill -9 → first assignment by the new master (failover)", first.TS.Sub(killed), bound)
	if ep := Epoch(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, old %d", ep, old)
	}
	c.Finish(killed, bound+time.Second)
}

// LeaderTerminated (2/2/2): the leader gets SIGTERM while the clients
// run: it resigns at once and exits 0 within 1 s, and the backup is
// elected and assigns within 1 s, without waiting for a session to expire.
func LeaderTerminated(c *Cluster) {
	m1, r, t := c.M1, c.r, c.Env.TB
	old := Epoch(t, Term(t, m1))
	termed := m1.Term()
	r.Event(termed, "SIGTERM to the leader m1 (epoch %d)", old)
	el, first := c.TakenOver(termed, 10*time.Second)
	if code := m1.Wait(5 * time.Second); code != 0 {
		t.Errorf("master m1 exited %d after SIGTERM, want 0", code)
	}
	r.Event(m1.ExitedAt(), "m1 exited with code %d", m1.ExitCode())
	m1.WaitLog(0, pt.Msg(pt.MsgResigned))
	r.Measure("SIGTERM → old leader exited", m1.ExitedAt().Sub(termed), time.Second)
	r.Measure("SIGTERM → backup elected", el.TS.Sub(termed), time.Second)
	r.Measure("SIGTERM → first assignment by the new master (takeover)", first.TS.Sub(termed), time.Second)
	if ep := Epoch(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, old %d", ep, old)
	}
	c.Finish(termed, 2*time.Second)
}

// MasterLag: the leader is frozen (SIGSTOP) past its session timeout while
// tasks flow, as in a long GC pause or a stalled VM; the backup takes over
// and assigns; then the old leader is continued (SIGCONT). It must find
// itself deposed, stand by as a backup, and have no write applied after it
// froze but the batch it had already sent: its fence (candidacy + epoch)
// no longer holds.
func MasterLag(c *Cluster) {
	e, m1, m2, r, t := c.Env, c.M1, c.M2, c.r, c.Env.TB
	old := Epoch(t, Term(t, m1))
	stopped := m1.Stop()
	r.Event(stopped, "SIGSTOP the leader m1 (epoch %d)", old)
	el, first := c.TakenOver(stopped, e.SessionTimeout+10*time.Second)
	// Let the new leader work a little longer before waking the old one.
	m2.WaitLogN(10*time.Second, 10, pt.All(pt.Msg(pt.MsgAssigned), pt.After(el.TS)))
	continued := m1.Cont()
	r.Event(continued, "SIGCONT m1 after %v frozen", continued.Sub(stopped).Round(time.Millisecond))
	if d := continued.Sub(stopped); d <= e.SessionTimeout {
		t.Fatalf("paused for %v only, not past the session timeout %v", d, e.SessionTimeout)
	}
	r.Measure("frozen for", continued.Sub(stopped), 0)
	r.Measure("SIGSTOP → backup elected", el.TS.Sub(stopped), e.SessionTimeout+c.Tick+1500*time.Millisecond)
	r.Measure("SIGSTOP → first assignment by the new master", first.TS.Sub(stopped), e.SessionTimeout+c.Tick+1500*time.Millisecond)
	if ep := Epoch(t, el); ep <= old {
		t.Errorf("new leader's epoch %d, paused leader's %d", ep, old)
	}

	dep := m1.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgDeposed), pt.After(stopped)))
	r.Event(dep.TS, "m1 woke and logged %q (error: %s)", dep.Msg, dep.Str("error"))
	bk := c.StandsAgain(m1, dep.TS, 10*time.Second)
	// It reconnects (go-zookeeper waits up to a second between rounds of
	// connection attempts), hears its session expired, and stands again.
	r.Measure("SIGCONT → old leader finds itself deposed", dep.TS.Sub(continued), e.SessionTimeout+2*time.Second)
	r.Measure("SIGCONT → old leader stands by as backup", bk.TS.Sub(continued), e.SessionTimeout+3*time.Second)
	if l, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgSessionExpired), pt.After(stopped))); err == nil {
		r.Line("m1 learned its session had expired", l)
	}
	inflight := len(pt.Filter(m1.Logs(), pt.All(pt.Msg(pt.MsgAssigned), pt.After(stopped))))
	r.Value("assignments m1 logged after SIGCONT (its batch already applied before it froze)", float64(inflight), "")
	c.NotElectedWhileDeposed(m1, stopped, bk, "the paused master")
	c.Leads(m2, Epoch(t, el))
	r.Fact("deposed_error", dep.Str("error"))
	if l, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgSessionExpired), pt.After(stopped))); err == nil {
		r.Fact("session_expired_after_cont", l.TS.Sub(continued).Round(time.Millisecond).String())
	}
	c.Finish(continued, e.SessionTimeout+c.Tick+2500*time.Millisecond, func(ck *pt.Checker) {
		ck.Deposed(m1, stopped, fmt.Sprintf("SIGSTOP for %v", continued.Sub(stopped).Round(100*time.Millisecond)))
	})
}

// SeveralLeaders (3/2/2): with master.leaders at 3, three masters lead at
// once, each over its partitions; the second is killed with SIGKILL while
// two clients run. Once its session expires the two left deal the
// partitions between them again (m3 moves up to place 1 and takes the odd
// ones); every task still completes exactly once, and no write of the
// killed master lands after its partitions were taken over.
func SeveralLeaders(e *pt.Env, rec Recorder, tick time.Duration, tasksPerRun int) {
	t := e.TB
	t.Helper()
	e.SetLeaders(3)
	c := &Cluster{Env: e, Tick: tick, r: newReport(t, rec)}
	c.M1 = e.Leader("m1")
	c.M2 = e.Leader("m2")
	m3 := e.Leader("m3")
	c.load(6, tasksPerRun, "m1, m2 and m3 lead a third of the partitions each; two client runs started")
	for _, m := range []*pt.Proc{c.M1, c.M2, m3} {
		m.WaitLog(pt.StartTimeout, pt.Msg(pt.MsgAssigned))
	}
	killed := c.M2.Kill()
	c.r.Event(killed, "kill -9 the leader m2")
	c.M2.Wait(5 * time.Second)
	bound := e.SessionTimeout + tick + 1500*time.Millisecond
	el := m3.WaitLog(bound+10*time.Second, pt.All(pt.Msg(pt.MsgElected), pt.After(killed)))
	c.r.Line("m3 takes over a new share", el)
	c.r.Measure("kill -9 → the partitions dealt again", el.TS.Sub(killed), bound)
	c.Finish(killed, bound+time.Second)
}

// WorkerKilledUnderLoad (2/2/2): a worker is killed with SIGKILL while the
// clients run. Once its session expires every leading master notices, each
// takes back the tasks of its own partitions the worker held (with several
// leaders, the worker's tasks are spread over all of them), and the other
// worker runs them: every task still completes exactly once, within the
// session timeout + a tick + 3 s of the kill.
func WorkerKilledUnderLoad(c *Cluster) {
	e, r := c.Env, c.r
	killed := c.W1.Kill()
	r.Event(killed, "kill -9 the worker w1")
	c.W1.Wait(5 * time.Second)
	bound := e.SessionTimeout + c.Tick + 3*time.Second
	leading := []*pt.Proc{c.M1} // a backup takes nothing back
	if c.several() {
		leading = append(leading, c.M2)
	}
	var noticed time.Duration
	for _, m := range leading {
		lost := m.WaitLog(bound+10*time.Second, pt.All(pt.Msg(pt.MsgWorkerLost), pt.Field("worker", "w1"), pt.After(killed)))
		r.Line(m.ID+" noticed w1 lost", lost)
		noticed = max(noticed, lost.TS.Sub(killed))
	}
	r.Measure("kill -9 → every leader notices the worker lost (worst)", noticed, e.SessionTimeout+c.Tick+time.Second)
	c.Finish(killed, bound)
}
