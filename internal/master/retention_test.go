package master_test

import (
	"context"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
)

// A dead letter outlives its dead result: the result goes after
// master.retention, the dead letter and the payload it keeps after
// master.dead-retention.
func TestDeadLettersHaveTheirOwnRetention(t *testing.T) {
	e := newEnv(t)
	e.start("m1", shared.Addr(), func(ctx context.Context, c *zkclient.Client) error {
		return master.Run(ctx, c, e.l, master.Config{ID: "m1", Retention: time.Hour, DeadRetention: time.Hour, Logger: e.logger("m1")})
	})
	e.worker("w", shared.Addr(), 1)
	ctx := context.Background()
	bad := task.NewID(time.Now())
	if _, err := e.ctl.Multi(ctx,
		zkclient.CreateOp(e.l.Payload(bad), []byte("x"), persistent),
		zkclient.CreateOp(e.l.Task(bad), []byte("not json"), persistent)); err != nil {
		t.Fatal(err)
	}
	if r := e.wait(bad, 20*time.Second); r.Status != task.Dead {
		t.Fatalf("garbage task: %+v", r)
	}
	exists := func(p string) bool {
		st, err := e.ctl.Exists(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return st != nil
	}
	cfg := coord.PaddockConfig(e.ctl, e.l)
	if err := cfg.Set(ctx, coord.KeyMasterRetention, "1500ms", ""); err != nil {
		t.Fatal(err)
	}
	zktest.Eventually(t, 15*time.Second, "the dead result to expire", func() bool { return !exists(e.l.Result(bad)) })
	if !exists(e.l.DeadLetter(bad)) || !exists(e.l.Payload(bad)) {
		t.Fatal("the dead result's expiry took the dead letter or its payload")
	}
	if err := cfg.Set(ctx, coord.KeyMasterDeadRetention, "1500ms", ""); err != nil {
		t.Fatal(err)
	}
	e.waitLog(10*time.Second, "m1", "dead-letter retention changed")
	zktest.Eventually(t, 15*time.Second, "the dead letter and its payload to expire", func() bool {
		return !exists(e.l.DeadLetter(bad)) && !exists(e.l.Payload(bad))
	})
}
