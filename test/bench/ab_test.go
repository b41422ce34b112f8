package bench_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// BaselineEnv names a git ref whose binaries `make bench` measures against
// the current build, alternating (make bench-ab BASELINE=<ref>); or a
// directory of that ref's binaries built beforehand (with the ref's commit
// in a file COMMIT there), where no git or Go is at hand.
const BaselineEnv = "PADDOCK_BENCH_BASELINE"

// AB is old binaries against new, on the same ZooKeeper, alternating.
type AB struct {
	Baseline string `json:"baseline"` // the ref
	Commit   string `json:"baseline_commit"`
	Rounds   int    `json:"rounds"`
	Old      []Cost `json:"old"`
	New      []Cost `json:"new"`
	// Ratios new/old of the medians.
	TasksPerSecRatio float64 `json:"tasks_per_sec_new_over_old"`
	PaddockCPURatio  float64 `json:"paddock_cpu_per_task_new_over_old"`
	RequestsRatio    float64 `json:"zk_requests_per_task_new_over_old"`
	TxnsRatio        float64 `json:"zk_txns_per_task_new_over_old"`
}

// buildRef builds ./cmd/... of a git ref of this repository: git archive
// of the ref into a temporary directory (no worktree is registered), then
// go build there.
func buildRef(t *testing.T, ref string) (proctest.Bins, string) {
	t.Helper()
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		bins, err := proctest.BinsIn(ref)
		if err != nil {
			t.Fatalf("%s=%s: %v", BaselineEnv, ref, err)
		}
		commit, _ := os.ReadFile(filepath.Join(ref, "COMMIT"))
		return bins, strings.TrimSpace(string(commit))
	}
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--verify", ref+"^{commit}").Output()
	if err != nil {
		t.Fatalf("%s=%s: not a commit: %v", BaselineEnv, ref, err)
	}
	commit := string(out[:len(out)-1])
	src := t.TempDir()
	sh := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, commit, src)
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", ref, err, b)
	}
	dir := filepath.Join(src, "bench-bin")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
	build.Dir = src
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of %s: %v\n%s", ref, err, b)
	}
	return proctest.Bins{Dir: dir, Master: filepath.Join(dir, "master"), Worker: filepath.Join(dir, "worker"),
		Client: filepath.Join(dir, "client"), Election: filepath.Join(dir, "election")}, commit
}

func abRounds() int { return envCount("PADDOCK_BENCH_AB_ROUNDS", 3) }

// envCount is the positive number the environment variable name holds, or
// def when it holds none.
func envCount(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// abba runs runOld and runNew in the order of round: old first in even rounds,
// new first in odd ones, so a drift of the host's speed within a run
// weighs on both alike.
func abba(round int, runOld, runNew func()) {
	if round%2 == 0 {
		runOld()
		runNew()
	} else {
		runNew()
		runOld()
	}
}

// measureAB alternates old and new (ABBA order, so a drift of the host's
// speed weighs on both alike) with 1 master, 4 workers of 16 and 128 in
// flight, and reports the ratios of the medians.
func measureAB(t *testing.T, srv *zktest.Server, bins proctest.Bins, ref string, rep *Report) {
	old, commit := buildRef(t, ref)
	ab := &AB{Baseline: ref, Commit: commit, Rounds: abRounds()}
	rep.AB = ab
	n := costTasks()
	for i := range ab.Rounds {
		runOld := func() {
			ab.Old = append(ab.Old, measureCost(t, srv, old, fmt.Sprintf("old %d", i+1), ref, defaultShape, 1, 1, n))
		}
		runNew := func() {
			ab.New = append(ab.New, measureCost(t, srv, bins, fmt.Sprintf("new %d", i+1), "new", defaultShape, 1, 1, n))
		}
		abba(i, runOld, runNew)
	}
	med := func(cs []Cost, f func(Cost) float64) float64 {
		xs := make([]float64, len(cs))
		for i, c := range cs {
			xs[i] = f(c)
		}
		return medianOf(xs)
	}
	ratio := func(f func(Cost) float64) float64 {
		if o := med(ab.Old, f); o > 0 {
			return med(ab.New, f) / o
		}
		return 0
	}
	ab.TasksPerSecRatio = ratio(func(c Cost) float64 { return c.TasksPerSec })
	ab.PaddockCPURatio = ratio(func(c Cost) float64 { return c.PaddockCPU })
	ab.RequestsRatio = ratio(func(c Cost) float64 { return c.RequestsPerTask })
	ab.TxnsRatio = ratio(func(c Cost) float64 { return c.TxnsPerTask })
	t.Logf("A/B new/old: tasks/s %.2f, Paddock CPU per task %.2f, requests per task %.2f, txns per task %.2f",
		ab.TasksPerSecRatio, ab.PaddockCPURatio, ab.RequestsRatio, ab.TxnsRatio)
}

// medianOf is the median (the mean of the middle two for an even count).
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
