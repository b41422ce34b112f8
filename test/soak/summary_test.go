package soak

import (
	"reflect"
	"strings"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

func TestSummaryRoundTripAndMarkdown(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
	a := Summary{Seed: 1, Started: t0.Add(time.Hour), Planned: "10m0s", Passed: true, Faults: map[string]int{leaderKill: 2},
		Failover: []Failover{NewFailover(leaderKill, measureNewLeader, []float64{3000, 1000, 2000})}}
	b := Summary{Seed: 2, Started: t0, Planned: "10m0s", Faults: map[string]int{zkKill: 1},
		Failover: []Failover{NewFailover(leaderKill, measureNewLeader, []float64{500}), NewFailover(zkKill, measureResult, []float64{20})}}
	for _, s := range []Summary{a, b} {
		if _, err := s.Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := ReadSummaries(dir)
	if err != nil || len(runs) != 2 || runs[0].Seed != 2 || !reflect.DeepEqual(runs[1].Failover, a.Failover) {
		t.Fatalf("read %+v, %v", runs, err)
	}
	if f := a.Failover[0]; f.N != 3 || f.MinMS != 1000 || f.MedianMS != 2000 || f.MaxMS != 3000 {
		t.Errorf("NewFailover: %+v", f)
	}
	merged := MergeFailover(runs)
	if len(merged) != 2 || merged[0].Kind != leaderKill || merged[0].N != 4 || merged[0].MinMS != 500 || merged[1].Kind != zkKill {
		t.Errorf("MergeFailover: %+v", merged)
	}
	md := Markdown(runs)
	for _, want := range []string{"| 2026-11-27 18:00 | 2 | 10m0s | **FAIL** |", "| 2026-11-27 19:00 | 1 | 10m0s | **PASS** |",
		"| kill -9 the leader | " + measureNewLeader + " | 4 | 500 ms | 2.00 s | 3.00 s |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if none, err := ReadSummaries(dir + "/missing"); err != nil || len(none) != 0 {
		t.Errorf("a missing directory: %v %v", none, err)
	}
}

// TestRecovery measures each kind of fault from a made-up log.
func TestRecovery(t *testing.T) {
	at := func(s float64) time.Time { return time.Unix(1000, 0).Add(time.Duration(s * float64(time.Second))) }
	tx := &pt.RootTxns{
		Assignments: []pt.AssignTxn{
			{At: at(0), Deleted: at(5), Worker: "w1", Task: "a", Epoch: 1},
			{At: at(1), Deleted: at(2), Worker: "w1", Task: "done", Epoch: 1},
			{At: at(4), Worker: "w2", Task: "a", Epoch: 2},
			{At: at(0.5), Deleted: at(3.5), Worker: "w1", Task: "b", Epoch: 1},
		},
		ResultAt: map[string]time.Time{"b": at(3.5), "c": at(7), "done": at(2)},
	}
	byTask := map[string][]pt.AssignTxn{}
	for _, a := range tx.Assignments {
		byTask[a.Task] = append(byTask[a.Task], a)
	}
	for _, c := range []struct {
		f       fault
		measure string
		d       time.Duration
		ok      bool
	}{
		{fault{Kind: leaderKill, At: at(1), Epoch: 1}, measureNewLeader, 3 * time.Second, true},
		{fault{Kind: leaderStop, At: at(5), Epoch: 2}, "", 0, false},
		{fault{Kind: workerKill, At: at(2.5), Target: "w1"}, measureTasks, 1500 * time.Millisecond, true}, // a moved at 4, b finished at 3.5
		{fault{Kind: workerStop, At: at(2.5), Target: "w3"}, measureTasks, 0, false},
		{fault{Kind: zkKill, At: at(4)}, measureResult, 3 * time.Second, true},
		{fault{Kind: cancelTask, At: at(6), Target: "c", Detail: "cancelled"}, measureCancel, time.Second, true},
		{fault{Kind: cancelTask, At: at(6), Target: "b", Detail: "already finished"}, "", 0, false},
	} {
		m, d, ok := recovery(c.f, tx, byTask)
		if ok != c.ok || (ok && (m != c.measure || d != c.d)) {
			t.Errorf("%s at %v: %q %v %v, want %q %v %v", c.f.Kind, c.f.At, m, d, ok, c.measure, c.d, c.ok)
		}
	}
}
