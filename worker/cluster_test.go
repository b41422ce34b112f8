package worker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// cluster is what an Example runs against: the package's ZooKeeper, a tree
// of its own with a master leading it, and a way to submit tasks and wait
// for their results. In production the client package (or the client
// binary) submits; here the protocol package does, to stay out of the
// examples.
type cluster struct {
	servers []string
	root    string
	q       *coord.Queue
	stop    func()
}

// startCluster starts a master on a fresh tree; it panics on error, which
// fails the example.
func startCluster() *cluster {
	l := coord.MustLayout(fmt.Sprintf("/example-%d", time.Now().UnixNano()))
	servers := []string{shared.Addr()}
	ctx := context.Background()
	dial := func() *zkclient.Client {
		c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers, SessionTimeout: time.Second})
		if err != nil {
			panic(err)
		}
		return c
	}
	ctl, mc := dial(), dial()
	if err := coord.EnsureLayout(ctx, ctl, l); err != nil {
		panic(err)
	}
	mctx, stopMaster := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := master.Run(mctx, mc, l, master.Config{ID: "m"}); err != nil {
			panic(err)
		}
	}()
	return &cluster{servers: servers, root: l.Root(), q: coord.NewQueue(ctl, l, 0), stop: func() {
		stopMaster()
		<-done
		mc.Close()
		ctl.Close()
	}}
}

// run submits a task and waits for its result.
func (c *cluster) run(kind, payload string) task.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id := task.NewID(time.Now())
	if err := c.q.Submit(ctx, id, task.Spec{Kind: kind, SubmittedAt: time.Now().UTC()}, []byte(payload)); err != nil {
		panic(err)
	}
	r, err := c.q.Wait(ctx, id)
	if err != nil {
		panic(err)
	}
	return r
}
