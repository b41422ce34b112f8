package worker

import (
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// The worker's two uses of the retry protocol (branch sdk-protocol), kept
// here until it is on main so that wiring them is a two-line change:
//
//   - withRetryDefaults becomes `return q.WithRetryDefaults(defaults)`:
//     coord's Complete then asks for the kind's default policy (the
//     retry.<kind> settings) when a failed task has none of its own;
//   - retriesOf becomes `return a.Retries`, once the master copies the
//     Spec's retries into the Assignment (Task.Retries without a read of
//     the Spec per task).

// withRetryDefaults makes q's completions retry failed tasks without a
// policy by their kind's default.
func withRetryDefaults(q *coord.Queue, defaults func(kind string) *task.RetryPolicy) *coord.Queue {
	_ = defaults
	return q
}

// retriesOf is the number of failed executions of the task retried before
// assignment a.
func retriesOf(a task.Assignment) int {
	_ = a
	return 0
}
