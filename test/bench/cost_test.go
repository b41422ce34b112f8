package bench_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// Cost is what one measured window cost, per task: the host-independent
// figures that decide throughput on a bigger host (issue 13).
//
//   - Requests: the server's own count of packets received from clients
//     (mntr zk_packets_received; pings and the client's connect included),
//     before and after the window.
//   - Write transactions: the zxid delta (session create/close included).
//   - CPU: utime+stime of each process from /proc/<pid>/stat (clock ticks),
//     sampled at the window's start and end; the client's from its rusage
//     (it is started at the window's start and exits at its end).
//
// CPU-seconds per 1,000 tasks is numerically CPU-milliseconds per task.
type Cost struct {
	Label       string  `json:"label"`
	Binaries    string  `json:"binaries"` // "new", or the baseline ref
	Masters     int     `json:"masters"`
	Workers     int     `json:"workers"`
	Shape       shape   `json:"shape"`
	Tasks       int     `json:"tasks"`
	InFlight    int     `json:"in_flight"`
	Seconds     float64 `json:"seconds"`
	TasksPerSec float64 `json:"tasks_per_sec"`
	LatencyP50  float64 `json:"latency_p50_ms"`
	LatencyP99  float64 `json:"latency_p99_ms"`

	RequestsPerTask float64            `json:"zk_requests_per_task"`         // zk_packets_received delta / tasks
	SentPerTask     float64            `json:"zk_packets_sent_per_task"`     // replies and watch notifications
	TxnsPerTask     float64            `json:"zk_write_txns_per_task"`       // zxid delta / tasks
	RequestsByRole  map[string]float64 `json:"zk_requests_per_task_by_role"` // from cons, per connection

	// CPU-seconds per 1,000 tasks (= CPU ms per task).
	Leaders   int     `json:"leaders"`             // master.leaders: masters leading at once
	LeaderCPU float64 `json:"cpu_s_per_1k_leader"` // all leading masters together
	// BusiestLeaderCPU is the leading master that cost most: the figure
	// that says whether one master is still the ceiling.
	BusiestLeaderCPU float64   `json:"cpu_s_per_1k_busiest_leader"`
	BackupsCPU       float64   `json:"cpu_s_per_1k_backups"` // all backups together
	WorkersCPU       float64   `json:"cpu_s_per_1k_workers"` // all workers together
	WorkerCPU        []float64 `json:"cpu_s_per_1k_each_worker"`
	ClientCPU        float64   `json:"cpu_s_per_1k_client"`
	PaddockCPU       float64   `json:"paddock_cpu_ms_per_task"` // leader + backups + workers + client
	ZooKeeperMs      float64   `json:"zookeeper_cpu_ms_per_task"`
	// The whole machine's busy CPU (/proc/stat, all processes, also other
	// users') over the window, in cores: how saturated the host was.
	HostBusyCores float64 `json:"host_busy_cores"`
	// The machine's busy CPU per task, all processes (also other users'),
	// and of it the interrupts and softirqs, which no process is charged.
	HostMsPerTask    float64 `json:"host_busy_cpu_ms_per_task"`
	HostIRQMsPerTask float64 `json:"host_irq_softirq_cpu_ms_per_task"`
}

// clockTicks is the kernel's USER_HZ (getconf CLK_TCK), 100 on Linux.
var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
})

// cpuSeconds is utime+stime of pid from /proc/<pid>/stat; ok false when
// the process is gone.
func cpuSeconds(pid int) (float64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14, stime 15 (1-based, man 5 proc).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (ut + st) / clockTicks(), true
}

// hostBusy is the busy (non-idle, non-iowait) CPU-seconds of the whole
// machine so far, and of them the time in interrupts and softirqs (where
// the kernel does much of loopback TCP's work, charged to no process),
// from the first line of /proc/stat.
func hostBusy() (busy, irq float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		v, _ := strconv.ParseFloat(s, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 5, 6: // irq, softirq
			busy += v
			irq += v
		case 0, 1, 2: // user, nice, system
			busy += v
		}
	}
	return busy / clockTicks(), irq / clockTicks()
}

// mntr returns the numeric fields of the server's mntr answer.
func mntr(srv *zktest.Server) (map[string]float64, error) {
	out, err := srv.FourLetter("mntr")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			m[k] = x
		}
	}
	if _, ok := m["zk_packets_received"]; !ok {
		return nil, fmt.Errorf("mntr: no zk_packets_received in %q", out)
	}
	return m, nil
}

var consLine = regexp.MustCompile(`/[0-9.]+:(\d+)\[\d+\]\((.*)\)`)

// consReceived maps the client-side port of each connection the server
// has to the number of packets it received on it (the cons four-letter
// word).
func consReceived(srv *zktest.Server) map[int]float64 {
	out, err := srv.FourLetter("cons")
	if err != nil {
		return nil
	}
	m := map[int]float64{}
	for _, line := range strings.Split(out, "\n") {
		sm := consLine.FindStringSubmatch(line)
		if sm == nil {
			continue
		}
		port, _ := strconv.Atoi(sm[1])
		for _, kv := range strings.Split(sm[2], ",") {
			if v, ok := strings.CutPrefix(kv, "recved="); ok {
				m[port], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return m
}

// localPorts returns the local TCP ports of pid's sockets: its descriptors'
// socket inodes, looked up in /proc/net/tcp.
func localPorts(pid int) []int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, file := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 32); err == nil {
				ports = append(ports, int(p))
			}
		}
	}
	return ports
}

// roleProc is one long-running process whose costs a window attributes.
type roleProc struct {
	role string // "leader", "backup", "worker"
	pid  int
}

// sample is the counters at one end of a window.
type sample struct {
	at      time.Time
	mntr    map[string]float64
	zxid    int64
	cpu     map[int]float64 // by pid
	zkCPU   float64
	host    float64
	hostIRQ float64
	byRole  map[string]float64 // packets received on the connections of each role
	rolePID map[int]float64    // packets received by pid
}

func takeSample(t *testing.T, srv *zktest.Server, procs []roleProc) sample {
	t.Helper()
	s := sample{cpu: map[int]float64{}, byRole: map[string]float64{}, rolePID: map[int]float64{}}
	cons := consReceived(srv)
	for _, p := range procs {
		for _, port := range localPorts(p.pid) {
			s.byRole[p.role] += cons[port]
			s.rolePID[p.pid] += cons[port]
		}
	}
	var err error
	if s.mntr, err = mntr(srv); err != nil {
		t.Fatal(err)
	}
	if s.zxid, err = srv.Zxid(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		s.cpu[p.pid], _ = cpuSeconds(p.pid)
	}
	s.zkCPU, _ = cpuSeconds(srv.PID())
	s.host, s.hostIRQ = hostBusy()
	s.at = time.Now()
	return s
}

// clientRun runs `client run --json` as a child of the test (not through
// proctest, so that its rusage is at hand when it exits) and returns its
// summary and CPU-seconds.
func clientRun(t *testing.T, env *proctest.Env, bins proctest.Bins, n, inFlight int, extra ...string) (proctest.RunSummary, float64) {
	t.Helper()
	s, cpu, err := runClient(env, bins, n, inFlight, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return s, cpu
}

// runClient is clientRun returning its failure, for goroutines other than
// the test's.
func runClient(env *proctest.Env, bins proctest.Bins, n, inFlight int, extra ...string) (proctest.RunSummary, float64, error) {
	args := []string{"run", "--json", "--tasks", strconv.Itoa(n), "--concurrency", strconv.Itoa(inFlight),
		"--kind", "echo", "--data", "x",
		"--zk", env.ZK, "--root", env.Root, "--connect-timeout", env.ConnectTimeout.String(), "--log-format", "json"}
	cmd := exec.Command(bins.Client, append(args, extra...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return proctest.RunSummary{}, 0, err
	}
	timer := time.AfterFunc(10*time.Minute, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	var s proctest.RunSummary
	if jerr := json.Unmarshal(stdout.Bytes(), &s); err != nil || jerr != nil || s.Succeeded != n {
		return s, 0, fmt.Errorf("client run: %v, summary %+v (%v): %s", err, s, jerr, stderr.String())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var cpu float64
	if ru != nil {
		cpu = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return s, cpu, nil
}

// costDeployment starts masters and workers (binaries bins) on a fresh root
// and returns the environment and its processes by role, the leader first.
func costDeployment(t *testing.T, srv *zktest.Server, bins proctest.Bins, sh shape, masters, leaders int) (*proctest.Env, []roleProc) {
	t.Helper()
	env := deployment(t, srv, bins, masters, sh.Workers, sh.Slots)
	leading := map[string]bool{}
	if leaders > 1 {
		env.SetLeaders(leaders)
		for _, p := range env.WaitDealt(30 * time.Second).Partitions {
			leading[p.Leader] = true
		}
	} else {
		// A baseline's binaries may predate partitions: the leader is the
		// one status names, which every version reports.
		leading[waitStatus(t, env, 30*time.Second, func(s status) bool { return s.Leader != nil && !s.TakingOver }).Leader.ID] = true
	}
	var procs []roleProc
	for _, m := range env.ByRole("master") {
		if m.Exited() {
			continue
		}
		role := "backup"
		if leading[m.ID] {
			role = "leader"
		}
		procs = append(procs, roleProc{role, m.Pid()})
	}
	sort.SliceStable(procs, func(i, j int) bool { return procs[i].role == "leader" && procs[j].role != "leader" })
	for _, w := range env.ByRole("worker") {
		procs = append(procs, roleProc{"worker", w.Pid()})
	}
	return env, procs
}

// shape is the load of a cost window: workers of slots each, and clients
// running tasks at once, each with inFlight in flight.
type shape struct {
	Workers  int `json:"workers"`
	Slots    int `json:"slots"`
	Clients  int `json:"clients"`
	InFlight int `json:"in_flight_per_client"`
}

// defaultShape is the 2-core machine's window: 4 workers of 16, one client
// with 128 in flight.
var defaultShape = shape{Workers: workers, Slots: workerSlots, Clients: 1, InFlight: 128}

func (sh shape) String() string {
	return fmt.Sprintf("%d workers x %d, %d client(s) x %d in flight", sh.Workers, sh.Slots, sh.Clients, sh.InFlight)
}

// clientsRun runs sh.Clients `client run`s at once, n tasks in all, and
// returns the first one's summary with TasksPerSec and the latencies
// taken over all of them (tasks/s: n over the time the slowest took;
// latencies: the worst client's), and their CPU-seconds together.
func clientsRun(t *testing.T, env *proctest.Env, bins proctest.Bins, sh shape, n int) (proctest.RunSummary, float64) {
	t.Helper()
	if sh.Clients <= 1 {
		return clientRun(t, env, bins, n, sh.InFlight)
	}
	sums := make([]proctest.RunSummary, sh.Clients)
	cpus := make([]float64, sh.Clients)
	errs := make([]error, sh.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range sh.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], cpus[i], errs[i] = runClient(env, bins, n/sh.Clients, sh.InFlight)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	sum := sums[0]
	sum.TasksPerSec = float64(n/sh.Clients*sh.Clients) / time.Since(start).Seconds()
	var cpu float64
	for i := range sums {
		sum.LatencyP50 = max(sum.LatencyP50, sums[i].LatencyP50)
		sum.LatencyP99 = max(sum.LatencyP99, sums[i].LatencyP99)
		cpu += cpus[i]
	}
	return sum, cpu
}

// measureCost runs n echo tasks through a fresh deployment of masters
// masters (leaders of them leading) under the load sh, after a warm-up,
// and returns what the window cost.
func measureCost(t *testing.T, srv *zktest.Server, bins proctest.Bins, label, binaries string, sh shape, masters, leaders, n int) Cost {
	env, procs := costDeployment(t, srv, bins, sh, masters, leaders)
	clientRun(t, env, bins, 500, 64) // warm-up: connections, caches, the JIT of ZooKeeper
	n = n / sh.Clients * sh.Clients
	s0 := takeSample(t, srv, procs)
	sum, clientCPU := clientsRun(t, env, bins, sh, n)
	s1 := takeSample(t, srv, procs)
	for _, p := range procs { // a process that died in the window has no end sample
		if _, ok := cpuSeconds(p.pid); !ok {
			t.Fatalf("%s pid %d exited during the window", p.role, p.pid)
		}
	}
	env.KillAll()
	tasks := float64(n)
	per1k := func(sec float64) float64 { return sec / tasks * 1000 }
	c := Cost{Label: label, Binaries: binaries, Masters: masters, Leaders: leaders, Workers: sh.Workers, Tasks: n, InFlight: sh.InFlight * sh.Clients, Shape: sh,
		Seconds: s1.at.Sub(s0.at).Seconds(), TasksPerSec: sum.TasksPerSec, LatencyP50: sum.LatencyP50, LatencyP99: sum.LatencyP99,
		RequestsPerTask:  (s1.mntr["zk_packets_received"] - s0.mntr["zk_packets_received"]) / tasks,
		SentPerTask:      (s1.mntr["zk_packets_sent"] - s0.mntr["zk_packets_sent"]) / tasks,
		TxnsPerTask:      float64(s1.zxid-s0.zxid) / tasks,
		RequestsByRole:   map[string]float64{},
		ClientCPU:        per1k(clientCPU),
		ZooKeeperMs:      per1k(s1.zkCPU - s0.zkCPU),
		HostMsPerTask:    per1k(s1.host - s0.host),
		HostIRQMsPerTask: per1k(s1.hostIRQ - s0.hostIRQ),
	}
	if c.Seconds > 0 {
		c.HostBusyCores = (s1.host - s0.host) / c.Seconds
	}
	var rest float64
	for _, role := range []string{"leader", "backup", "worker"} {
		v := (s1.byRole[role] - s0.byRole[role]) / tasks
		c.RequestsByRole[role] = v
		rest += v
	}
	// The client's connection is gone when the window ends: what is left
	// of the server's count is the client's (and the harness's cons/mntr/
	// srvr probes, which the server does not count as packets).
	c.RequestsByRole["client"] = c.RequestsPerTask - rest
	for _, p := range procs {
		d := per1k(s1.cpu[p.pid] - s0.cpu[p.pid])
		switch p.role {
		case "leader":
			c.LeaderCPU += d
			c.BusiestLeaderCPU = max(c.BusiestLeaderCPU, d)
		case "backup":
			c.BackupsCPU += d
		case "worker":
			c.WorkersCPU += d
			c.WorkerCPU = append(c.WorkerCPU, d)
		}
	}
	c.PaddockCPU = c.LeaderCPU + c.BackupsCPU + c.WorkersCPU + c.ClientCPU
	t.Logf("cost %s: %s", label, costLine(c))
	return c
}

func costLine(c Cost) string {
	return fmt.Sprintf("%.0f tasks/s, %.2f requests/task (leader %.2f, backups %.2f, workers %.2f, client %.2f), %.2f sent/task, %.2f txns/task; "+
		"CPU s/1k tasks: leader %.3f, backups %.3f, workers %.3f %v, client %.3f, Paddock %.3f ms/task, ZooKeeper %.3f ms/task; host %.3f ms/task (irq %.3f), busy %.2f cores",
		c.TasksPerSec, c.RequestsPerTask, c.RequestsByRole["leader"], c.RequestsByRole["backup"], c.RequestsByRole["worker"], c.RequestsByRole["client"],
		c.SentPerTask, c.TxnsPerTask, c.LeaderCPU, c.BackupsCPU, c.WorkersCPU, round3(c.WorkerCPU), c.ClientCPU, c.PaddockCPU, c.ZooKeeperMs, c.HostMsPerTask, c.HostIRQMsPerTask, c.HostBusyCores)
}

func round3(xs []float64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.FormatFloat(x, 'f', 3, 64)
	}
	return out
}

// costTasks is how many tasks a cost window runs (PADDOCK_BENCH_COST_TASKS
// overrides the default 10,000).
func costTasks() int { return envCount("PADDOCK_BENCH_COST_TASKS", 10000) }

// measureCosts: the costs with 1, 2 and 4 masters, all of them leading
// (master.leaders = masters), and with 4 masters of which one leads (the
// default: the others are hot backups, whose own cost is the election's).
func measureCosts(t *testing.T, srv *zktest.Server, bins proctest.Bins, rep *Report) {
	for _, m := range [][2]int{{1, 1}, {2, 2}, {4, 4}, {4, 1}} {
		label := fmt.Sprintf("%d master(s), %d lead", m[0], m[1])
		rep.Costs = append(rep.Costs, measureCost(t, srv, bins, label, "new", defaultShape, m[0], m[1], costTasks()))
	}
}

// ScaleEnv asks `make bench` for the scale step, with the loads it names,
// separated by spaces, each as "WxS,CxF": W workers of S slots, C clients
// of F in flight each (for example "16x16,4x256" on a 16-core host).
const ScaleEnv = "PADDOCK_BENCH_SCALE"

// parseShape reads ScaleEnv's value.
func parseShape(v string) (shape, error) {
	var sh shape
	if _, err := fmt.Sscanf(v, "%dx%d,%dx%d", &sh.Workers, &sh.Slots, &sh.Clients, &sh.InFlight); err != nil ||
		sh.Workers < 1 || sh.Slots < 1 || sh.Clients < 1 || sh.InFlight < 1 {
		return shape{}, fmt.Errorf("%s=%q: want WxS,CxF (workers x slots, clients x in flight), e.g. 16x16,4x256", ScaleEnv, v)
	}
	return sh, nil
}

// ScaleRoundsEnv asks the scale step, when it has a baseline, for more
// rounds of its two windows that the target compares (the old
// single leader against the busiest of 4 new leaders), alternating their
// order: one pair of windows says little on a host whose speed drifts
// within a run, the median of several does.
const ScaleRoundsEnv = "PADDOCK_BENCH_SCALE_ROUNDS"

// measureScale: the same 4 masters with 1, 2 and 4 of them leading, under
// the load ScaleEnv names: whether more leaders carry more tasks once one
// master's loop is the ceiling (a host with more cores than this one).
// With BaselineEnv set, the baseline's binaries run the one-leader window
// too, first, and ScaleRoundsEnv rounds in all of it against 4 leaders.
func measureScale(t *testing.T, srv *zktest.Server, bins proctest.Bins, sh shape, rep *Report) {
	ref := os.Getenv(BaselineEnv)
	var old proctest.Bins
	if ref != "" {
		old, _ = buildRef(t, ref)
	}
	runOld := func(label string) Cost {
		c := measureCost(t, srv, old, label, ref, sh, 4, 1, costTasks())
		rep.Scale = append(rep.Scale, c)
		return c
	}
	runNew := func(label string, leaders int) Cost {
		c := measureCost(t, srv, bins, label, "new", sh, 4, leaders, costTasks())
		rep.Scale = append(rep.Scale, c)
		return c
	}
	var pairs [][2]Cost // old single leader, new 4 leaders
	var first Cost
	if ref != "" {
		first = runOld("old, 4 masters, 1 leads")
	}
	for _, leaders := range []int{1, 2, 4} {
		c := runNew(fmt.Sprintf("4 masters, %d lead", leaders), leaders)
		if ref != "" && leaders == 4 {
			pairs = append(pairs, [2]Cost{first, c})
		}
	}
	for r := 2; ref != "" && r <= scaleRounds(); r++ {
		var p [2]Cost // round 1 ran old first: round 2 runs new first
		abba(r-1, func() { p[0] = runOld(fmt.Sprintf("old 1 leads, round %d", r)) },
			func() { p[1] = runNew(fmt.Sprintf("4 lead, round %d", r), 4) })
		pairs = append(pairs, p)
	}
	if len(pairs) > 0 {
		sb := busiestRatios(sh, pairs)
		rep.ScaleBusiest = append(rep.ScaleBusiest, sb)
		t.Logf("scale %s: %s", sh, sb)
	}
}

// ScaleBusiest is the target measured in one run: the old single
// leader's CPU per task over the busiest of 4 new leaders', one ratio per
// round of the scale step.
type ScaleBusiest struct {
	Shape  shape     `json:"shape"`
	Ratios []float64 `json:"ratios"`
	Median float64   `json:"median"`
}

func (sb ScaleBusiest) String() string {
	return fmt.Sprintf("the old single leader's CPU per task over the busiest of 4 new leaders', by round: %.2f (median %.2f)", sb.Ratios, sb.Median)
}

func busiestRatios(sh shape, pairs [][2]Cost) ScaleBusiest {
	sb := ScaleBusiest{Shape: sh}
	for _, p := range pairs {
		if p[1].BusiestLeaderCPU > 0 {
			sb.Ratios = append(sb.Ratios, p[0].LeaderCPU/p[1].BusiestLeaderCPU)
		}
	}
	sb.Median = medianOf(sb.Ratios)
	return sb
}

func scaleRounds() int { return envCount(ScaleRoundsEnv, 1) }

// costTable prints the costs per task, one column per window.
func costTable(b *strings.Builder, r *Report) {
	var cols []Cost
	cols = append(cols, r.Costs...)
	cols = append(cols, r.Scale...)
	if r.AB != nil {
		cols = append(cols, r.AB.Old...)
		cols = append(cols, r.AB.New...)
	}
	if len(cols) == 0 {
		return
	}
	fmt.Fprintf(b, "\nCosts per task (%s tasks per window; CPU from /proc/<pid>/stat at %.0f ticks/s)\n",
		strconv.Itoa(cols[0].Tasks), r.ClockTicks)
	fmt.Fprintf(b, "  %-40s", "")
	for _, c := range cols {
		fmt.Fprintf(b, " %12s", c.Label)
	}
	b.WriteString("\n")
	line := func(name, format string, f func(Cost) float64) {
		fmt.Fprintf(b, "  %-40s", name)
		for _, c := range cols {
			fmt.Fprintf(b, " %12s", fmt.Sprintf(format, f(c)))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "  %-40s", "load: workers x slots, clients x in flight")
	for _, c := range cols {
		fmt.Fprintf(b, " %12s", fmt.Sprintf("%dx%d,%dx%d", c.Shape.Workers, c.Shape.Slots, c.Shape.Clients, c.Shape.InFlight))
	}
	b.WriteString("\n")
	line("tasks/s", "%.0f", func(c Cost) float64 { return c.TasksPerSec })
	line("ZooKeeper requests per task", "%.2f", func(c Cost) float64 { return c.RequestsPerTask })
	for _, role := range []string{"leader", "backup", "worker", "client"} {
		line("  of which "+role+"(s)", "%.2f", func(c Cost) float64 { return c.RequestsByRole[role] })
	}
	line("ZooKeeper packets sent per task", "%.2f", func(c Cost) float64 { return c.SentPerTask })
	line("write transactions per task", "%.2f", func(c Cost) float64 { return c.TxnsPerTask })
	line("CPU s / 1k tasks: leading masters", "%.3f", func(c Cost) float64 { return c.LeaderCPU })
	line("  the busiest leading master", "%.3f", func(c Cost) float64 { return c.BusiestLeaderCPU })
	line("  backup masters (together)", "%.3f", func(c Cost) float64 { return c.BackupsCPU })
	line("  workers (together)", "%.3f", func(c Cost) float64 { return c.WorkersCPU })
	line("  one worker (mean)", "%.3f", func(c Cost) float64 { return c.WorkersCPU / float64(max(1, len(c.WorkerCPU))) })
	line("  client", "%.3f", func(c Cost) float64 { return c.ClientCPU })
	line("Paddock total CPU ms per task", "%.3f", func(c Cost) float64 { return c.PaddockCPU })
	line("ZooKeeper JVM CPU ms per task", "%.3f", func(c Cost) float64 { return c.ZooKeeperMs })
	line("host busy CPU ms per task (everything)", "%.3f", func(c Cost) float64 { return c.HostMsPerTask })
	line("  of which irq+softirq (no process's)", "%.3f", func(c Cost) float64 { return c.HostIRQMsPerTask })
	line("host busy, cores", "%.2f", func(c Cost) float64 { return c.HostBusyCores })
	line("latency p50 ms (the worst client's)", "%.1f", func(c Cost) float64 { return c.LatencyP50 })
	for _, sb := range r.ScaleBusiest {
		fmt.Fprintf(b, "  scale %s: %s\n", sb.Shape, sb)
	}
	if ab := r.AB; ab != nil {
		fmt.Fprintf(b, "  A/B new / %s (%.12s), medians of %d alternating rounds: tasks/s %.2f, Paddock CPU per task %.2f, requests per task %.2f, txns per task %.2f\n",
			ab.Baseline, ab.Commit, ab.Rounds, ab.TasksPerSecRatio, ab.PaddockCPURatio, ab.RequestsRatio, ab.TxnsRatio)
	}
}
