package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"go.uber.org/zap"
)

// HandlerFunc runs one task of a kind (see Worker.Handle). What it returns
// becomes the task's result: with a nil error the task succeeded and the
// bytes are its output; with an error it failed, the error's text is the
// result's error, and the bytes are still kept as its output (what a
// command printed before it failed, say).
//
// The output is text: valid UTF-8 is kept as it is; invalid bytes show as
// U+FFFD, and output over 64 KiB is cut there (never inside a character)
// and followed by "\n[truncated to 65536 bytes]". A handler whose output is
// binary should encode it (base64, say) for its submitter to decode.
//
// ctx is done when the task is cancelled, when it times out (its Deadline
// passes), when its assignment is withdrawn (the master gave the task to
// another worker), and when the worker shuts down and its drain timeout
// has passed; context.Cause(ctx) tells which (ErrTimeout, ErrWithdrawn,
// ErrShutdown; a cancelled task's assignment is withdrawn too). A handler
// must return soon after: in every case but the timeout its result is not
// written, and a timed-out task fails. Work the handler finished is a
// success even if the deadline passed meanwhile.
//
// A failure is retried when the task has retries left (its own retry
// policy, else its kind's default): return SkipRetry(err) for one that
// retrying cannot fix. A panic fails the task with the panic's message
// (the stack goes to the log) and leaves the worker running.
type HandlerFunc func(ctx context.Context, t *Task) ([]byte, error)

// Middleware wraps the handlers of every kind a worker runs: logging,
// tracing, metrics, recovering from a library's errors. See Worker.Use.
type Middleware func(HandlerFunc) HandlerFunc

// Task is one execution of a task, as its handler sees it.
type Task struct {
	ID      string // the task's id, as clients know it
	Kind    string
	Payload []byte
	// Attempt counts the task's assignments to workers, this one included
	// (1 on its first run; more once a worker died under it or shut down
	// before it finished).
	Attempt int
	// Retries counts the failed executions retried so far (0 on the first
	// try): the retry policy's count, not the assignments'.
	Retries int
	// Deadline is when the task's timeout expires (ctx has it too); zero
	// when it has none.
	Deadline    time.Time
	SubmittedAt time.Time

	// What a command the handler ran left besides its output (Exec sets
	// them): the result's stderr and exit_code.
	stderr   string
	exitCode *int
}

// Why a handler's ctx was cancelled (context.Cause), besides a timeout's
// ErrTimeout.
var (
	// ErrWithdrawn: the task's assignment to this worker is gone: the task
	// was cancelled, or the master gave it to another worker. Its result
	// is not written.
	ErrWithdrawn = errors.New("assignment withdrawn")
	// ErrShutdown: the worker shut down and its drain timeout passed. The
	// result is not written; the master gives the task to another worker.
	ErrShutdown = errors.New("worker shut down")
	// ErrTimeout is wrapped by the cause of a ctx whose task timed out, and
	// by the error of the failed result.
	ErrTimeout = task.ErrTimeout
)

// ErrSkipRetry is matched (errors.Is) by every error SkipRetry returns.
var ErrSkipRetry = errors.New("skip retry")

// SkipRetry marks a handler's error as one that retrying cannot fix (a
// payload that does not parse, a record that does not exist): the task
// fails at once, even with retries left. The error reads as err does; it
// matches err and ErrSkipRetry. SkipRetry(nil) is ErrSkipRetry: a handler
// that meant to fail must not succeed by mistake.
func SkipRetry(err error) error {
	if err == nil {
		return ErrSkipRetry
	}
	return skipRetry{err}
}

type skipRetry struct{ err error }

func (e skipRetry) Error() string        { return e.err.Error() }
func (e skipRetry) Unwrap() error        { return e.err }
func (e skipRetry) Is(target error) bool { return target == ErrSkipRetry }

// invoke runs h on t with timeout bounding it (none when it is zero or
// negative), and turns what h returns into an Outcome; final says h asked
// for no retry (SkipRetry). The error of a run that ctx or the timeout cut
// short is replaced: one wrapping ErrTimeout when the timeout expired,
// one wrapping task.ErrCancelled when ctx ended first.
func invoke(ctx context.Context, h HandlerFunc, t *Task, timeout time.Duration, log *zap.Logger) (out task.Outcome, final bool) {
	// A task cancelled while it waited for a slot must not start at all.
	if ctx.Err() != nil {
		return task.Outcome{Err: cancelled(ctx)}, false
	}
	runCtx, timedOut := ctx, error(nil)
	if timeout > 0 {
		// The cause tells an expired timeout apart from a cancelled parent.
		timedOut = fmt.Errorf("%w after %v", ErrTimeout, timeout)
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, timeout, timedOut)
		defer cancel()
		t.Deadline, _ = runCtx.Deadline()
	}
	b, err := call(runCtx, h, t, log)
	out = task.Outcome{Output: task.Printable(b, task.OutputCap), Stderr: t.stderr, ExitCode: t.exitCode, Err: err}
	// The handler's own verdict: a SkipRetry reaction to its ctx stands.
	final = errors.Is(err, ErrSkipRetry)
	if err != nil && runCtx.Err() != nil {
		if timedOut != nil && context.Cause(runCtx) == timedOut {
			out.Err = timedOut
		} else {
			out.Err = cancelled(ctx)
		}
	}
	return out, final
}

// call runs h, turning a panic into its error: otherwise one bad payload
// would crash every worker it is retried on. The stack, which the error
// cannot carry, goes to the log.
func call(ctx context.Context, h HandlerFunc, t *Task, log *zap.Logger) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("task kind %q panicked: %v", t.Kind, p)
			log.Error("handler panicked", zap.String("kind", t.Kind), zap.Any("panic", p), zap.Stack("stack"))
		}
	}()
	return h(ctx, t)
}

// cancelled is the error for a run ended by ctx, keeping its cause (say
// ErrWithdrawn) when it has one.
func cancelled(ctx context.Context) error {
	cause := context.Cause(ctx)
	switch {
	case cause == nil || cause == context.Canceled:
		return task.ErrCancelled
	case errors.Is(cause, task.ErrCancelled):
		return cause
	}
	return fmt.Errorf("%w: %w", task.ErrCancelled, cause)
}
