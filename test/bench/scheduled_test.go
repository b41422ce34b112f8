package bench_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// Scheduled is what a backlog of scheduled tasks (due in an hour) costs
// the leader (issue 10): the time to learn of them once, then nothing
// until they are due, and the throughput of other tasks beside them.
type Scheduled struct {
	Tasks int `json:"tasks"`
	// ParkSeconds: from the end of the submissions until the leader had
	// read every one and holds it until due (paddock_tasks_scheduled).
	ParkSeconds float64 `json:"park_seconds"`
	// Over an idle window with the backlog parked: the leader's ZooKeeper
	// requests (paddock_zk_requests_total) and CPU.
	IdleWindowSeconds float64 `json:"idle_window_seconds"`
	IdleRequests      float64 `json:"idle_leader_zk_requests"`
	IdleCPUSeconds    float64 `json:"idle_leader_cpu_seconds"`
	MasterRSSMB       float64 `json:"master_rss_mb"`
	// echo tasks run before the backlog and beside it, in the same
	// deployment: tasks/s and the leader's CPU per 1,000 tasks.
	Before Window `json:"before"`
	Beside Window `json:"beside"`
}

// Window is one client run's rate and the leader's CPU over it.
type Window struct {
	TasksPerSec float64 `json:"tasks_per_sec"`
	LeaderCPU   float64 `json:"cpu_s_per_1k_leader"`
}

func measureScheduled(t *testing.T, srv *zktest.Server, bins proctest.Bins, rep *Report) {
	const backlog, runTasks = 100000, 3000
	env := proctest.NewEnv(t, bins, srv.Addr())
	env.SessionTimeout = sessionTimeout
	env.Init()
	m := env.Master("m1", "--log-level", "info", "--http-addr", "127.0.0.1:0")
	for i := range workers {
		env.Worker(fmt.Sprintf("w%d", i+1), workerSlots, "--log-level", "warn")
	}
	waitStatus(t, env, 30*time.Second, func(s status) bool {
		return s.Leader != nil && !s.TakingOver && len(s.Workers) == workers
	})
	addr := m.HTTPAddr(proctest.StartTimeout)
	metric := func(name string) float64 { return scrape(t, "http://"+addr+"/metrics", name) }
	window := func() Window {
		c0, _ := cpuSeconds(m.Pid())
		sum, _ := clientRun(t, env, bins, runTasks, 128)
		c1, _ := cpuSeconds(m.Pid())
		return Window{TasksPerSec: sum.TasksPerSec, LeaderCPU: (c1 - c0) / runTasks * 1000}
	}
	clientRun(t, env, bins, 500, 64) // warm-up
	s := Scheduled{Tasks: backlog, Before: window()}
	in := "1h"
	for done := 0; done < backlog; done += 20000 {
		o := env.RunClient(10*time.Minute, "submit", "--count", "20000", "--kind", "echo", "--data", "x", "--in", in)
		if o.Code != 0 {
			t.Fatalf("submit: %d %s", o.Code, o.Stderr)
		}
	}
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	for metric("paddock_tasks_scheduled") < backlog {
		if time.Now().After(deadline) {
			t.Fatalf("the leader holds %v scheduled tasks after 5 min", metric("paddock_tasks_scheduled"))
		}
		time.Sleep(100 * time.Millisecond) // sampling a gauge, not synchronising
	}
	s.ParkSeconds = time.Since(start).Seconds()
	const idle = 10 * time.Second
	r0, c0 := metric("paddock_zk_requests_total"), must(cpuSeconds(m.Pid()))
	time.Sleep(idle) // the window measured: nothing happens in it, by design
	r1, c1 := metric("paddock_zk_requests_total"), must(cpuSeconds(m.Pid()))
	s.IdleWindowSeconds, s.IdleRequests, s.IdleCPUSeconds = idle.Seconds(), r1-r0, c1-c0
	s.MasterRSSMB = rssMB(m.Pid())
	s.Beside = window()
	rep.Scheduled = &s
	t.Logf("scheduled backlog: %+v", s)
}

func must(v float64, _ bool) float64 { return v }

// scrape sums the samples of the counter or gauge name that the daemon at
// url exports.
func scrape(t *testing.T, url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	sum := 0.0
	for _, m := range families[name].GetMetric() {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}
