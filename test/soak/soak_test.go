package soak

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// Settings: the nemesis runs for -soak.duration, else
// $PADDOCK_SOAK_DURATION, else defaultDuration (the short run of `make
// test`); the seed is $PADDOCK_SOAK_SEED, else random, and printed.
const (
	DurationEnv     = "PADDOCK_SOAK_DURATION"
	SeedEnv         = "PADDOCK_SOAK_SEED"
	defaultDuration = 75 * time.Second
)

var durationFlag = flag.Duration("soak.duration", 0, "how long the nemesis injects faults (default $"+DurationEnv+", else "+defaultDuration.String()+")")

// After the faults: how long every acknowledged task may take to get its
// result once all is healed (past it, what is left is stuck), and how long
// the unknown submits may take to resolve.
const (
	drainTimeout   = 2 * time.Minute
	resolveTimeout = time.Minute
	// completionBound: no task may take longer than this from its submit
	// to its result, faults included (each is healed within seconds).
	completionBound = 60 * time.Second
)

// LeadersEnv sets master.leaders for the soak (default 1: one leader, two
// hot backups; 3: every master leads a share of the partitions).
const LeadersEnv = "PADDOCK_SOAK_LEADERS"

// leaders is the soak's master.leaders, from LeadersEnv.
var leaders = 1

func TestMain(m *testing.M) {
	flag.Parse()
	if s := os.Getenv(LeadersEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > nMasters {
			fmt.Fprintf(os.Stderr, "%s=%q: want 1 to %d\n", LeadersEnv, s, nMasters)
			os.Exit(2)
		}
		leaders = n
	}
	code := m.Run()
	pt.RemoveBuilt()
	os.Exit(code)
}

func settings(t *testing.T) (time.Duration, uint64) {
	d := *durationFlag
	if s := os.Getenv(DurationEnv); d == 0 && s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("%s=%q: %v", DurationEnv, s, err)
		}
	}
	if d == 0 {
		d = defaultDuration
	}
	seed := rand.Uint64() >> 1
	if s := os.Getenv(SeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
	}
	return d, seed
}

// TestSoak runs the load and the nemesis together for the duration, heals
// everything, lets the system settle, and judges the history.
func TestSoak(t *testing.T) {
	dur, seed := settings(t)
	t.Logf("soak: seed %d, faults for %v (replay the choices with %s=%d)", seed, dur, SeedEnv, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("soak FAILED with seed %d: replay with %s=%d %s=%v", seed, SeedEnv, seed, DurationEnv, dur)
		}
	})
	// Starting takes under a minute and healing, settling and judging a few
	// minutes at most (every wait has its deadline): fail now, clearly,
	// rather than be killed by go test mid-run.
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < dur+drainTimeout+resolveTimeout+4*time.Minute {
		t.Fatalf("go test -timeout leaves %v, too little for a soak of %v: give it at least %v more than the duration",
			time.Until(deadline).Round(time.Second), dur, drainTimeout+resolveTimeout+4*time.Minute)
	}
	started := time.Now()
	c := startCluster(t, pt.Build(t))
	ctx := context.Background()
	cl, err := dialClient(ctx, c.ens.Addrs(), c.e.Root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.close)
	l := newLoad(cl, seed)
	nem := newNemesis(c, l, seed)

	nemErr := runFaults(ctx, dur, l, nem)
	for _, f := range nem.faults {
		t.Logf("fault %s", f)
	}
	if nemErr != nil {
		t.Errorf("seed %d: the nemesis stopped: %v", seed, nemErr)
	}
	if err := c.heal(); err != nil {
		t.Fatalf("seed %d: healing after the faults: %v", seed, err)
	}
	v, tx := judge(t, c, l, nem)
	s := summarize(v, tx, nem.faults, seed, dur, started)
	// A master or worker that exits unasked is a bug even when the service
	// recovers (it was restarted at once).
	for _, u := range c.exits() {
		t.Errorf("seed %d: %s", seed, u)
		s.Problems = append(s.Problems, "unplanned exit: "+u)
		s.Passed = false
	}
	t.Logf("soak summary (seed %d, %.0f s):\n%s", seed, s.Seconds, Markdown([]Summary{s}))
	if dir := os.Getenv(OutEnv); dir != "" {
		name, err := s.Write(dir)
		if err != nil {
			t.Errorf("writing the summary: %v", err)
		}
		t.Logf("summary written to %s", name)
	}
	v.Require(t)
}

// runFaults runs the load and the nemesis for dur, then stops both (the
// nemesis heals the fault in progress first). The load's collectors keep
// running: drain stops them. It returns the nemesis' error, if any (which
// also ends the run early).
func runFaults(ctx context.Context, dur time.Duration, l *load, nem *nemesis) error {
	run, stop := context.WithTimeout(ctx, dur)
	defer stop()
	collect, stopCollect := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var nemErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		l.run(run, collect)
	}()
	go func() {
		defer wg.Done()
		if nemErr = nem.run(run); nemErr != nil {
			stop()
		}
	}()
	wg.Wait()
	l.drain(drainTimeout, stopCollect)
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	l.resolveUnknown(rctx)
	return nemErr
}

// judge reads the tree and the ensemble's transaction logs and runs the
// history checker over them, the client's record and the processes' logs.
// Each problem naming a task says which fault was in progress when the
// task was submitted.
func judge(t *testing.T, c *cluster, l *load, nem *nemesis) (pt.Verdict, *pt.RootTxns) {
	var dirs []string
	for _, s := range c.ens.Servers {
		dirs = append(dirs, filepath.Join(s.Dir(), "data"))
	}
	h, err := pt.ReadTxnLogs(pt.KeepPaddockData(c.e.Root), dirs...)
	if err != nil {
		t.Fatalf("reading ZooKeeper's transaction logs: %v", err)
	}
	tx := pt.AnalyzeTxns(h, c.e.Root)
	ck := c.e.Checker()
	ck.Client, ck.Txns = l.hist, tx
	ck.Tree, ck.Collected = c.e.Tree(), true
	ck.Bound = completionBound
	v := ck.Verdict()
	for i := range v.Checks {
		for j, p := range v.Checks[i].Problems {
			v.Checks[i].Problems[j] = annotate(p, nem.faults)
		}
	}
	return v, tx
}

var taskIDRE = regexp.MustCompile(`\btask ([0-9a-f]{20})\b`)

// annotate appends to a problem about a task the fault in progress when it
// was submitted.
func annotate(problem string, faults []fault) string {
	m := taskIDRE.FindStringSubmatch(problem)
	if m == nil {
		return problem
	}
	at, ok := pt.SubmitTime(m[1])
	if !ok {
		return problem
	}
	return fmt.Sprintf("%s [submitted %s]", problem, activeAt(faults, at))
}

func summarize(v pt.Verdict, tx *pt.RootTxns, faults []fault, seed uint64, dur time.Duration, started time.Time) Summary {
	n := v.Counts
	s := Summary{
		Seed: seed, Started: started.UTC(), Planned: dur.String(), Leaders: leaders, Seconds: time.Since(started).Seconds(),
		Passed: v.OK, Verdict: v.String(), CPUs: runtime.NumCPU(), Commit: commit(),
		Submitted:    n.Acknowledged + n.SubmitFailed + n.SubmitUnknown,
		Acknowledged: n.Acknowledged, SubmitFailed: n.SubmitFailed, SubmitUnknown: n.SubmitUnknown, UnknownApplied: n.UnknownApplied,
		Succeeded: n.Results, Cancelled: n.Cancelled,
		Faults: countKinds(faults),
		Lost:   n.Lost, Duplicates: n.Duplicates, Stuck: n.Stuck, Leaks: n.Leaks,
		DeposedRefused: n.DeposedRefused, RefusedBy: tx.RefusedBy(), DeposedApplied: n.DeposedApplied,
		TakeOvers: n.TakeOvers, LeaderWrites: n.LeaderWrites, Txns: n.Txns,
		WorstCompletionMS: n.WorstCompletionMS,
		Failover:          failovers(faults, tx),
	}
	for _, c := range v.Checks {
		for _, p := range c.Problems {
			s.Problems = append(s.Problems, c.Name+": "+p)
		}
	}
	return s
}

// commit names the code under test, when the test runs in a git checkout.
func commit() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
