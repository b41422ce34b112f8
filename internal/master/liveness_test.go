package master_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// A scheduling round that fails part-way (the connection drops at its
// second read of task records) must put back every task it took from
// pending, the dead letter it had queued included: nothing marks that
// task's shard again, so a task forgotten there would wait for a failover.
func TestRoundCutOffMidwayLosesNoTask(t *testing.T) {
	e := newEnv(t)
	// Both tasks exist before the master starts, so that its first listing
	// finds both. The malformed one is older: the round reads it first and
	// queues its dead letter, then reads the echo task, which is when the
	// connection drops. They are in different shards: the echo task's
	// completion must not be what brings the malformed one back.
	bad := task.NewID(time.Now().Add(-time.Second))
	e.writeRaw(e.l.Payload(bad), "x", e.l.Task(bad), "not json")
	good := e.submit("echo", "good", 0)
	for good.Shard() == bad.Shard() {
		good = e.submit("echo", "good", 0)
	}
	e.worker("w", shared.Addr(), 1) // one slot: the round reads one task at a time
	e.waitLog(10*time.Second, "w", "worker registered")

	proxy := zktest.NewProxy(t, shared.Addr())
	// A session that outlives the cut (about 2 s with go-zookeeper's
	// reconnect pause): the master keeps leading, and only what the round
	// put back can bring the malformed task back.
	mc, err := zkclient.Dial(context.Background(), zkclient.Config{
		Servers: []string{proxy.Addr()}, SessionTimeout: 5 * time.Second, ConnectTimeout: 10 * time.Second,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("m1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mc.Close)
	var cut sync.Once
	cfg := master.WithBeforeRead(master.Config{ID: "m1", Retention: time.Hour, Logger: e.logger("m1")}, func(ids []task.ID) {
		if !slices.Contains(ids, good) {
			return
		}
		cut.Do(func() {
			// On the master's goroutine: wait, but never FailNow here.
			proxy.Cut()
			for deadline := time.Now().Add(10 * time.Second); mc.Connected(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Errorf("the master did not see its connection drop")
					return
				}
			}
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- master.Run(ctx, mc, e.l, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("m1: %v", err)
		}
	})

	e.waitLog(20*time.Second, "m1", "step interrupted by the connection; retrying once reconnected")
	proxy.Restore()
	r := e.wait(bad, 15*time.Second)
	if r.Status != task.Dead || !strings.HasPrefix(r.Error, task.ReasonMalformed) {
		t.Fatalf("malformed task: %+v", r)
	}
	if r := e.wait(good, 15*time.Second); r.Status != task.Succeeded {
		t.Fatalf("echo task: %+v", r)
	}
	if n := e.countLogs("m1", "deposed: stepping down to backup", time.Time{}); n != 0 {
		t.Fatalf("the master was deposed: the test needs it to keep leading")
	}
}
