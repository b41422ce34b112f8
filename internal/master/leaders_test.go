package master_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// setLeaders sets master.leaders service-wide.
func (e *env) setLeaders(n string) {
	e.t.Helper()
	if err := coord.PaddockConfig(e.ctl, e.l).Set(context.Background(), coord.KeyMasterLeaders, n, ""); err != nil {
		e.t.Fatal(err)
	}
}

// leadersNow are the masters the partitions' records name, by partition.
func (e *env) leadersNow() map[string]string {
	st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range st.Partitions {
		out[p.Partition] = p.Leader
	}
	return out
}

func distinct(m map[string]string) int {
	seen := map[string]bool{}
	for _, v := range m {
		seen[v] = true
	}
	return len(seen)
}

func TestSeveralLeadersSplitThePartitionsAndHandThemOver(t *testing.T) {
	e := newEnv(t)
	e.setLeaders("2")
	m1 := e.master("m1", shared.Addr(), time.Hour)
	e.waitLog(10*time.Second, "m1", "elected: leading")
	// m2 and m3 start together, so either may join the election first and
	// become the second leader; the other waits as a backup.
	backups := map[string]*proc{
		"m2": e.master("m2", shared.Addr(), time.Hour),
		"m3": e.master("m3", shared.Addr(), time.Hour),
	}
	var second, backup string
	zktest.Eventually(t, 15*time.Second, "two masters to lead 8 partitions each", func() bool {
		l := e.leadersNow()
		second = l["1"]
		return len(l) == coord.Partitions && distinct(l) == 2 && l["0"] == "m1" && backups[second] != nil
	})
	for name := range backups {
		if name != second {
			backup = name
		}
	}
	zktest.Eventually(t, 10*time.Second, "status to show the front master settled, not taking over", func() bool {
		st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
		return err == nil && st.Leader != nil && st.Leader.ID == "m1" && !st.TakingOver
	})
	e.worker("w1", shared.Addr(), 4)
	e.worker("w2", shared.Addr(), 4)
	ids := submitMany(e, 200)
	for _, id := range ids {
		if r := e.wait(id, 30*time.Second); r.Status != task.Succeeded {
			t.Fatalf("%+v", r)
		}
	}
	for _, m := range []string{"m1", second} {
		if n := e.countLogs(m, "assigned", time.Time{}); n == 0 {
			t.Errorf("%s assigned nothing: the work was not shared", m)
		}
	}
	// The second leader goes: the backup takes its partitions; the first
	// keeps its own.
	backups[second].stop()
	zktest.Eventually(t, 15*time.Second, "the backup to lead the second leader's partitions", func() bool {
		l := e.leadersNow()
		return l["0"] == "m1" && l["1"] == backup && distinct(l) == 2
	})
	for _, id := range submitMany(e, 100) {
		if r := e.wait(id, 30*time.Second); r.Status != task.Succeeded {
			t.Fatalf("%+v", r)
		}
	}
	// Back to one leader, live: m1 leads everything again.
	e.setLeaders("1")
	zktest.Eventually(t, 15*time.Second, "m1 to lead every partition", func() bool {
		l := e.leadersNow()
		return len(l) == coord.Partitions && distinct(l) == 1 && l["f"] == "m1"
	})
	for _, id := range submitMany(e, 50) {
		if r := e.wait(id, 30*time.Second); r.Status != task.Succeeded {
			t.Fatalf("%+v", r)
		}
	}
	m1.stop()
}

func submitMany(e *env, n int) []task.ID {
	ids := make([]task.ID, n)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				ids[i] = e.submit("echo", "x", 0)
			}
		})
	}
	wg.Wait()
	return ids
}

// Three leaders and one worker: with 3 slots they split them, with 2 (fewer
// than the leaders) they share them; either way the worker never holds
// more assignments than it has slots, and every task runs, whichever
// leader's partition it is in.
func TestSeveralLeadersNeverDoubleBookAWorker(t *testing.T) {
	for _, slots := range []int{3, 2} {
		t.Run(fmt.Sprintf("%d slots", slots), func(t *testing.T) {
			e := newEnv(t)
			e.setLeaders("3")
			for _, m := range []string{"m1", "m2", "m3"} {
				e.master(m, shared.Addr(), time.Hour)
			}
			zktest.Eventually(t, 15*time.Second, "three leaders", func() bool { return distinct(e.leadersNow()) == 3 })
			e.worker("w", shared.Addr(), slots)
			var ids []task.ID
			for range 30 {
				ids = append(ids, e.submit("sleep", "0.05", 0))
			}
			most := 0
			done := make(chan struct{})
			go func() {
				defer close(done)
				for _, id := range ids {
					e.wait(id, 60*time.Second)
				}
			}()
			for {
				select {
				case <-done:
					if most > slots {
						t.Fatalf("worker of %d slots held %d assignments at once", slots, most)
					}
					return
				default:
				}
				// Sampling, not synchronisation: how many assignments the worker
				// holds, as often as the server answers.
				if names, _, err := e.ctl.Children(context.Background(), e.l.AssignDir("w")); err == nil {
					most = max(most, len(names))
				}
			}
		})
	}
}

// With several leaders, each publishes the kinds its partitions' tasks wait
// for, and status adds them up; once a worker of that kind comes, none
// waits.
func TestSeveralLeadersPublishWhatWaitsForAKind(t *testing.T) {
	e := newEnv(t)
	e.setLeaders("2")
	e.master("m1", shared.Addr(), time.Hour)
	e.master("m2", shared.Addr(), time.Hour)
	zktest.Eventually(t, 15*time.Second, "two leaders", func() bool { return distinct(e.leadersNow()) == 2 })
	e.worker("plain", shared.Addr(), 2) // runs the built-in kinds only
	var ids []task.ID
	parts := map[int]bool{}
	for len(parts) < 2 || len(ids) < 8 { // tasks of both leaders' partitions
		id := e.submit("thumb", "img", 0)
		ids = append(ids, id)
		parts[coord.PartitionOf(id)%2] = true
	}
	zktest.Eventually(t, 15*time.Second, "client status to count every task waiting for its kind", func() bool {
		st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
		return err == nil && st.WaitingForKind["thumb"] == len(ids)
	})
	e.thumbWorker("thumber")
	for _, id := range ids {
		if res := e.wait(id, 30*time.Second); res.Status != task.Succeeded {
			t.Fatalf("%s: %+v", id, res)
		}
	}
	zktest.Eventually(t, 10*time.Second, "client status to show nothing waiting", func() bool {
		st, err := coord.ReadStatus(context.Background(), e.ctl, e.l)
		return err == nil && len(st.WaitingForKind) == 0
	})
}
