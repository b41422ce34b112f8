package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
)

// TestEnsemble runs Paddock against three ZooKeeper containers on a
// network of their own: first a measured comparison with the standalone
// server, then the ensemble losing one server, then its quorum.
func TestEnsemble(t *testing.T) {
	ens := startEnsemble(t, 3, evidenceDir)
	t.Run("throughput", func(t *testing.T) { ensembleThroughput(t, ens) })
	t.Run("faults", func(t *testing.T) { ensembleFaults(t, ens) })
}

const (
	benchTasks = 300
	benchLoops = 16
	benchReps  = 2 // runs per configuration: a 2-core machine is noisy
)

// ensembleThroughput runs the same load (client run, echo tasks) against
// the standalone server, the ensemble, and the ensemble with one follower
// stopped, and records them side by side.
func ensembleThroughput(t *testing.T, ens *ensemble) {
	r := newRecorder(t, "Standalone vs a 3-server ensemble: latency and throughput",
		fmt.Sprintf("The same deployment (one master, two workers of concurrency 8) and the same load (`client run` of %d echo tasks, %d loops in flight) "+
			"against the standalone ZooKeeper, the 3-server ensemble, and the ensemble with one follower stopped, twice each. Each configuration has a fresh root. "+
			"ZooKeeper's transactions per task are the zxid delta over the run divided by the tasks.", benchTasks, benchLoops))
	r.Setup(evidence.Setup{
		ZooKeeper: "standalone (1 container) vs ensemble (3 containers on a private network)", SessionTimeout: "1.5s", Masters: 1,
		Workers: "2 (concurrency 8)", Clients: fmt.Sprintf("client run (%d tasks, %d loops)", benchTasks, benchLoops), Tasks: "echo",
	})
	zk := standalone(t)
	var names []string
	var verdicts []pt.Verdict
	bench := func(label, connect string, zxidOf func() int64) {
		e := newEnv(t, connect)
		m := e.Leader("m1")
		e.ReadyWorker(m, "w1", 8)
		e.ReadyWorker(m, "w2", 8)
		var runs []struct {
			label string
			s     pt.RunSummary
			code  int
		}
		for i := 1; i <= benchReps; i++ {
			z0 := zxidOf()
			start := time.Now()
			s, code := e.RunDone(e.StartRun(benchTasks, benchLoops, "echo", "hello"), 120*time.Second)
			z1 := zxidOf()
			l := fmt.Sprintf("%s #%d", label, i)
			r.Event(start, "%s: client run of %d echo tasks", l, benchTasks)
			r.Run(l, s, code)
			if z0 > 0 && z1 > z0 {
				r.Value(l+": ZooKeeper transactions per task", float64(z1-z0)/benchTasks, "txns")
			}
			runs = append(runs, struct {
				label string
				s     pt.RunSummary
				code  int
			}{l, s, code})
		}
		ck := e.Checker()
		for _, x := range runs {
			ck.AddRun(x.label, benchTasks, x.s, x.code)
		}
		ck.Tree, ck.Collected = e.Tree(), true
		names = append(names, label)
		verdicts = append(verdicts, ck.Verdict())
	}
	leaderZxid := func() int64 {
		if l, err := ens.Leader(); err == nil {
			if s, err := l.Srvr(); err == nil {
				return s.Zxid
			}
		}
		return 0
	}
	bench("standalone", zk.Addr(), func() int64 { s, _ := zk.Srvr(); return s.Zxid })
	bench("ensemble of 3", ens.ConnString(), leaderZxid)

	ld, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	var follower *zkNode
	for _, n := range ens.Nodes {
		if n != ld {
			follower = n
			break
		}
	}
	ctx := context.Background()
	stopped := time.Now()
	if err := follower.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r.Event(stopped, "stopped follower %s", follower.Name)
	bench("ensemble, one follower down", ens.ConnString(), leaderZxid)
	restarted := time.Now()
	if err := follower.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitServing(zkStartLimit, follower); err != nil {
		t.Fatal(err)
	}
	r.Event(restarted, "restarted %s; it serves again %v later", follower.Name, time.Since(restarted).Round(time.Millisecond))

	r.Verdict(pt.Combine(names, verdicts))
}

// ensembleFaults: tasks flow at a steady rate while the ensemble's leader
// is stopped, then a second server (no quorum), then both come back.
func ensembleFaults(t *testing.T, ens *ensemble) {
	const (
		tasks   = 360
		rate    = 20
		outage  = 5 * time.Second
		oneDown = 3 * time.Second
	)
	r := newRecorder(t, "Ensemble: one server stopped, then two (no quorum), then both back",
		fmt.Sprintf("Two masters, two workers (concurrency 4) and a `client run` starting %d tasks/s (%d sleep 0.05 s tasks in all) against the "+
			"3-server ensemble. The ZooKeeper leader is stopped; %v later a second server (no quorum: the last one stops serving); %v later both are "+
			"started again. A `client submit` and a `client status` (--connect-timeout 3s) are run during the outage. Expected: with one server down the service goes on "+
			"(sessions move to the other servers); without quorum clients get clear errors or wait and nothing is lost; once the quorum is back "+
			"every task completes.", rate, tasks, oneDown, outage))
	e := newEnv(t, ens.ConnString())
	r.Setup(evidence.Setup{
		ZooKeeper: "ensemble, 3 containers on a private network", SessionTimeout: e.SessionTimeout.String(), Masters: 2,
		Workers: "2 (concurrency 4)", Clients: fmt.Sprintf("client run (%d tasks at %d/s, 8 loops)", tasks, rate), Tasks: "sleep 0.05 s",
	})
	ctx := context.Background()
	m1 := e.Leader("m1")
	m2 := e.Backup("m2")
	w1 := e.ReadyWorker(m1, "w1", 4)
	w2 := e.ReadyWorker(m1, "w2", 4)
	workers := []*pt.Proc{w1, w2}
	run := e.StartRun(tasks, 8, "sleep", "0.05", "--rate", fmt.Sprint(rate))
	r.Event(run.Started, "client run started")
	all := []*pt.Proc{m1, m2, w1, w2, run}
	if _, _, err := pt.FindAny(pt.StartTimeout, "stderr", pt.Msg(pt.MsgFinished), workers...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // steady flow before the fault (not a synchronisation)

	// 1. The ZooKeeper leader goes.
	zl, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	if err := zl.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r.Event(t1, "stopped %s, the ZooKeeper leader (docker stop -t 0)", zl.Name)
	var zl2 *zkNode
	for deadline := time.Now().Add(30 * time.Second); zl2 == nil && time.Now().Before(deadline); {
		if zl2, err = ens.Leader(); err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if zl2 == nil {
		t.Fatal("no new ZooKeeper leader within 30 s")
	}
	r.Event(time.Now(), "%s is the new ZooKeeper leader", zl2.Name)
	r.Measure("ZooKeeper leader stopped → a new ZooKeeper leader serves", time.Since(t1), 10*time.Second)
	l, _, err := pt.FindAny(20*time.Second, "stderr", pt.All(pt.Msg(pt.MsgFinished), pt.After(t1)), workers...)
	if err != nil {
		t.Fatalf("no task completed after the ZooKeeper leader stopped: %v", err)
	}
	r.Line("the first task completed after the stop", l)
	r.Measure("ZooKeeper leader stopped → tasks complete again", l.TS.Sub(t1), 10*time.Second)
	time.Sleep(oneDown) // service with 2 of 3 servers
	t2 := time.Now()
	done := finishedBetween(workers, t1, t2)
	r.Value("tasks completed with 2 of 3 servers", float64(done), "tasks")
	r.Value("throughput with 2 of 3 servers", float64(done)/t2.Sub(t1).Seconds(), "tasks/s")
	moved, expired := sessionEvents(all, t1, t2)
	r.Value("processes that resumed their session (\"session resumed\")", float64(moved), "processes")
	r.Value("sessions expired while one server was down", float64(expired), "sessions")

	// 2. A second server goes: no quorum.
	var second *zkNode
	for _, n := range ens.Nodes {
		if n != zl {
			second = n
			break
		}
	}
	if err := second.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t2 = time.Now()
	r.Event(t2, "stopped %s as well: 1 of 3 servers left, no quorum", second.Name)
	var last *zkNode
	for _, n := range ens.Nodes {
		if n != zl && n != second {
			last = n
		}
	}
	// The survivor stops serving once it notices the quorum is gone.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := last.Srvr(); err != nil {
			r.Event(time.Now(), "%s no longer serves requests (%v)", last.Name, err)
			break
		}
	}
	var wg sync.WaitGroup
	var sub, stat pt.Outcome
	wg.Add(2)
	// Run from this goroutine's Env, but without failing the test from
	// other goroutines: start both, then wait here.
	e.ConnectTimeout = 3 * time.Second
	subP := e.Client("submit", "--kind", "echo", "--data", "during the outage", "--json")
	statP := e.Client("status")
	e.ConnectTimeout = 10 * time.Second
	go func() { defer wg.Done(); subP.WaitExit(30 * time.Second); sub = outcome(subP) }()
	go func() { defer wg.Done(); statP.WaitExit(30 * time.Second); stat = outcome(statP) }()
	wg.Wait()
	r.Event(subP.ExitedAt(), "client submit during the outage: exit %d after %v: %s", sub.Code, sub.Took.Round(time.Millisecond), firstLine(sub.Stderr+sub.Stdout))
	r.Event(statP.ExitedAt(), "client status during the outage: exit %d after %v: %s", stat.Code, stat.Took.Round(time.Millisecond), firstLine(stat.Stderr+stat.Stdout))
	r.Fact("submit_no_quorum", fmt.Sprintf("exit %d after %v: %s", sub.Code, sub.Took.Round(time.Millisecond), firstLine(sub.Stderr+sub.Stdout)))
	r.Fact("status_no_quorum", fmt.Sprintf("exit %d after %v: %s", stat.Code, stat.Took.Round(time.Millisecond), firstLine(stat.Stderr+stat.Stdout)))
	if sub.Code == 0 {
		t.Errorf("client submit succeeded without a quorum: %s", sub.Stdout)
	} else if !strings.Contains(sub.Stderr, "ZooKeeper") {
		t.Errorf("client submit without a quorum: exit %d, unclear message %q", sub.Code, sub.Stderr)
	}
	if stat.Code == 0 {
		t.Errorf("client status succeeded without a quorum: %s", stat.Stdout)
	}
	if wait := outage - time.Since(t2); wait > 0 {
		time.Sleep(wait) // the outage itself
	}
	t3 := time.Now()
	during := finishedBetween(workers, t2.Add(500*time.Millisecond), t3)
	r.Value("tasks completed without quorum (from 0.5 s after the second stop)", float64(during), "tasks")
	_, expiredOutage := sessionEvents(all, t2, t3)
	r.Value("sessions reported expired during the outage", float64(expiredOutage), "sessions")

	// 3. Both come back.
	var startErr [2]error
	wg.Add(2)
	go func() { defer wg.Done(); startErr[0] = zl.Start(ctx) }()
	go func() { defer wg.Done(); startErr[1] = second.Start(ctx) }()
	wg.Wait()
	r.Event(t3, "started %s and %s again after %v without quorum", zl.Name, second.Name, t3.Sub(t2).Round(time.Millisecond))
	for _, err := range startErr {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := waitServing(zkStartLimit, ens.Nodes...); err != nil {
		t.Fatal(err)
	}
	r.Event(time.Now(), "all 3 servers serve again")
	r.Measure("servers restarted → all 3 serve again", time.Since(t3), 30*time.Second)
	l, _, err = pt.FindAny(30*time.Second, "stderr", pt.All(pt.Msg(pt.MsgFinished), pt.After(t3)), workers...)
	if err != nil {
		t.Fatalf("no task completed after the quorum came back: %v", err)
	}
	r.Line("the first task completed after the restart", l)
	r.Measure("servers restarted → tasks complete again", l.TS.Sub(t3), 30*time.Second)

	ck := e.Checker()
	s, code := e.RunDone(run, 120*time.Second)
	r.Event(run.ExitedAt(), "client run done")
	r.Run(run.Name, s, code)
	ck.AddRun(run.Name, tasks, s, code)
	_, expiredAfter := sessionEvents(all, t3, time.Now())
	r.Value("sessions reported expired after the servers came back", float64(expiredAfter), "sessions")
	if el := pt.Filter(append(m1.Logs(), m2.Logs()...), pt.All(pt.Msg(pt.MsgElected), pt.After(t1))); len(el) > 0 {
		for _, l := range el {
			r.Line(fmt.Sprintf("%s elected (epoch %s)", l.Proc, l.Str("epoch")), l)
		}
	}
	ck.Tree, ck.Collected = e.Tree(), true
	ck.FaultsEnded, ck.Bound = t3, 20*time.Second
	if v := r.Check(ck); v.Counts.LostReplies > 0 {
		r.Note("%s applied although the worker logged \"completion dropped: the task was reassigned, cancelled or finished "+
			"elsewhere\": the reply to its completion multi was lost when the servers stopped, and by the time its retry found the "+
			"assignment gone the client had collected the result, so the worker could not recognise its own work (a misleading log "+
			"line, not a lost or duplicated result)", map[bool]string{true: "1 completion was", false: fmt.Sprintf("%d completions were", v.Counts.LostReplies)}[v.Counts.LostReplies == 1])
	}
}

func outcome(p *pt.Proc) pt.Outcome {
	return pt.Outcome{Proc: p, Code: p.ExitCode(), Stdout: p.Stdout(), Stderr: p.Stderr(), Took: p.ExitedAt().Sub(p.Started)}
}

// firstLine is the first line of s, without zap's JSON wrapping.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) == nil {
		if msg, ok := m["msg"].(string); ok {
			if e, ok := m["error"].(string); ok {
				return msg + ": " + e
			}
			return msg
		}
	}
	return s
}

// finishedBetween counts the workers' applied completions in [from, to).
func finishedBetween(workers []*pt.Proc, from, to time.Time) int {
	n := 0
	for _, w := range workers {
		for _, l := range pt.Filter(w.Logs(), pt.Msg(pt.MsgFinished)) {
			if !l.TS.Before(from) && l.TS.Before(to) {
				n++
			}
		}
	}
	return n
}

// sessionEvents counts, in [from, to), the processes that resumed their
// session on a server (moved), and the session expiries they logged.
func sessionEvents(procs []*pt.Proc, from, to time.Time) (moved, expired int) {
	for _, p := range procs {
		resumed := false
		for _, l := range p.Logs() {
			if l.TS.Before(from) || !l.TS.Before(to) {
				continue
			}
			switch l.Msg {
			case "zookeeper session resumed":
				resumed = true
			case pt.MsgSessionExpired:
				expired++
			}
		}
		if resumed {
			moved++
		}
	}
	return moved, expired
}
