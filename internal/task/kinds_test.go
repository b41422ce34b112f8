package task

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestBuiltinNames(t *testing.T) {
	if got, want := Builtin(false).Names(), []string{"echo", "fail", "sleep"}; !slices.Equal(got, want) {
		t.Errorf("Builtin(false).Names() = %v, want %v", got, want)
	}
	if got, want := Builtin(true).Names(), []string{"echo", "exec", "fail", "sleep"}; !slices.Equal(got, want) {
		t.Errorf("Builtin(true).Names() = %v, want %v", got, want)
	}
}

func TestRunUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  *Registry
		kind string
		want string
	}{
		{"unknown", Builtin(false), "foo", `unknown task kind "foo"; this worker runs: echo, fail, sleep`},
		{"unknown with exec", Builtin(true), "foo", `unknown task kind "foo"; this worker runs: echo, exec, fail, sleep`},
		{"empty registry", new(Registry), "echo", `unknown task kind "echo"; this worker runs: nothing`},
		{"exec disabled", Builtin(false), "exec", "exec tasks are disabled on this worker; start it with --allow-exec"},
	} {
		out := tc.reg.Run(context.Background(), tc.kind, []byte(`["true"]`), 0)
		if out.Err == nil || out.Err.Error() != tc.want {
			t.Errorf("%s: Run(%q) error = %v, want %q", tc.name, tc.kind, out.Err, tc.want)
		}
		if !errors.Is(out.Err, ErrKindUnavailable) || out.Status() != Failed {
			t.Errorf("%s: Run(%q) error %v is not ErrKindUnavailable or status %v is not failed", tc.name, tc.kind, out.Err, out.Status())
		}
	}
}

func TestRegister(t *testing.T) {
	var r Registry // the zero value is usable
	r.Register("shout", KindFunc(func(_ context.Context, p []byte) Outcome { return Outcome{Output: string(p) + "!"} }))
	if out := r.Run(context.Background(), "shout", []byte("hi"), 0); out.Output != "hi!" || out.Err != nil {
		t.Errorf("Run(shout) = %+v, want hi!", out)
	}

	// Registering a disabled kind enables it.
	b := Builtin(false)
	b.Register("exec", KindFunc(func(context.Context, []byte) Outcome { return Outcome{Output: "stub"} }))
	if out := b.Run(context.Background(), "exec", nil, 0); out.Output != "stub" {
		t.Errorf("Run(exec) after Register = %+v, want the stub", out)
	}
	if !slices.Contains(b.Names(), "exec") {
		t.Errorf("Names() = %v lacks the registered exec", b.Names())
	}

	for _, tc := range []struct {
		name string
		kind string
		k    Kind
	}{
		{"invalid name", "Bad Name", KindFunc(nil)},
		{"empty name", "", echoKind{}},
		{"nil kind", "ok", nil},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register(%q) did not panic", tc.name, tc.kind)
				}
			}()
			new(Registry).Register(tc.kind, tc.k)
		}()
	}
}

// blocker is a kind that reports when it started, then waits for ctx.
func blocker(started chan<- struct{}) Kind {
	return KindFunc(func(ctx context.Context, _ []byte) Outcome {
		if started != nil {
			close(started)
		}
		<-ctx.Done()
		return Outcome{Output: "partial", Err: ctx.Err()}
	})
}

func TestRunTimeout(t *testing.T) {
	r := new(Registry)
	r.Register("block", blocker(nil))
	out := r.Run(context.Background(), "block", nil, 50*time.Millisecond)
	if !errors.Is(out.Err, ErrTimeout) || out.Err.Error() != "timed out after 50ms" {
		t.Errorf("error = %v, want ErrTimeout worded %q", out.Err, "timed out after 50ms")
	}
	if errors.Is(out.Err, ErrCancelled) || out.Status() != Failed {
		t.Errorf("timeout %v counts as a cancellation (status %v)", out.Err, out.Status())
	}
	if out.Output != "partial" {
		t.Errorf("Output = %q, want what the kind produced before the timeout", out.Output)
	}
}

func TestRunCancel(t *testing.T) {
	cause := errors.New("cancelled by client")
	for _, tc := range []struct {
		name    string
		cause   error
		timeout time.Duration // must not be what ends the run
		want    string
	}{
		{"plain", nil, 0, "cancelled"},
		{"with timeout", nil, time.Hour, "cancelled"},
		{"with cause", cause, 0, "cancelled: cancelled by client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := new(Registry)
			started := make(chan struct{})
			r.Register("block", blocker(started))
			ctx, cancel := context.WithCancelCause(context.Background())
			go func() {
				<-started
				cancel(tc.cause)
			}()
			out := r.Run(ctx, "block", nil, tc.timeout)
			if !errors.Is(out.Err, ErrCancelled) || out.Err.Error() != tc.want {
				t.Errorf("error = %v, want ErrCancelled worded %q", out.Err, tc.want)
			}
			if tc.cause != nil && !errors.Is(out.Err, tc.cause) {
				t.Errorf("error = %v does not wrap the cause", out.Err)
			}
			if out.Status() != Cancelled {
				t.Errorf("Status() = %v, want cancelled", out.Status())
			}
		})
	}
}

func TestRunParentDeadlineIsCancellation(t *testing.T) {
	r := new(Registry)
	r.Register("block", blocker(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	out := r.Run(ctx, "block", nil, time.Hour)
	if !errors.Is(out.Err, ErrCancelled) || errors.Is(out.Err, ErrTimeout) {
		t.Errorf("error = %v, want ErrCancelled: the task's own timeout did not expire", out.Err)
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	ran := false
	r := new(Registry)
	r.Register("mark", KindFunc(func(context.Context, []byte) Outcome { ran = true; return Outcome{} }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := r.Run(ctx, "mark", nil, 0)
	if ran || !errors.Is(out.Err, ErrCancelled) {
		t.Errorf("Run on a cancelled ctx: ran=%v, error %v; want not run, ErrCancelled", ran, out.Err)
	}
}

func TestRunKeepsLateSuccess(t *testing.T) {
	// A kind that finished its work just as the deadline passed succeeded.
	r := new(Registry)
	r.Register("late", KindFunc(func(ctx context.Context, _ []byte) Outcome {
		<-ctx.Done()
		return Outcome{Output: "done"}
	}))
	if out := r.Run(context.Background(), "late", nil, 10*time.Millisecond); out.Err != nil || out.Output != "done" {
		t.Errorf("Run = %+v, want the success kept", out)
	}
}

func TestRunRecoversPanic(t *testing.T) {
	r := new(Registry)
	r.Register("boom", KindFunc(func(context.Context, []byte) Outcome { panic("bad payload") }))
	out := r.Run(context.Background(), "boom", nil, 0)
	if want := `task kind "boom" panicked: bad payload`; out.Err == nil || out.Err.Error() != want {
		t.Errorf("error = %v, want %q", out.Err, want)
	}
}

func TestRegistryConcurrentUse(t *testing.T) {
	r := Builtin(false)
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			if i == 0 {
				r.Register("extra", echoKind{})
			}
			if out := r.Run(context.Background(), "echo", []byte("x"), time.Minute); out.Output != "x" {
				t.Errorf("echo = %+v", out)
			}
			_ = r.Names()
		}()
	}
	for range 8 {
		<-done
	}
}
