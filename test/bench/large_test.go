package bench_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// LargeOutEnv names the file `make bench-large` writes its report to;
// without it TestLarge skips. PADDOCK_BENCH_LARGE_N sets the backlog
// (default 1,000,000) and PADDOCK_BENCH_ZK_HEAP ZooKeeper's -Xmx (default
// 2g).
const LargeOutEnv = "PADDOCK_BENCH_LARGE_OUT"

// Large is the big-backlog scenario of issue 13.
type Large struct {
	Machine    map[string]string `json:"machine"`
	Tasks      int               `json:"tasks"`
	Chunk      int               `json:"chunk"`
	ZKHeap     string            `json:"zookeeper_xmx"`
	ChunkRates []float64         `json:"submit_rate_per_chunk"`
	// Each chunk's rate is noisy (a snapshot, a GC, other users of the
	// host): the empty-queue rate is the median of the first tenth of the
	// chunks (at least 3), the full-queue rate that of the last tenth.
	EmptyRate   float64   `json:"empty_queue_submit_rate"`
	FullRate    float64   `json:"full_queue_submit_rate"`
	TenthRates  []float64 `json:"submit_rate_median_per_tenth"`
	SubmitRatio float64   `json:"full_over_empty"`
	SubmitSecs  float64   `json:"submit_seconds"`
	// ZooKeeper with the whole backlog in it.
	ZKZnodes      float64 `json:"zk_znode_count"`
	ZKDataMB      float64 `json:"zk_approximate_data_size_mb"`
	ZKLiveHeapMB  float64 `json:"zk_live_heap_after_full_gc_mb"`
	ZKMaxHeapMB   float64 `json:"zk_max_heap_mb"` // the JVM's MaxHeapSize: the -Xmx it runs with
	ZKRSSMB       float64 `json:"zk_rss_mb"`
	ZKPeakRSSMB   float64 `json:"zk_peak_rss_mb"` // VmHWM at the end
	ListOldestMs  float64 `json:"ls_limit20_ms"`
	FailoverTerm  float64 `json:"failover_sigterm_ms"`
	FailoverKill  float64 `json:"failover_kill9_ms"`
	DrainSeconds  float64 `json:"drain_seconds"`
	DrainRate     float64 `json:"drain_tasks_per_sec"`
	MasterPeakRSS float64 `json:"master_peak_rss_mb"` // VmHWM, the largest of any master
	WorkerPeakRSS float64 `json:"worker_peak_rss_mb"`
	TotalSeconds  float64 `json:"total_seconds"`
}

func largeN() int { return envCount("PADDOCK_BENCH_LARGE_N", 1_000_000) }

// heapJava writes a java wrapper that replaces the harness's -Xmx with
// heap (zktest has no option for the heap; JAVA picks the binary).
func heapJava(t *testing.T, heap string) string {
	t.Helper()
	java := os.Getenv("JAVA")
	if java == "" {
		var err error
		if java, err = exec.LookPath("java"); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "java")
	script := fmt.Sprintf(`#!/bin/sh
for a; do
  shift
  case "$a" in -Xmx*) set -- "$@" "-Xmx%s" ;; *) set -- "$@" "$a" ;; esac
done
exec %q "$@"
`, heap, java)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// statusKB is a "Vm...:" field of /proc/<pid>/status, in MB.
func statusMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			kb, _ := strconv.ParseFloat(f[0], 64)
			return kb / 1024
		}
	}
	return 0
}

var (
	heapUsed = regexp.MustCompile(`used (\d+)K`)
	heapMax  = regexp.MustCompile(`MaxHeapSize=(\d+)`)
)

// maxHeapMB is the JVM's MaxHeapSize (jcmd VM.flags).
func maxHeapMB(pid int) float64 {
	out, err := exec.Command("jcmd", strconv.Itoa(pid), "VM.flags").Output()
	if m := heapMax.FindSubmatch(out); err == nil && m != nil {
		b, _ := strconv.ParseFloat(string(m[1]), 64)
		return b / (1 << 20)
	}
	return 0
}

// liveHeapMB runs a full GC in the JVM and returns the heap then in use
// (jcmd GC.run, GC.heap_info): the heap ZooKeeper needs for its data.
func liveHeapMB(pid int) float64 {
	if err := exec.Command("jcmd", strconv.Itoa(pid), "GC.run").Run(); err != nil {
		return 0
	}
	out, err := exec.Command("jcmd", strconv.Itoa(pid), "GC.heap_info").Output()
	if err != nil {
		return 0
	}
	m := heapUsed.FindSubmatch(out)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	return kb / 1024
}

func TestLarge(t *testing.T) {
	out := os.Getenv(LargeOutEnv)
	if out == "" {
		t.Skip("a long benchmark, not a test: run `make bench-large`")
	}
	began := time.Now()
	heap := os.Getenv("PADDOCK_BENCH_ZK_HEAP")
	if heap == "" {
		heap = "2g"
	}
	// ZooKeeper's own JVM defaults (G1: short pauses, which 2 s sessions
	// need with a heap this size) with the heap set.
	t.Setenv("JAVA", heapJava(t, heap))
	srv := zktest.Start(t, zktest.WithTickTime(tickTime), zktest.WithShippedJVM(), zktest.WithStartTimeout(time.Minute))
	bins := proctest.Build(t)
	n := largeN()
	const chunk = 10000
	L := &Large{Machine: machine("ZooKeeper's defaults (G1, full JIT), -Xmx" + heap), Tasks: n, Chunk: chunk, ZKHeap: heap}
	defer func() {
		L.TotalSeconds = time.Since(began).Seconds()
		b, _ := json.MarshalIndent(L, "", "  ")
		if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
			t.Error(err)
		}
		fmt.Println(largeTable(L))
	}()

	env := deployment(t, srv, bins, 2, 0, 0)
	var peakMaster, peakWorker, peakZK sync.Map
	record := func(m *sync.Map, pid int) {
		if v := statusMB(pid, "VmHWM"); v > 0 {
			m.Store(pid, v)
		}
	}
	sampleAll := func() {
		for _, p := range env.ByRole("master") {
			if !p.Exited() {
				record(&peakMaster, p.Pid())
			}
		}
		for _, p := range env.ByRole("worker") {
			if !p.Exited() {
				record(&peakWorker, p.Pid())
			}
		}
		record(&peakZK, srv.PID())
	}
	// VmHWM is the peak already: sample it before a process ends.
	stopSampling := every(500*time.Millisecond, sampleAll)
	defer func() {
		stopSampling()
		sampleAll()
		maxOf := func(m *sync.Map) (v float64) {
			m.Range(func(_, x any) bool { v = max(v, x.(float64)); return true })
			return v
		}
		L.MasterPeakRSS, L.WorkerPeakRSS, L.ZKPeakRSSMB = maxOf(&peakMaster), maxOf(&peakWorker), maxOf(&peakZK)
	}()

	// Submit with no worker running, chunk by chunk.
	submitStart := time.Now()
	for done := 0; done < n; done += chunk {
		c := min(chunk, n-done)
		o := env.RunClient(10*time.Minute, "submit", "--count", strconv.Itoa(c), "--kind", "echo", "--data", "x")
		if o.Code != 0 {
			t.Fatalf("submit at %d: exit %d %s", done, o.Code, o.Stderr)
		}
		L.ChunkRates = append(L.ChunkRates, float64(c)/o.Took.Seconds())
		if k := len(L.ChunkRates); k%10 == 0 || done+c >= n {
			t.Logf("submitted %d: %.0f tasks/s (this chunk), ZooKeeper RSS %.0f MB", done+c, L.ChunkRates[k-1], statusMB(srv.PID(), "VmRSS"))
		}
	}
	L.SubmitSecs = time.Since(submitStart).Seconds()
	k := len(L.ChunkRates)
	w := min(k, max(3, k/10))
	L.EmptyRate = medianOf(L.ChunkRates[:w])
	L.FullRate = medianOf(L.ChunkRates[k-w:])
	for i := 0; i+w <= k && k >= 10; i += w {
		L.TenthRates = append(L.TenthRates, medianOf(L.ChunkRates[i:i+w]))
	}
	L.SubmitRatio = L.FullRate / L.EmptyRate
	if m, err := mntr(srv); err == nil {
		L.ZKZnodes, L.ZKDataMB = m["zk_znode_count"], m["zk_approximate_data_size"]/1e6
	}
	L.ZKRSSMB = statusMB(srv.PID(), "VmRSS")
	L.ZKLiveHeapMB = liveHeapMB(srv.PID())
	L.ZKMaxHeapMB = maxHeapMB(srv.PID())
	t.Logf("backlog of %d: ZooKeeper %0.f znodes, %.0f MB of data, live heap %.0f MB, RSS %.0f MB",
		n, L.ZKZnodes, L.ZKDataMB, L.ZKLiveHeapMB, L.ZKRSSMB)
	L.ListOldestMs = timeList(t, env, 20, 20)

	// Workers, then the leader's failover twice with the backlog.
	for i := range workers {
		env.Worker(fmt.Sprintf("w%d", i+1), workerSlots, "--log-level", "warn")
	}
	drainStart := time.Now()
	L.FailoverTerm, L.FailoverKill = failovers(t, env, time.Minute, sampleAll)
	// Drain: poll status every 5 s (each poll is a process reading the tree).
	deadline := time.Now().Add(2 * time.Hour)
	for {
		s := readStatus(t, env)
		if s.Pending == 0 && s.Running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %+v", s)
		}
		t.Logf("draining: %d pending, %d running after %.0f s", s.Pending, s.Running, time.Since(drainStart).Seconds())
		time.Sleep(5 * time.Second) // a measurement's sampling period, not a synchronisation
	}
	L.DrainSeconds = time.Since(drainStart).Seconds()
	L.DrainRate = float64(n) / L.DrainSeconds
}

func largeTable(L *Large) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nPaddock large backlog (%s, %s CPUs, ZooKeeper -Xmx%s)\n", L.Machine["cpu"], L.Machine["cpus"], L.ZKHeap)
	row := func(k, v string) { fmt.Fprintf(&b, "  %-52s %s\n", k, v) }
	row("backlog", fmt.Sprintf("%d tasks, submitted in chunks of %d by `client submit --count`, no workers", L.Tasks, L.Chunk))
	row("submit rate, empty / full (first / last tenth)", fmt.Sprintf("%.0f / %.0f tasks/s (%.0f%%), all in %.0f s", L.EmptyRate, L.FullRate, 100*L.SubmitRatio, L.SubmitSecs))
	row("  median per tenth of the backlog", fmt.Sprintf("%.0f", L.TenthRates))
	row("ZooKeeper with the backlog", fmt.Sprintf("%.0f znodes, %.0f MB data, live heap %.0f MB of max %.0f MB, RSS %.0f MB (peak %.0f MB)", L.ZKZnodes, L.ZKDataMB, L.ZKLiveHeapMB, L.ZKMaxHeapMB, L.ZKRSSMB, L.ZKPeakRSSMB))
	row("client ls --limit 20", fmt.Sprintf("%.0f ms", L.ListOldestMs))
	row("failover SIGTERM / kill -9 -> first assignment", fmt.Sprintf("%.0f / %.0f ms", L.FailoverTerm, L.FailoverKill))
	row("drain (4 workers x 16)", fmt.Sprintf("%.0f s, %.0f tasks/s", L.DrainSeconds, L.DrainRate))
	row("peak RSS (VmHWM): master / worker", fmt.Sprintf("%.0f MB / %.0f MB", L.MasterPeakRSS, L.WorkerPeakRSS))
	row("total", fmt.Sprintf("%.0f s", L.TotalSeconds))
	return b.String()
}
