package task

import "errors"

// Outcome is what one execution produced, before it becomes a Result.
type Outcome struct {
	Output   string // result text (stdout for exec)
	Stderr   string
	ExitCode *int  // exec only; -1 when a signal ended the process
	Err      error // nil = succeeded
}

var (
	// ErrTimeout is wrapped by the error of a run that exceeded its timeout.
	ErrTimeout = errors.New("timed out")
	// ErrCancelled is wrapped by the error of a run whose context the caller
	// cancelled, as a worker does when a task is cancelled; Outcome.Status
	// maps it to Cancelled.
	ErrCancelled = errors.New("cancelled")
)
