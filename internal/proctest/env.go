package proctest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// LogDirEnv names a directory under which each test's process logs are
// kept (one subdirectory per test). Unset, they go to the test's temporary
// directory and are removed with it; a failing test prints their tails
// either way.
const LogDirEnv = "PADDOCK_PROCTEST_LOGS"

// Env is one test's deployment: binaries, a ZooKeeper connect string, a
// --root of its own, and every process it started. Its cleanup kills every
// process still running (also when the test fails or panics) and, if the
// test failed, logs the tail of every process's output.
type Env struct {
	TB   testing.TB
	Bins Bins
	ZK   string // connect string given to every process
	Root string // --root
	Dir  string // where process output is written

	// SessionTimeout is given to masters, workers and election processes
	// (--session-timeout). Default 1500ms.
	SessionTimeout time.Duration
	// ConnectTimeout is given to every process (--connect-timeout).
	// Default 10s.
	ConnectTimeout time.Duration
	// TailLines is how many lines of each stream a failure report shows.
	// Default 40.
	TailLines int
	// Flags are given to every process after the connection flags: for
	// example the TLS flags of a deployment whose ZooKeeper speaks TLS.
	Flags []string
	// Leaders is how many masters lead at once (master.leaders): NewEnv
	// takes it from LeadersEnv (1 when unset). Above 1 it is set before
	// the first master starts, and [Env.Leader] and [Env.Backup] wait
	// until the partitions are dealt. A suite with a knob of its own (the
	// soak) sets it before starting a master.
	Leaders int

	mu         sync.Mutex
	procs      []*Proc
	names      map[string]int
	zk         *zk.Conn
	leadersSet bool // master.leaders was set (or needs no setting)
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// NewEnv prepares a deployment for tb against the ZooKeeper at connect,
// under a fresh root named after the test.
func NewEnv(tb testing.TB, bins Bins, connect string) *Env {
	tb.Helper()
	leaders, err := LeadersFromEnv()
	if err != nil {
		tb.Fatal(err)
	}
	name := nameUnsafe.ReplaceAllString(tb.Name(), "-")
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	e := &Env{
		TB: tb, Bins: bins, ZK: connect,
		Root:           "/pt-" + name + "-" + hex.EncodeToString(rnd[:]),
		SessionTimeout: 1500 * time.Millisecond,
		ConnectTimeout: 10 * time.Second,
		TailLines:      40,
		Leaders:        leaders,
		names:          map[string]int{},
	}
	if base := os.Getenv(LogDirEnv); base != "" {
		e.Dir = filepath.Join(base, name+"-"+hex.EncodeToString(rnd[:]))
		if err := os.MkdirAll(e.Dir, 0o755); err != nil {
			tb.Fatal(err)
		}
	} else {
		e.Dir = tb.TempDir()
	}
	tb.Cleanup(e.cleanup)
	return e
}

func (e *Env) cleanup() {
	procs := e.KillAll()
	if e.TB.Failed() {
		var b strings.Builder
		fmt.Fprintf(&b, "proctest: output of the %d processes of %s (root %s, logs in %s):\n", len(procs), e.TB.Name(), e.Root, e.Dir)
		for _, p := range procs {
			b.WriteString(p.Tail(e.TailLines))
		}
		e.TB.Log(b.String())
	}
}

// KillAll kills every process of the deployment now, and returns them.
// A benchmark that runs several deployments in one test calls it when a
// window ends, so the next window shares the host with none of them: the
// test's cleanup would only stop them all at its end.
func (e *Env) KillAll() []*Proc {
	procs := e.Procs()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.kill() }()
	}
	wg.Wait()
	return procs
}

// Procs returns every process started so far, in start order.
func (e *Env) Procs() []*Proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Proc(nil), e.procs...)
}

// ByRole returns the processes of a role, in start order.
func (e *Env) ByRole(role string) []*Proc {
	var out []*Proc
	for _, p := range e.Procs() {
		if p.Role == role {
			out = append(out, p)
		}
	}
	return out
}

func (e *Env) uniqueName(base string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.names[base]++
	if n := e.names[base]; n > 1 {
		return base + "." + strconv.Itoa(n)
	}
	return base
}

// Start starts bin with args (exactly as given) and extra environment
// entries, named name (made unique) with role role.
func (e *Env) Start(name, role, id, bin string, args []string, env ...string) *Proc {
	e.TB.Helper()
	name = e.uniqueName(nameUnsafe.ReplaceAllString(name, "-"))
	p, err := startProc(e.TB, e.Dir, name, role, id, bin, args, env)
	if err != nil {
		e.TB.Fatal(err)
	}
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p
}

// common are the flags every Paddock binary takes.
func (e *Env) common() []string {
	return append([]string{"--zk", e.ZK, "--root", e.Root, "--connect-timeout", e.ConnectTimeout.String()}, e.Flags...)
}

// Master starts a master with JSON debug logs and the Env's session
// timeout; extra flags are appended (and win, being later).
func (e *Env) Master(id string, extra ...string) *Proc {
	e.TB.Helper()
	e.configureLeaders()
	args := append(e.common(), "--id", id, "--session-timeout", e.SessionTimeout.String(),
		"--log-format", "json", "--log-level", "debug")
	return e.Start("master-"+id, "master", id, e.Bins.Master, append(args, extra...))
}

// Worker starts a worker running concurrency tasks at once.
func (e *Env) Worker(id string, concurrency int, extra ...string) *Proc {
	e.TB.Helper()
	args := append(e.common(), "--id", id, "--concurrency", strconv.Itoa(concurrency),
		"--session-timeout", e.SessionTimeout.String(), "--log-format", "json", "--log-level", "debug")
	return e.Start("worker-"+id, "worker", id, e.Bins.Worker, append(args, extra...))
}

// Election starts `election --json` standing under dir (empty: the
// default <root>/election).
func (e *Env) Election(id, dir string, extra ...string) *Proc {
	e.TB.Helper()
	args := append(e.common(), "--id", id, "--json", "--session-timeout", e.SessionTimeout.String(),
		"--log-format", "json")
	if dir != "" {
		args = append(args, "--path", dir)
	}
	return e.Start("election-"+id, "election", id, e.Bins.Election, append(args, extra...))
}

// Client starts `client <args> --zk ... --root ...` (logging JSON).
func (e *Env) Client(args ...string) *Proc {
	e.TB.Helper()
	name := "client"
	if len(args) > 0 {
		name += "-" + args[0]
	}
	all := append(append([]string{}, args...), e.common()...)
	all = append(all, "--log-format", "json")
	return e.Start(name, "client", "", e.Bins.Client, all)
}

// Outcome is how a finished client command ended.
type Outcome struct {
	Proc   *Proc
	Code   int
	Stdout string
	Stderr string
	Took   time.Duration
}

// RunClient runs a client command to completion (failing the test if it
// takes longer than timeout) and returns how it ended.
func (e *Env) RunClient(timeout time.Duration, args ...string) Outcome {
	e.TB.Helper()
	p := e.Client(args...)
	code := p.Wait(timeout)
	return Outcome{Proc: p, Code: code, Stdout: p.Stdout(), Stderr: p.Stderr(), Took: p.ExitedAt().Sub(p.Started)}
}

// Init runs `client init`.
func (e *Env) Init() {
	e.TB.Helper()
	if o := e.RunClient(30*time.Second, "init"); o.Code != 0 {
		e.TB.Fatalf("client init exited %d: %s%s", o.Code, o.Stdout, o.Stderr)
	}
}

// Submit runs `client submit --json --kind kind --data data extra...` and
// returns the task id it prints.
func (e *Env) Submit(kind, data string, extra ...string) string {
	e.TB.Helper()
	args := append([]string{"submit", "--json", "--kind", kind, "--data", data}, extra...)
	o := e.RunClient(30*time.Second, args...)
	var out struct {
		ID string `json:"id"`
	}
	if o.Code != 0 || json.Unmarshal([]byte(o.Stdout), &out) != nil || out.ID == "" {
		e.TB.Fatalf("client %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), o.Code, o.Stdout, o.Stderr)
	}
	return out.ID
}

// WaitResults runs `client result ID --wait --json` for every id at once
// (without collecting) and returns the results they print, failing the
// test if one does not print a result within timeout.
func (e *Env) WaitResults(timeout time.Duration, ids []string) map[string]Result {
	e.TB.Helper()
	procs := make([]*Proc, len(ids))
	for i, id := range ids {
		procs[i] = e.Client("result", id, "--wait", "--json")
	}
	out := make(map[string]Result, len(ids))
	deadline := time.Now().Add(timeout)
	for i, p := range procs {
		code, ok := p.WaitExit(time.Until(deadline))
		if !ok {
			e.TB.Fatalf("client result %s --wait: no result within %v", ids[i], timeout)
		}
		var r Result
		if err := json.Unmarshal([]byte(p.Stdout()), &r); err != nil {
			e.TB.Fatalf("client result %s --wait: exit %d, stdout %q (%v), stderr %q", ids[i], code, p.Stdout(), err, p.Stderr())
		}
		if r.ID != ids[i] {
			e.TB.Fatalf("client result %s printed the result of %q", ids[i], r.ID)
		}
		out[ids[i]] = r
	}
	return out
}

// RunSummary is what `client run --json` prints.
type RunSummary struct {
	Tasks       int            `json:"tasks"`
	Succeeded   int            `json:"succeeded"`
	Failed      int            `json:"failed"`
	Lost        int            `json:"lost"`
	ByStatus    map[string]int `json:"by_status"`
	Concurrency int            `json:"concurrency"`
	Seconds     float64        `json:"seconds"`
	TasksPerSec float64        `json:"tasks_per_sec"`
	LatencyP50  float64        `json:"latency_p50_ms"`
	LatencyP99  float64        `json:"latency_p99_ms"`
	LatencyMax  float64        `json:"latency_max_ms"`
	Errors      []string       `json:"errors"`
}

// StartRun starts `client run --json --tasks n --concurrency c --kind kind
// --data data`.
func (e *Env) StartRun(n, concurrency int, kind, data string, extra ...string) *Proc {
	e.TB.Helper()
	args := append([]string{"run", "--json", "--tasks", strconv.Itoa(n), "--concurrency", strconv.Itoa(concurrency),
		"--kind", kind, "--data", data}, extra...)
	return e.Client(args...)
}

// RunDone waits for a `client run --json` process and returns its summary
// and exit code, failing the test if it does not finish within timeout or
// prints no summary.
func (e *Env) RunDone(p *Proc, timeout time.Duration) (RunSummary, int) {
	e.TB.Helper()
	code := p.Wait(timeout)
	var s RunSummary
	if err := json.Unmarshal([]byte(p.Stdout()), &s); err != nil {
		e.TB.Fatalf("%s: exit %d, no JSON summary (%v): stdout %q stderr %q", p.Name, code, err, p.Stdout(), p.Stderr())
	}
	return s, code
}

// ZKConn is a go-zookeeper connection for the test's own reads and writes,
// opened on first use and closed in cleanup.
func (e *Env) ZKConn() *zk.Conn {
	e.TB.Helper()
	e.mu.Lock()
	c := e.zk
	e.mu.Unlock()
	if c != nil {
		return c
	}
	c = ConnectZK(e.TB, e.ZK)
	e.mu.Lock()
	e.zk = c
	e.mu.Unlock()
	return c
}

// Tree reads the Env's tree.
func (e *Env) Tree() *Tree {
	e.TB.Helper()
	t, err := ReadTree(e.ZKConn(), e.Root)
	if err != nil {
		e.TB.Fatalf("read the tree under %s: %v", e.Root, err)
	}
	return t
}

// History gathers the log lines of every process started so far.
func (e *Env) History() *History { return NewHistory(e.Procs()...) }

// StartTimeout bounds how long a process may take to start and reach
// ZooKeeper (a binary start, a session, a few znodes) on a busy machine.
const StartTimeout = 20 * time.Second

// Leader starts a master and waits until it leads; with several leaders
// (Leaders), also until the partitions are dealt again with it among
// them.
func (e *Env) Leader(id string, extra ...string) *Proc {
	e.TB.Helper()
	m := e.Master(id, extra...)
	m.WaitLog(StartTimeout, Msg(MsgElected))
	e.waitDealtIfSeveral()
	return m
}

// Backup starts a master and waits until it stands by as a backup. With
// several leaders (Leaders) a master whose place in line is among the
// first Leaders leads a share instead, as master.leaders wants: Backup
// then waits until it does and the partitions are dealt again. So a
// scenario's second master, the backup with one leader, is a co-leader
// with several, and its "failover" is taking over the first master's
// share.
func (e *Env) Backup(id string, extra ...string) *Proc {
	e.TB.Helper()
	m := e.Master(id, extra...)
	if e.leaders() <= 1 {
		m.WaitLog(StartTimeout, Msg(MsgBackup))
		return m
	}
	m.WaitLog(StartTimeout, AnyOf(Msg(MsgBackup), Msg(MsgElected)))
	e.waitDealtIfSeveral()
	return m
}

// DealTimeout bounds how long the masters take to deal the partitions
// again when one joins: each whose share changed ends its term and takes
// the new share over, a few round trips each, on a busy machine.
const DealTimeout = 30 * time.Second

func (e *Env) waitDealtIfSeveral() {
	e.TB.Helper()
	if e.leaders() > 1 {
		e.WaitDealt(DealTimeout)
	}
}

// ReadyWorker starts a worker and waits until it is registered and the
// leading master m (when not nil) has read its registration, so that tasks
// go to it from then on.
func (e *Env) ReadyWorker(m *Proc, id string, concurrency int, extra ...string) *Proc {
	e.TB.Helper()
	w := e.Worker(id, concurrency, extra...)
	w.WaitLog(StartTimeout, Msg(MsgRegistered))
	if m != nil {
		m.WaitLog(StartTimeout, All(Msg(MsgWorkerReady), Field("worker", id), After(w.Started)))
	}
	return w
}

// SubmitN submits n tasks with `client submit --json` and returns their ids.
func (e *Env) SubmitN(n int, kind, data string, extra ...string) []string {
	e.TB.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.Submit(kind, data, extra...)
	}
	return ids
}
