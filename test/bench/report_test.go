// Package bench measures Paddock against its ZooKeeper's own ceiling: the
// raw write rate, end-to-end throughput and write transactions per task,
// latency, failover and backlog. `make bench` runs it and writes
// bench-report.json; BENCHMARKS.md records a run.
package bench_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// OutEnv names the file the report is written to; without it the test skips.
const OutEnv = "PADDOCK_BENCH_OUT"

const (
	sessionTimeout = 2 * time.Second
	tickTime       = 500 * time.Millisecond
	// The end-to-end deployment: 1 master, 4 workers of 16, 1 client: six
	// connections, which the raw write measurement uses too.
	workers     = 4
	workerSlots = 16
	connections = 6
)

// Report is what a run measured.
type Report struct {
	Machine        map[string]string  `json:"machine"`
	SessionTimeout string             `json:"session_timeout"`
	TickTime       string             `json:"tick_time"`
	Raw            map[string]RawRate `json:"raw_writes"`
	Throughput     Throughput         `json:"throughput"`
	Latency        map[string]Latency `json:"latency"`
	Failover       map[string]Times   `json:"failover"`
	Backlog        Backlog            `json:"backlog"`
	WorkerIdleRSS  float64            `json:"worker_idle_rss_mb"`
	Bound          Bound              `json:"bound"`
	// Costs per task with 1, 2 and 4 masters (issue 13), and the A/B
	// against PADDOCK_BENCH_BASELINE's binaries when it is set.
	ClockTicks float64 `json:"clock_ticks_per_sec"`
	Costs      []Cost  `json:"costs,omitempty"`
	// Scale is the scale step's windows (PADDOCK_BENCH_SCALE): one load,
	// 1, 2 and 4 of 4 masters leading.
	Scale []Cost `json:"scale,omitempty"`
	// ScaleBusiest: the scale step's rounds against a baseline.
	ScaleBusiest []ScaleBusiest `json:"scale_busiest,omitempty"`
	AB           *AB            `json:"ab,omitempty"`
	// Scheduled: a backlog of 100,000 tasks due in an hour (issue 10).
	Scheduled *Scheduled `json:"scheduled,omitempty"`
}

// RawRate is a saturated write rate measured with go-zookeeper.
type RawRate struct {
	Shape       string  `json:"shape"`
	Connections int     `json:"connections"`
	PerConn     int     `json:"goroutines_per_connection"`
	OpsPerSec   float64 `json:"requests_per_sec"`
	TxnsPerSec  float64 `json:"txns_per_sec"` // from the zxid: what the server committed
}

// Throughput is the end-to-end rate of echo tasks.
type Throughput struct {
	Tasks        int     `json:"tasks"`
	InFlight     int     `json:"in_flight"`
	TasksPerSec  float64 `json:"tasks_per_sec"`
	TxnsPerTask  float64 `json:"txns_per_task"`
	LatencyP50ms float64 `json:"latency_p50_ms"`
	LatencyP99ms float64 `json:"latency_p99_ms"`
}

// Latency is submit → result seen by the client.
type Latency struct {
	Rate  float64 `json:"rate"` // 0: one task at a time
	Tasks int     `json:"tasks"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
}

// Times are repeated measurements, in ms.
type Times struct {
	Runs   []float64 `json:"runs_ms"`
	Median float64   `json:"median_ms"`
	What   string    `json:"what"`
}

// Backlog is the 100,000-task scenario.
type Backlog struct {
	Tasks             int       `json:"tasks"`
	ChunkRates        []float64 `json:"submit_rate_per_chunk"` // tasks/s for each 10,000
	EmptyRate         float64   `json:"empty_queue_submit_rate"`
	FullRate          float64   `json:"full_queue_submit_rate"`
	FailoverSIGTERMms float64   `json:"failover_sigterm_ms"`
	FailoverKillms    float64   `json:"failover_kill9_ms"`
	DrainSeconds      float64   `json:"drain_seconds"`
	DrainRate         float64   `json:"drain_tasks_per_sec"`
	MasterPeakRSS     float64   `json:"master_peak_rss_mb"`
	// `client ls` with the 100,000 pending, end to end (process start,
	// connect, list, print): the 20 oldest, and all of them as JSON Lines.
	ListOldestMs float64 `json:"ls_limit20_ms"`
	ListAllMs    float64 `json:"ls_all_ms"`
}

// Bound is the throughput ceiling the protocol allows on this ZooKeeper.
type Bound struct {
	WRaw          float64 `json:"w_raw"`
	WMin          float64 `json:"w_min"`
	Ceiling       float64 `json:"ceiling_tasks_per_sec"`
	Achieved      float64 `json:"achieved_tasks_per_sec"`
	FractionOfMax float64 `json:"fraction_of_ceiling"`
}

func TestReport(t *testing.T) {
	out := os.Getenv(OutEnv)
	if out == "" {
		t.Skip("a benchmark report, not a test: run `make bench`")
	}
	// The JVM: by default the lean one the tests use (serial GC, C1 JIT),
	// which does more on 2 cores than ZooKeeper's defaults (G1, full JIT,
	// 1 GB heap); PADDOCK_BENCH_JVM=shipped measures with those. Its heap
	// is 1 GB, not the tests' 256 MB: the backlog step's 100,000 tasks
	// (200,000 znodes) ran the small heap out of memory.
	opts := []zktest.Option{zktest.WithTickTime(tickTime), zktest.WithHeap("1g")}
	jvm := "serial GC, C1 JIT, 1 GB heap (PADDOCK_BENCH_JVM=shipped for ZooKeeper's defaults)"
	if os.Getenv("PADDOCK_BENCH_JVM") == "shipped" {
		opts = append(opts, zktest.WithShippedJVM())
		jvm = "ZooKeeper's defaults: G1, full JIT, 1 GB heap"
	}
	srv := zktest.Start(t, opts...)
	bins := proctest.Build(t)
	rep := &Report{
		Machine:        machine(jvm),
		SessionTimeout: sessionTimeout.String(),
		TickTime:       tickTime.String(),
		Raw:            map[string]RawRate{},
		Latency:        map[string]Latency{},
		Failover:       map[string]Times{},
	}
	defer func() {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
			t.Error(err)
		}
		fmt.Println(table(rep))
	}()

	t.Run("raw", func(t *testing.T) { measureRaw(t, srv, rep) })
	t.Run("throughput", func(t *testing.T) { measureThroughput(t, srv, bins, rep) })
	rep.ClockTicks = clockTicks()
	t.Run("costs", func(t *testing.T) { measureCosts(t, srv, bins, rep) })
	if v := os.Getenv(ScaleEnv); v != "" {
		t.Run("scale", func(t *testing.T) {
			for _, f := range strings.Fields(v) {
				sh, err := parseShape(f)
				if err != nil {
					t.Fatal(err)
				}
				measureScale(t, srv, bins, sh, rep)
			}
		})
	}
	t.Run("failover", func(t *testing.T) { measureFailover(t, srv, bins, rep) })
	t.Run("backlog", func(t *testing.T) { measureBacklog(t, srv, bins, rep) })
	t.Run("scheduled", func(t *testing.T) { measureScheduled(t, srv, bins, rep) })
	if ref := os.Getenv(BaselineEnv); ref != "" {
		t.Run("ab", func(t *testing.T) { measureAB(t, srv, bins, ref, rep) })
	}
}

func machine(jvm string) map[string]string {
	m := map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		m["memory"] = strings.Join(strings.Fields(line)[1:], " ")
	}
	m["zookeeper"] = "Debian zookeeper 3.8.0, standalone, forceSync=yes (fsync on)"
	m["jvm"] = jvm
	return m
}

// measureRaw saturates the server with go-zookeeper: plain creates, and the
// cycle of multis one task costs (submit, assign, complete, collect).
func measureRaw(t *testing.T, srv *zktest.Server, rep *Report) {
	const perConn = 16
	const dur = 4 * time.Second
	conns := make([]*zk.Conn, connections)
	for i := range conns {
		conns[i] = proctest.ConnectZK(t, srv.Addr())
	}
	root := "/bench-raw"
	for _, p := range []string{root, root + "/c", root + "/data", root + "/tasks", root + "/assign", root + "/results", root + "/fence"} {
		if _, err := conns[0].Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatal(err)
		}
	}
	payload := make([]byte, 100)
	acl := zk.WorldACL(zk.PermAll)
	shapes := map[string]func(c *zk.Conn, g, i int) (int, error){
		"create": func(c *zk.Conn, g, i int) (int, error) {
			_, err := c.Create(fmt.Sprintf("%s/c/%d-%d", root, g, i), payload, 0, acl)
			return 1, err
		},
		// One task's four multis, with Paddock's op shapes and sizes, one task
		// per multi (the unbatched case).
		"task-cycle": func(c *zk.Conn, g, i int) (int, error) {
			id := fmt.Sprintf("%d-%d", g, i)
			spec := make([]byte, 180)
			if _, err := c.Multi(
				&zk.CreateRequest{Path: root + "/data/" + id, Data: payload, Acl: acl},
				&zk.CreateRequest{Path: root + "/tasks/" + id, Data: spec, Acl: acl}); err != nil {
				return 0, err
			}
			if _, err := c.Multi(
				&zk.CheckVersionRequest{Path: root + "/fence", Version: -1},
				&zk.CheckVersionRequest{Path: root, Version: -1},
				&zk.SetDataRequest{Path: root + "/tasks/" + id, Data: spec, Version: 0},
				&zk.CreateRequest{Path: root + "/assign/" + id, Data: spec, Acl: acl}); err != nil {
				return 1, err
			}
			if _, err := c.Multi(
				&zk.DeleteRequest{Path: root + "/assign/" + id, Version: 0},
				&zk.DeleteRequest{Path: root + "/tasks/" + id, Version: -1},
				&zk.CreateRequest{Path: root + "/results/" + id, Data: spec, Acl: acl}); err != nil {
				return 2, err
			}
			if _, err := c.Multi(
				&zk.DeleteRequest{Path: root + "/results/" + id, Version: -1},
				&zk.DeleteRequest{Path: root + "/data/" + id, Version: -1}); err != nil {
				return 3, err
			}
			return 4, nil
		},
	}
	// Warm the server up first (JIT, caches): the first seconds of a JVM
	// are not its steady state, and the end-to-end runs come later.
	warm := func(name string, d time.Duration) {
		var wg sync.WaitGroup
		deadline := time.Now().Add(d)
		for ci, c := range conns {
			for g := range perConn {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; time.Now().Before(deadline); i++ {
						if _, err := shapes[name](c, 1_000_000+ci*perConn+g, i); err != nil {
							return
						}
					}
				}()
			}
		}
		wg.Wait()
	}
	warm("task-cycle", 5*time.Second)
	for _, name := range []string{"create", "task-cycle"} {
		op := shapes[name]
		z0, _ := srv.Zxid()
		var ops atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(dur)
		start := time.Now()
		for ci, c := range conns {
			for g := range perConn {
				wg.Add(1)
				go func() {
					defer wg.Done()
					gid := ci*perConn + g
					for i := 0; time.Now().Before(deadline); i++ {
						n, err := op(c, gid, i)
						ops.Add(int64(n))
						if err != nil {
							t.Errorf("%s: %v", name, err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		took := time.Since(start).Seconds()
		z1, _ := srv.Zxid()
		r := RawRate{Shape: name, Connections: connections, PerConn: perConn,
			OpsPerSec: float64(ops.Load()) / took, TxnsPerSec: float64(z1-z0) / took}
		rep.Raw[name] = r
		t.Logf("raw %s: %.0f requests/s, %.0f txns/s", name, r.OpsPerSec, r.TxnsPerSec)
	}
}

// deployment starts masters and workers on a fresh root and waits until
// they are ready.
func deployment(t *testing.T, srv *zktest.Server, bins proctest.Bins, masters, nWorkers, slots int) *proctest.Env {
	env := proctest.NewEnv(t, bins, srv.Addr())
	env.SessionTimeout = sessionTimeout
	// One leader, whatever proctest.LeadersEnv says: the measures that
	// compare several set them themselves (Env.SetLeaders).
	env.Leaders = 1
	env.Init()
	for i := range masters {
		env.Master(fmt.Sprintf("m%d", i+1), "--log-level", "info")
	}
	for i := range nWorkers {
		env.Worker(fmt.Sprintf("w%d", i+1), slots, "--log-level", "warn")
	}
	waitStatus(t, env, 30*time.Second, func(s status) bool {
		return s.Leader != nil && !s.TakingOver && len(s.Workers) == nWorkers && len(s.Backups) == masters-1
	})
	return env
}

type status struct {
	Leader *struct {
		ID  string `json:"id"`
		PID int    `json:"pid"`
	} `json:"leader"`
	TakingOver bool `json:"taking_over"`
	Backups    []struct {
		ID string `json:"id"`
	} `json:"backups"`
	Workers []struct {
		Name string `json:"name"`
		PID  int    `json:"pid"`
	} `json:"workers"`
	Pending int `json:"pending"`
	Running int `json:"running"`
}

func readStatus(t *testing.T, env *proctest.Env) status {
	o := env.RunClient(30*time.Second, "status", "--json")
	var s status
	if o.Code != 0 || json.Unmarshal([]byte(o.Stdout), &s) != nil {
		t.Fatalf("client status: exit %d: %s %s", o.Code, o.Stdout, o.Stderr)
	}
	return s
}

// waitStatus polls `client status` (benchmark scaffolding, not product code).
func waitStatus(t *testing.T, env *proctest.Env, within time.Duration, ok func(status) bool) status {
	deadline := time.Now().Add(within)
	for {
		s := readStatus(t, env)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never got there: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func measureThroughput(t *testing.T, srv *zktest.Server, bins proctest.Bins, rep *Report) {
	env := deployment(t, srv, bins, 1, workers, workerSlots)
	// Warm up, then saturate.
	env.RunDone(env.StartRun(500, 64, "echo", "x"), time.Minute)
	const n, inFlight = 20000, 128
	z0, _ := srv.Zxid()
	s, code := env.RunDone(env.StartRun(n, inFlight, "echo", "x"), 10*time.Minute)
	z1, _ := srv.Zxid()
	if code != 0 {
		t.Fatalf("run: exit %d %+v", code, s)
	}
	rep.Throughput = Throughput{Tasks: n, InFlight: inFlight, TasksPerSec: s.TasksPerSec,
		TxnsPerTask: float64(z1-z0) / float64(n), LatencyP50ms: s.LatencyP50, LatencyP99ms: s.LatencyP99}
	t.Logf("throughput: %+v", rep.Throughput)

	idle, _ := env.RunDone(env.StartRun(1000, 1, "echo", "x"), 5*time.Minute)
	rep.Latency["idle"] = Latency{Tasks: 1000, P50: idle.LatencyP50, P99: idle.LatencyP99}
	half := s.TasksPerSec / 2
	dur := 15.0
	hs, _ := env.RunDone(env.StartRun(int(half*dur), 512, "echo", "x", "--rate", fmt.Sprintf("%.0f", half)), 5*time.Minute)
	rep.Latency["half"] = Latency{Rate: half, Tasks: int(half * dur), P50: hs.LatencyP50, P99: hs.LatencyP99}
	t.Logf("latency: %+v", rep.Latency)

	st := readStatus(t, env)
	if len(st.Workers) > 0 {
		rep.WorkerIdleRSS = rssMB(st.Workers[0].PID)
	}

	wraw := rep.Raw["task-cycle"].TxnsPerSec
	wmin := 2.0 // submit and collect per task; assign and complete batched (docs/PROTOCOL.md)
	rep.Bound = Bound{WRaw: wraw, WMin: wmin, Ceiling: wraw / wmin, Achieved: s.TasksPerSec}
	if rep.Bound.Ceiling > 0 {
		rep.Bound.FractionOfMax = s.TasksPerSec / rep.Bound.Ceiling
	}
}

func measureFailover(t *testing.T, srv *zktest.Server, bins proctest.Bins, rep *Report) {
	env := deployment(t, srv, bins, 2, 2, 8)
	load := env.StartRun(1_000_000, 16, "echo", "x", "--rate", "200")
	defer load.Term()
	for _, how := range []string{"sigterm", "kill9"} {
		var runs []float64
		for i := range 5 {
			st := waitStatus(t, env, 30*time.Second, func(s status) bool { return s.Leader != nil && !s.TakingOver && len(s.Backups) == 1 })
			leader, backup := procByID(env, st.Leader.ID), procByID(env, st.Backups[0].ID)
			var at time.Time
			if how == "sigterm" {
				at = leader.Term()
			} else {
				at = leader.Kill()
			}
			first := backup.WaitLog(30*time.Second, proctest.All(proctest.Msg("assigned tasks"), proctest.After(at)))
			runs = append(runs, float64(first.TS.Sub(at).Microseconds())/1000)
			leader.Wait(30 * time.Second)
			env.Master(leader.ID, "--log-level", "info") // it comes back as a backup
			t.Logf("%s failover %d: %.0f ms", how, i, runs[len(runs)-1])
		}
		rep.Failover["master_"+how] = Times{Runs: runs, Median: medianOf(runs),
			What: "signal to the leader -> first assignment by the backup, tasks flowing at 200/s"}
	}
	// A worker's death: its tasks start on an idle spare.
	var runs []float64
	for i := range 5 {
		wenv := deployment(t, srv, bins, 1, 0, 0)
		victim := wenv.Worker("victim", 2, "--log-level", "info")
		victim.WaitLog(30*time.Second, proctest.Msg("worker registered"))
		ids := []string{wenv.Submit("sleep", "2"), wenv.Submit("sleep", "2")}
		victim.WaitLogN(30*time.Second, 2, proctest.Msg("task started"))
		spare := wenv.Worker("spare", 4, "--log-level", "info")
		spare.WaitLog(30*time.Second, proctest.Msg("worker registered"))
		at := victim.Kill()
		var worst time.Duration
		for _, id := range ids {
			l := spare.WaitLog(30*time.Second, proctest.All(proctest.Msg("task started"), proctest.Field("task", id)))
			worst = max(worst, l.TS.Sub(at))
		}
		runs = append(runs, float64(worst.Microseconds())/1000)
		wenv.WaitResults(time.Minute, ids)
		t.Logf("worker failover %d: %.0f ms", i, runs[len(runs)-1])
	}
	rep.Failover["worker_kill9"] = Times{Runs: runs, Median: medianOf(runs), What: "kill -9 of a worker -> its tasks started elsewhere"}
}

func procByID(env *proctest.Env, id string) *proctest.Proc {
	var found *proctest.Proc
	for _, p := range env.Procs() {
		if p.ID == id && !p.Exited() {
			found = p
		}
	}
	return found
}

func measureBacklog(t *testing.T, srv *zktest.Server, bins proctest.Bins, rep *Report) {
	env := deployment(t, srv, bins, 2, 0, 0)
	const chunk, chunks = 10000, 10
	b := Backlog{Tasks: chunk * chunks}
	for i := range chunks {
		o := env.RunClient(10*time.Minute, "submit", "--count", strconv.Itoa(chunk), "--kind", "echo", "--data", "x")
		if o.Code != 0 {
			t.Fatalf("submit chunk %d: %d %s", i, o.Code, o.Stderr)
		}
		rate := chunk / o.Took.Seconds()
		b.ChunkRates = append(b.ChunkRates, rate)
		t.Logf("chunk %d: %.0f submits/s", i, rate)
	}
	b.EmptyRate, b.FullRate = b.ChunkRates[0], b.ChunkRates[chunks-1]
	b.ListOldestMs, b.ListAllMs = timeList(t, env, 20, 20), timeList(t, env, b.Tasks, b.Tasks)

	// Failover with 100,000 pending and workers draining.
	for i := range workers {
		env.Worker(fmt.Sprintf("w%d", i+1), workerSlots, "--log-level", "warn")
	}
	start := time.Now()
	var peak atomic.Int64
	stopSampling := every(100*time.Millisecond, func() { // the masters' memory while they work
		for _, m := range env.ByRole("master") {
			if kb := int64(rssMB(m.Pid()) * 1024); kb > peak.Load() {
				peak.Store(kb)
			}
		}
	})
	b.FailoverSIGTERMms, b.FailoverKillms = failovers(t, env, time.Minute, nil)
	waitStatus(t, env, 30*time.Minute, func(s status) bool { return s.Pending == 0 && s.Running == 0 })
	stopSampling()
	b.DrainSeconds = time.Since(start).Seconds()
	b.DrainRate = float64(b.Tasks) / b.DrainSeconds
	b.MasterPeakRSS = float64(peak.Load()) / 1024
	rep.Backlog = b
	t.Logf("backlog: %+v", b)
}

// every calls fn every d, on a goroutine of its own, until stop is called;
// stop returns once fn has run for the last time.
func every(d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(d)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				fn()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// failovers stops the leader of a deployment of two masters with SIGTERM,
// then (restarted) with kill -9, and returns each time from the signal to
// the backup's first assignment, in ms; before runs just before each
// signal (nil: nothing).
func failovers(t *testing.T, env *proctest.Env, within time.Duration, before func()) (termMs, killMs float64) {
	for _, kill := range []bool{false, true} {
		st := waitStatus(t, env, 2*within, func(s status) bool { return s.Leader != nil && !s.TakingOver && len(s.Backups) == 1 })
		leader, backup := procByID(env, st.Leader.ID), procByID(env, st.Backups[0].ID)
		if before != nil {
			before()
		}
		at := leader.Term()
		if kill {
			at = leader.Kill()
		}
		first := backup.WaitLog(within, proctest.All(proctest.Msg("assigned tasks"), proctest.After(at)))
		ms := float64(first.TS.Sub(at).Microseconds()) / 1000
		if kill {
			killMs = ms
		} else {
			termMs = ms
		}
		leader.Wait(within)
		env.Master(leader.ID, "--log-level", "info")
		t.Logf("failover with the backlog (kill -9 %v): %.0f ms", kill, ms)
	}
	return termMs, killMs
}

// timeList runs `client ls --limit limit -o json` over the backlog and
// returns how long the process took, in ms.
func timeList(t *testing.T, env *proctest.Env, limit, want int) float64 {
	o := env.RunClient(5*time.Minute, "ls", "--limit", strconv.Itoa(limit), "-o", "json")
	if n := strings.Count(o.Stdout, "\n"); o.Code != 0 || n != want {
		t.Fatalf("client ls --limit %d: exit %d, %d lines, want %d: %s", limit, o.Code, n, want, o.Stderr)
	}
	ms := float64(o.Took.Microseconds()) / 1000
	t.Logf("client ls --limit %d over the backlog: %.0f ms", limit, ms)
	return ms
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func table(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nPaddock benchmark (%s, %s CPUs, %s)\n", r.Machine["cpu"], r.Machine["cpus"], r.Machine["zookeeper"])
	row := func(k, v string) { fmt.Fprintf(&b, "  %-48s %s\n", k, v) }
	if len(r.Raw) > 0 {
		rawTable(&b, r, row)
	}
	costTable(&b, r)
	return b.String()
}

func rawTable(b *strings.Builder, r *Report, row func(k, v string)) {
	for _, k := range []string{"create", "task-cycle"} {
		x := r.Raw[k]
		row("W_raw "+k+" ("+strconv.Itoa(x.Connections)+" conns x "+strconv.Itoa(x.PerConn)+")",
			fmt.Sprintf("%.0f requests/s, %.0f txns/s", x.OpsPerSec, x.TxnsPerSec))
	}
	row("end-to-end echo tasks/s", fmt.Sprintf("%.0f (%.2f write txns/task, p50 %.1f ms, p99 %.1f ms at %d in flight)",
		r.Throughput.TasksPerSec, r.Throughput.TxnsPerTask, r.Throughput.LatencyP50ms, r.Throughput.LatencyP99ms, r.Throughput.InFlight))
	row("ceiling W_raw / w_min", fmt.Sprintf("%.0f tasks/s (w_min %.0f); achieved %.2f of it", r.Bound.Ceiling, r.Bound.WMin, r.Bound.FractionOfMax))
	for _, k := range []string{"idle", "half"} {
		l := r.Latency[k]
		row("latency "+k, fmt.Sprintf("p50 %.1f ms, p99 %.1f ms (rate %.0f/s)", l.P50, l.P99, l.Rate))
	}
	for _, k := range []string{"master_sigterm", "master_kill9", "worker_kill9"} {
		f := r.Failover[k]
		row("failover "+k, fmt.Sprintf("median %.0f ms %v", f.Median, f.Runs))
	}
	bl := r.Backlog
	row("backlog submit rate empty / at 100k", fmt.Sprintf("%.0f / %.0f tasks/s", bl.EmptyRate, bl.FullRate))
	row("backlog failover sigterm / kill -9", fmt.Sprintf("%.0f / %.0f ms", bl.FailoverSIGTERMms, bl.FailoverKillms))
	row("backlog client ls, 20 oldest / all 100k", fmt.Sprintf("%.0f ms / %.1f s", bl.ListOldestMs, bl.ListAllMs/1000))
	row("backlog drain", fmt.Sprintf("%.0f s (%.0f tasks/s), master peak RSS %.0f MB", bl.DrainSeconds, bl.DrainRate, bl.MasterPeakRSS))
	row("worker idle RSS", fmt.Sprintf("%.1f MB", r.WorkerIdleRSS))
}
