package paddock

import (
	"time"

	"github.com/paddock-zk/paddock/internal/task"
)

// Status is how a task ended.
type Status string

// The statuses of a Result.
const (
	// Succeeded: its handler returned no error.
	Succeeded Status = "succeeded"
	// Failed: its handler failed (or timed out) and no retry was left, or
	// no worker ran its kind within its RoutingTimeout.
	Failed Status = "failed"
	// Cancelled: Cancel ended it; a running execution was stopped.
	Cancelled Status = "cancelled"
	// Dead: it was given up on (dead-lettered): its workers kept dying
	// under it (Task.MaxAttempts), or its record was malformed. Requeue
	// runs it again.
	Dead Status = "dead"
)

// Result is how a task ended, written exactly once per task: the first
// completion wins, and a late duplicate (a worker that was presumed dead)
// is dropped. It stays in ZooKeeper until a client collects it (Collect)
// or the master's retention removes it (24 h by default), so any client
// may read it, not only the one that submitted the task. Its JSON form is
// the record's (docs/PROTOCOL.md).
type Result struct {
	ID       ID     `json:"id"`
	Kind     string `json:"kind"`
	Status   Status `json:"status"`
	Output   string `json:"output"`          // the handler's result (stdout for exec)
	Error    string `json:"error,omitempty"` // why it did not succeed
	ExitCode *int   `json:"exit_code,omitempty"`
	Stderr   string `json:"stderr,omitempty"`
	Worker   string `json:"worker,omitempty"` // the worker that ran the attempt that ended it
	Attempts int    `json:"attempts"`         // assignments, the last one included
	// Epoch is that of the master that made the last assignment.
	Epoch       int64     `json:"epoch,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at"`
	// Errors, for a task that was retried, are every failed attempt's
	// error, oldest first, this result's own last when it failed (at most
	// 20: the first and the newest; ErrorsDropped counts those left out
	// between them), so the last error does not hide the earlier ones. A
	// task that ran once has none: Error says it.
	Errors        []AttemptError `json:"errors,omitempty"`
	ErrorsDropped int            `json:"errors_dropped,omitempty"`
}

// AttemptError is one failed attempt that was retried.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	Worker  string    `json:"worker,omitempty"`
	Message string    `json:"error"`
	At      time.Time `json:"at"`
}

func resultFrom(r task.Result) Result {
	return Result{
		ID: ID(r.ID), Kind: r.Kind, Status: Status(r.Status), Output: r.Output, Error: r.Error,
		ExitCode: r.ExitCode, Stderr: r.Stderr, Worker: r.Worker, Attempts: r.Attempts, Epoch: r.Epoch,
		SubmittedAt: r.SubmittedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Errors: mapSlice(r.Errors, attemptErrorFrom), ErrorsDropped: r.ErrorsDropped,
	}
}

func attemptErrorFrom(e task.AttemptError) AttemptError {
	return AttemptError{Attempt: e.Attempt, Worker: e.Worker, Message: e.Error, At: e.At}
}

// mapSlice converts a slice element by element, keeping nil apart from
// empty: the JSON of the two differs (null, []), and the records' JSON
// must not change on the way through this package.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// mapPtr converts what p points to, nil staying nil.
func mapPtr[T, U any](p *T, f func(T) U) *U {
	if p == nil {
		return nil
	}
	u := f(*p)
	return &u
}
