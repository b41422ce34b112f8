package task

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Outcome is what one execution produced.
type Outcome struct {
	Output   string // result text (stdout for exec)
	Stderr   string
	ExitCode *int  // exec only; -1 when a signal ended the process
	Err      error // nil = succeeded
}

// Kind is one kind of task. Run must return soon after ctx is done. It need
// not word that case itself: Registry.Run replaces the error of a run that
// ctx cut short with one wrapping ErrTimeout or ErrCancelled.
type Kind interface {
	Run(ctx context.Context, payload []byte) Outcome
}

// KindFunc lets an ordinary function serve as a Kind.
type KindFunc func(ctx context.Context, payload []byte) Outcome

// Run calls f(ctx, payload).
func (f KindFunc) Run(ctx context.Context, payload []byte) Outcome { return f(ctx, payload) }

var (
	// ErrTimeout is wrapped by the error of a run that exceeded its timeout.
	ErrTimeout = errors.New("timed out")
	// ErrCancelled is wrapped by the error of a run whose context the caller
	// cancelled, as a worker does when a task is cancelled; Outcome.Status
	// maps it to Cancelled.
	ErrCancelled = errors.New("cancelled")
	// ErrKindUnavailable is wrapped by the error of a run whose kind this
	// registry does not run, unknown or disabled: the task may still succeed
	// on another worker.
	ErrKindUnavailable = errors.New("task kind not available")
)

// Registry maps kind names to kinds. It is safe for concurrent use; the zero
// value is an empty registry.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]Kind
	// disabled holds kinds this worker knows but refuses, with the message a
	// user gets instead of the bare "unknown kind", which would mislead.
	disabled map[string]string
}

// Builtin returns a registry of the built-in kinds: sleep, echo and fail, and
// exec when allowExec is set. Exec runs arbitrary commands as the worker's
// user, so an operator must opt in.
func Builtin(allowExec bool) *Registry {
	r := new(Registry)
	r.Register("sleep", sleepKind{})
	r.Register("echo", echoKind{})
	r.Register("fail", failKind{})
	if allowExec {
		r.Register("exec", execKind{})
	} else {
		r.disabled = map[string]string{
			"exec": "exec tasks are disabled on this worker; start it with --allow-exec",
		}
	}
	return r
}

// Register adds k under name, replacing any kind of that name, disabled or
// not. It panics if name is not a valid kind name or k is nil: both are
// programming errors.
func (r *Registry) Register(name string, k Kind) {
	if !ValidKind(name) {
		panic(fmt.Sprintf("task: invalid kind name %q", name))
	}
	if k == nil {
		panic(fmt.Sprintf("task: nil Kind for %q", name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kinds == nil {
		r.kinds = make(map[string]Kind)
	}
	r.kinds[name] = k
	delete(r.disabled, name)
}

// Names lists, sorted, the kinds this registry will run; disabled kinds are
// left out. Workers advertise this list.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.kinds))
}

// Run executes a task of the given kind, with timeout bounding the execution
// unless it is zero or negative. The error of a run cut short wraps
// ErrTimeout when the timeout expired and ErrCancelled when ctx ended first.
// A run the kind completed successfully stays successful even if the
// deadline passed meanwhile: its work is done.
func (r *Registry) Run(ctx context.Context, kind string, payload []byte, timeout time.Duration) Outcome {
	k, err := r.lookup(kind)
	if err != nil {
		return Outcome{Err: err}
	}
	// A task cancelled while queued must not start at all.
	if ctx.Err() != nil {
		return Outcome{Err: cancelled(ctx)}
	}
	runCtx, timedOut := ctx, error(nil)
	if timeout > 0 {
		// The cause tells an expired timeout apart from a cancelled parent.
		timedOut = fmt.Errorf("%w after %v", ErrTimeout, timeout)
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, timeout, timedOut)
		defer cancel()
	}
	out := runKind(runCtx, kind, k, payload)
	if out.Err != nil && runCtx.Err() != nil {
		if timedOut != nil && context.Cause(runCtx) == timedOut {
			out.Err = timedOut
		} else {
			out.Err = cancelled(ctx)
		}
	}
	return out
}

func (r *Registry) lookup(kind string) (Kind, error) {
	r.mu.RLock()
	k, ok := r.kinds[kind]
	why, disabled := r.disabled[kind]
	r.mu.RUnlock()
	switch {
	case ok:
		return k, nil
	case disabled:
		return nil, &unavailableError{why}
	}
	runs := strings.Join(r.Names(), ", ")
	if runs == "" {
		runs = "nothing"
	}
	return nil, &unavailableError{fmt.Sprintf("unknown task kind %q; this worker runs: %s", kind, runs)}
}

// unavailableError carries the exact text a user should read while still
// matching ErrKindUnavailable.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }
func (e *unavailableError) Unwrap() error { return ErrKindUnavailable }

// runKind turns a panic into a failed outcome: otherwise one bad payload
// would crash every worker it is retried on.
func runKind(ctx context.Context, name string, k Kind, payload []byte) (out Outcome) {
	defer func() {
		if p := recover(); p != nil {
			out = Outcome{Err: fmt.Errorf("task kind %q panicked: %v", name, p)}
		}
	}()
	return k.Run(ctx, payload)
}

// cancelled is the error for a run ended by ctx, keeping the caller's
// cause (say "cancelled by client") when it gave one.
func cancelled(ctx context.Context) error {
	cause := context.Cause(ctx)
	switch {
	case cause == nil || cause == context.Canceled:
		return ErrCancelled
	case errors.Is(cause, ErrCancelled):
		return cause
	}
	return fmt.Errorf("%w: %w", ErrCancelled, cause)
}
