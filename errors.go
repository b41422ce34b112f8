package paddock

import (
	"errors"
	"fmt"
	"strings"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// Errors a Client returns, for errors.Is. Those that Paddock's protocol
// reports are the very values its internal packages use, so a test that
// drives the protocol directly and a program using this package compare
// errors the same way; the messages that wrap them say which task and why.
var (
	// ErrBadTask: Submit or SubmitMany refused a Task before writing
	// anything (a kind that is not a kind name, a negative duration, a
	// retry policy out of range, ...). The wrapping message names the
	// field.
	ErrBadTask = errors.New("paddock: bad task")
	// ErrPayloadTooLarge: a payload over Config.MaxPayload, refused before
	// anything is written (ZooKeeper itself refuses requests near 1 MiB).
	ErrPayloadTooLarge = coord.ErrPayloadTooLarge
	// ErrUnknownTask: nothing of the task is left (never submitted, or its
	// result was collected, purged or expired).
	ErrUnknownTask = coord.ErrUnknownTask
	// ErrNotFinished: the task exists and has no result yet (Result; Wait
	// waits instead).
	ErrNotFinished = coord.ErrNotFinished
	// ErrFinished: the task already has a result, so it cannot be
	// cancelled; Cancel returns that result with it.
	ErrFinished = coord.ErrFinished
	// ErrNotDead: Requeue was given a task that is not a dead letter; the
	// message names the state it is in.
	ErrNotDead = coord.ErrNotDead
	// ErrNotRequeueable: the dead letter cannot run again (its records are
	// malformed, or its payload is gone); it is left for inspection.
	ErrNotRequeueable = coord.ErrNotRequeueable
	// ErrPayloadGone: a dead letter whose payload a much older client
	// removed; it cannot be requeued.
	ErrPayloadGone = coord.ErrPayloadGone
	// ErrMalformed: a record in ZooKeeper is not Paddock's (another tool
	// wrote it).
	ErrMalformed = task.ErrMalformed
	// ErrBadID: a string that is not a task id (ParseID).
	ErrBadID = task.ErrBadID
	// ErrUnreachable: Dial established no ZooKeeper session within
	// Config.ConnectTimeout; the message names the servers and the last
	// dial failure.
	ErrUnreachable = zkclient.ErrUnreachable
	// ErrClosed: the Client was closed (also a call that Close cut short).
	ErrClosed = zkclient.ErrClosed
	// ErrNoAuth: ZooKeeper refused a write on znodes that another identity
	// created: pass the Config.Auth the tree was created with.
	ErrNoAuth = coord.ErrNoAuth
	// ErrNotInitialized: the root has no task tree yet. A master or a
	// worker creates it when it starts; Client.Init creates it too.
	ErrNotInitialized = errors.New("paddock: no task tree under the root")
)

// badTask reports a Task that validation refused.
func badTask(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadTask, fmt.Sprintf(format, a...))
}

// SubmitManyError is SubmitMany's error when some tasks were not
// submitted: Errs has one entry per task, nil for each that was. The ids
// SubmitMany returns with it are those of the tasks submitted; the others
// were not written, except that a task in flight when the context ended
// may have been (its error is the context's).
type SubmitManyError struct {
	Errs []error
}

// Failed lists the indexes of the tasks that were not submitted.
func (e *SubmitManyError) Failed() []int {
	var failed []int
	for i, err := range e.Errs {
		if err != nil {
			failed = append(failed, i)
		}
	}
	return failed
}

// Error says how many failed and why, naming the first few.
func (e *SubmitManyError) Error() string {
	const shown = 3
	failed := e.Failed()
	var b strings.Builder
	fmt.Fprintf(&b, "paddock: %d of %d tasks not submitted", len(failed), len(e.Errs))
	for n, i := range failed {
		if n == shown {
			fmt.Fprintf(&b, "; and %d more", len(failed)-shown)
			break
		}
		fmt.Fprintf(&b, "; task %d: %v", i, e.Errs[i])
	}
	return b.String()
}

// Unwrap returns the errors of the tasks that failed, so that errors.Is
// finds a cause common to them (context.Canceled, ErrUnreachable, ...).
func (e *SubmitManyError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
