package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// This file is the soak's only use of Paddock's Go client (internal/coord):
// the load submits, waits, cancels and collects through it, as a program
// embedding Paddock would.

// client is the load's connection to ZooKeeper and Paddock's queue on it.
type client struct {
	c *zkclient.Client
	q *coord.Queue
}

// errAbsent: neither the task nor a result exists.
var errAbsent = errors.New("neither the task nor a result exists")

// clientSession is the load's session timeout: long enough to ride out a
// ZooKeeper server's death (its sessions move to the others) without
// expiring, so that its watches survive.
const clientSession = 10 * time.Second

func dialClient(ctx context.Context, servers []string, root string) (*client, error) {
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers, SessionTimeout: clientSession, ConnectTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	return &client{c: c, q: coord.NewQueue(c, coord.MustLayout(root), 0)}, nil
}

func (c *client) close() { c.c.Close() }

// newID is a fresh task id (docs/PROTOCOL.md).
func newID(now time.Time) string { return task.NewID(now).String() }

// submit sends the "submit" multi once and says how it ended as the client
// sees it. It does not use Queue.Submit, which retries across connection
// loss and so hides a lost reply: the soak wants to see those, and to
// check that they resolve to a task that exists exactly once or not at
// all.
func (c *client) submit(ctx context.Context, id, kind string, payload []byte) (pt.SubmitOutcome, error) {
	spec := task.Spec{Kind: kind, MaxAttempts: maxAttempts, SubmittedAt: time.Now().UTC(), Client: "soak"}
	ops, err := c.q.SubmitOps(task.ID(id), spec, payload)
	if err != nil {
		return pt.SubmitFailed, err
	}
	_, err = c.c.Multi(ctx, ops...)
	switch {
	case err == nil:
		return pt.SubmitAcked, nil
	case zkclient.IsConnectionError(err) || ctx.Err() != nil:
		return pt.SubmitUnknown, err
	default:
		return pt.SubmitFailed, err
	}
}

// maxAttempts is every soak task's attempt limit: the highest the protocol
// allows, so that no task is dead-lettered because faults kept taking its
// worker away; a dead result is then a failure of the soak.
const maxAttempts = 1000

// wait blocks until id has a result and returns it, decoded from the
// protocol's JSON independently of Paddock's types; errAbsent when neither
// the task nor a result exists.
func (c *client) wait(ctx context.Context, id string) (pt.Result, error) {
	r, err := c.q.Wait(ctx, task.ID(id))
	if errors.Is(err, coord.ErrUnknownTask) {
		return pt.Result{}, errAbsent
	}
	if err != nil {
		return pt.Result{}, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return pt.Result{}, err
	}
	var out pt.Result
	if err := json.Unmarshal(b, &out); err != nil {
		return pt.Result{}, fmt.Errorf("result of %s: %w", id, err)
	}
	return out, nil
}

// collect removes id's result and payload.
func (c *client) collect(ctx context.Context, id, status string) error {
	return c.q.Collect(ctx, task.ID(id), task.Status(status))
}

// cancel asks Paddock to cancel id and says how that ended.
func (c *client) cancel(ctx context.Context, id string) string {
	_, err := c.q.Cancel(ctx, task.ID(id), "soak")
	switch {
	case err == nil:
		return "cancelled"
	case errors.Is(err, coord.ErrFinished):
		return "already finished"
	case errors.Is(err, coord.ErrUnknownTask):
		return "unknown task"
	default:
		return "error: " + err.Error()
	}
}
