// Package paddock is the Go client of Paddock, a master/worker task
// service coordinated by Apache ZooKeeper: a program submits tasks from
// code, and waits for, reads, cancels, lists and inspects them, as the
// `client` command does (which is built on this package).
//
// # Use
//
// Dial once per process; a Client is safe for concurrent use.
//
//	c, err := paddock.Dial(ctx, paddock.Config{Servers: []string{"zk1:2181", "zk2:2181", "zk3:2181"}})
//	if err != nil {
//		return err // ErrUnreachable: no ZooKeeper session within ConnectTimeout
//	}
//	defer c.Close()
//
//	id, err := c.Submit(ctx, paddock.Task{Kind: "resize", Payload: img, Timeout: time.Minute,
//		Retry: &paddock.RetryPolicy{MaxRetries: 5}})
//	...
//	res, err := c.Wait(ctx, id) // watch-driven; bound it with ctx
//	if err == nil && res.Status == paddock.Succeeded {
//		use(res.Output)
//		_ = c.Collect(ctx, res) // results stay until collected or expired
//	}
//
// A task is a kind and a payload. Workers run the kinds they registered
// handlers for (see package worker; the built-in kinds are sleep, echo,
// fail and exec). Task's other fields bound its execution (Timeout), say
// how a failure is retried (Retry: exponential backoff with jitter; nil
// takes the kind's default from the live setting retry.<kind>), when it
// may start (NotBefore), how long it may wait for a worker of its kind
// (RoutingTimeout), and make its submission idempotent (Key).
//
// SubmitMany submits many tasks in a few ZooKeeper multis instead of one
// round trip each. SubmitAndWait is Submit and Wait in one call. List,
// Inspect, Status, Requeue, RequeueDead, FindPurgeable and Purge are the
// operator's tools (`client ls`, `inspect`, `status`, `requeue`, `purge`).
//
// # Guarantees
//
// Results are exactly-once: a task's result is written once, by the first
// completion; a late duplicate (from a worker presumed dead) is dropped.
// Whatever happens to clients, workers or masters, a task that Submit
// returned an id for ends with one result (or as a dead letter, with a
// result of status Dead), which any client can read until it is collected
// or the master's retention removes it.
//
// Execution is at-least-once: a task whose worker died, or lost its
// ZooKeeper session, is assigned again, so a handler may run more than
// once for one task (Task.MaxAttempts bounds how often before the task is
// dead-lettered). Make handlers idempotent, or give them a way to notice
// a repeat.
//
// Submission is safe to retry. The client chooses a task's id before
// writing anything, so when a reply is lost and the submit is sent again,
// the retry finds its own task instead of adding a second one; Submit does
// this itself across connection loss. A caller that may itself run twice
// (a retried HTTP handler, a job restarted after a crash) sets Task.Key:
// within the master's result retention after the first task with that key
// was submitted, a second Submit with the same key writes nothing and
// returns the first task's id, with no error.
//
// # Errors
//
// Errors are values for errors.Is: ErrBadTask (validation, before any
// write), ErrPayloadTooLarge, ErrBadID, ErrUnknownTask, ErrNotFinished,
// ErrFinished, ErrNotDead, ErrUnreachable, ErrClosed, ErrNotInitialized,
// ... Those the protocol reports are the values Paddock's own packages
// use. A task that
// failed is not an error of Wait: it is a Result whose Status says so.
// SubmitMany's partial failure is a *SubmitManyError naming each task
// that was not submitted.
//
// # ZooKeeper
//
// The Client holds one ZooKeeper session, which it ends on Close; it
// keeps no ephemeral state, so an expired session costs it nothing but
// the calls in flight, which are retried. New wraps a connection the
// program already has (package zkclient). docs/PROTOCOL.md describes
// every znode and multi this package writes.
package paddock
