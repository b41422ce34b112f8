// Package worker runs Paddock tasks with handlers of your own: register a
// HandlerFunc per task kind, then Run. The stock worker binary (cmd/worker)
// is this package with the built-in kinds registered (HandleBuiltins, and
// Exec with --allow-exec); anything it does, a program of yours can do.
//
//	w, err := worker.New(worker.Config{
//		ZK: zkclient.Config{Servers: []string{"zk1:2181", "zk2:2181", "zk3:2181"}},
//		ID: "thumbnailer-1",
//	})
//	if err != nil { ... }
//	w.Handle("thumbnail", func(ctx context.Context, t *worker.Task) ([]byte, error) {
//		img, err := decode(t.Payload)
//		if err != nil {
//			return nil, worker.SkipRetry(err) // retrying cannot fix the payload
//		}
//		return shrink(ctx, img)
//	})
//	err = w.Run(ctx) // until ctx is done, then drains
//
// # How tasks reach a handler
//
// The worker registers under <root>/workers, advertising the kinds it has
// handlers for; the leading master gives it tasks of those kinds only, up
// to its Concurrency at once, by creating them under <root>/assign/<ID>
// (docs/PROTOCOL.md has the protocol). The worker runs each one's handler
// on a goroutine of its own and writes the result with one multi that is
// applied only if the assignment is still its own.
//
// # Guarantees
//
// Execution is at least once: a task whose worker died (a crash, kill -9,
// a partition past the session timeout) or shut down before it finished
// is given to another worker and runs again, from the start. So a handler
// may run twice for the same task, even at the same time on two workers
// while the first one's death is not yet noticed: make it idempotent
// (write its effects under the task's ID, check before acting, or make the
// effect harmless to repeat).
//
// Results are exactly once: the first completion wins, and a late
// duplicate is dropped (the result of the execution whose assignment was
// withdrawn is never written). A failed task with retries left (its retry
// policy, or its kind's default from the retry.<kind> live setting) goes
// back to pending after a backoff and runs again with Task.Retries one
// higher; return SkipRetry(err) when retrying cannot help.
//
// # What cancels a handler's ctx
//
// The task's timeout (context.Cause wraps ErrTimeout; the task fails, and
// a timeout is retried like any failure), a client's cancel and the
// withdrawal of the assignment (ErrWithdrawn; nothing is written), and
// shutdown once the drain timeout has passed (ErrShutdown; the task goes
// to another worker). A handler must return soon after its ctx is done.
// A handler that panics fails its task with the panic's message; the stack
// goes to the log and the worker runs on.
//
// # Shutting down
//
// When Run's ctx is done the worker stops taking tasks: it tells the
// master it is draining (the master assigns it nothing more), lets running
// handlers finish for up to DrainTimeout (their results are written),
// cancels the rest, and returns once every handler has returned. What it
// abandoned stays assigned to it until its session ends (at once when Run
// dialled the connection itself, which it then closes), then goes to
// another worker.
package worker
