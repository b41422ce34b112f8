package e2e

import (
	"fmt"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/proctest/scenario"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
)

const c2Tasks = 100 // per client run

// startCluster2 records the deployment of the 2/2/2 scenarios and starts
// it (scenario.Cluster) against zkAddr; m1Extra are m1's extra flags (e.g.
// its own --zk through a proxy).
func startCluster2(t *testing.T, r *recorder, zkAddr string, m1Extra ...string) *scenario.Cluster {
	t.Helper()
	e := newEnv(t, zkAddr)
	r.Setup(evidence.Setup{
		ZooKeeper: "standalone, 1 container", SessionTimeout: e.SessionTimeout.String(), Masters: 2,
		Workers: "2 (concurrency 4)", Clients: fmt.Sprintf("2 × client run (%d tasks, %d loops)", c2Tasks, scenario.ClusterLoops), Tasks: "sleep 0.1 s",
	})
	return scenario.StartCluster(e, r, zkTick, c2Tasks, m1Extra...)
}

// The master scenarios but the cut-off are shared with test/process
// (package scenario).

func TestLeaderKilled(t *testing.T) {
	r := newRecorder(t, "2/2/2: the active master is killed (kill -9)",
		"Two masters, two workers, two clients running short tasks. The leader is killed with SIGKILL. Expected: the backup is elected when "+
			"the leader's session expires (session timeout, rounded up to a tick), bumps the epoch and assigns; every task gets exactly one result.")
	scenario.LeaderKilled(startCluster2(t, r, standalone(t).Addr()))
}

func TestLeaderTerminated(t *testing.T) {
	r := newRecorder(t, "2/2/2: the active master is stopped (SIGTERM)",
		"As above, but the leader gets SIGTERM. Expected: it deletes its candidacy and exits 0 at once; the backup is elected and assigns "+
			"within a second, without waiting for a session to expire.")
	scenario.LeaderTerminated(startCluster2(t, r, standalone(t).Addr()))
}

func TestMasterLag(t *testing.T) {
	r := newRecorder(t, "Master lag: the leader freezes past its session timeout (SIGSTOP, then SIGCONT)",
		"Two masters, two workers, two clients. The leader is frozen with SIGSTOP, as in a long GC pause or a stalled VM, until well past its "+
			"session timeout and until the backup has taken over and assigned; then it is continued with SIGCONT. Expected: it finds itself "+
			"deposed (every write it attempts is a multi that checks its candidacy and the epoch, which fail), applies nothing, steps down to "+
			"backup; the new leader keeps assigning.")
	scenario.MasterLag(startCluster2(t, r, standalone(t).Addr()))
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
	e, m1, m2 := c.Env, c.M1, c.M2
	old := scenario.Epoch(t, scenario.Term(t, m1))
	cut := time.Now()
	p.Blackhole()
	r.Event(cut, "blackhole m1's link to ZooKeeper (m1 leads, epoch %d)", old)
	el, first := c.TakenOver(cut, e.SessionTimeout+10*time.Second)
	m2.WaitLogN(10*time.Second, 10, pt.All(pt.Msg(pt.MsgAssigned), pt.After(el.TS)))
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
	bk := c.StandsAgain(m1, cut, 15*time.Second)
	if bk.TS.Before(healed) {
		r.Note("m1 stood down before the link healed")
	}
	r.Measure("heal → old leader stands by as backup", bk.TS.Sub(healed), 5*time.Second)
	if _, err := m1.FindLog(0, pt.All(pt.Msg(pt.MsgDeposed), pt.After(cut))); err != nil {
		t.Errorf("m1 did not log %q after the cut", pt.MsgDeposed)
	}
	during := len(pt.Filter(m1.Logs(), pt.All(pt.Msg(pt.MsgAssigned), pt.After(cut))))
	r.Value("assignments m1 logged after the cut (its batch in flight)", float64(during), "")
	c.NotElectedWhileDeposed(m1, cut, bk, "the cut-off master")
	c.Leads(m2, scenario.Epoch(t, el))
	c.Finish(healed, bound+time.Second, func(ck *pt.Checker) {
		ck.CutOff(m1, cut, fmt.Sprintf("its link blackholed for %v", healed.Sub(cut).Round(100*time.Millisecond)))
	})
}
