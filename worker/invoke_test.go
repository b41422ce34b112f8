package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// run is invoke on a fresh Task of payload, as the worker calls it.
func run(ctx context.Context, h HandlerFunc, payload string, timeout time.Duration) (task.Outcome, bool) {
	return invoke(ctx, h, &Task{Kind: "k", Payload: []byte(payload)}, timeout, zap.NewNop())
}

// blocker is a handler that reports when it started, then waits for ctx.
func blocker(started chan<- struct{}) HandlerFunc {
	return func(ctx context.Context, _ *Task) ([]byte, error) {
		if started != nil {
			close(started)
		}
		<-ctx.Done()
		return []byte("partial"), ctx.Err()
	}
}

func TestInvokeOutput(t *testing.T) {
	for _, tc := range []struct{ name, out, want string }{
		{"text", "hello, world\n", "hello, world\n"},
		{"invalid UTF-8", "caf\xc3\xa9 \xff", "café \uFFFD"},
		{"over 64 KiB", strings.Repeat("a", task.OutputCap+10), strings.Repeat("a", task.OutputCap) + "\n[truncated to 65536 bytes]"},
	} {
		h := func(context.Context, *Task) ([]byte, error) { return []byte(tc.out), nil }
		if out, final := run(context.Background(), h, "", 0); out.Err != nil || out.Output != tc.want || final {
			t.Errorf("%s: %+v (final %v), want output %.20q", tc.name, out, final, tc.want)
		}
	}
}

func TestInvokeTimeout(t *testing.T) {
	tk := &Task{Kind: "k"}
	out, final := invoke(context.Background(), blocker(nil), tk, 50*time.Millisecond, zap.NewNop())
	if !errors.Is(out.Err, ErrTimeout) || out.Err.Error() != "timed out after 50ms" {
		t.Errorf("error = %v, want ErrTimeout worded %q", out.Err, "timed out after 50ms")
	}
	if errors.Is(out.Err, task.ErrCancelled) || out.Status() != task.Failed || final {
		t.Errorf("timeout %v counts as a cancellation (status %v) or as final (%v): it is a failure to retry", out.Err, out.Status(), final)
	}
	if out.Output != "partial" {
		t.Errorf("Output = %q, want what the handler produced before the timeout", out.Output)
	}
	if tk.Deadline.IsZero() || time.Until(tk.Deadline) > 0 {
		t.Errorf("Deadline = %v, want the timeout's, now past", tk.Deadline)
	}
}

func TestInvokeCancel(t *testing.T) {
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
		{"withdrawn", ErrWithdrawn, 0, "cancelled: assignment withdrawn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{})
			ctx, cancel := context.WithCancelCause(context.Background())
			go func() {
				<-started
				cancel(tc.cause)
			}()
			out, _ := run(ctx, blocker(started), "", tc.timeout)
			if !errors.Is(out.Err, task.ErrCancelled) || out.Err.Error() != tc.want {
				t.Errorf("error = %v, want ErrCancelled worded %q", out.Err, tc.want)
			}
			if tc.cause != nil && !errors.Is(out.Err, tc.cause) {
				t.Errorf("error = %v does not wrap the cause", out.Err)
			}
			if out.Status() != task.Cancelled {
				t.Errorf("Status() = %v, want cancelled", out.Status())
			}
		})
	}
}

func TestInvokeParentDeadlineIsCancellation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	out, _ := run(ctx, blocker(nil), "", time.Hour)
	if !errors.Is(out.Err, task.ErrCancelled) || errors.Is(out.Err, ErrTimeout) {
		t.Errorf("error = %v, want ErrCancelled: the task's own timeout did not expire", out.Err)
	}
}

func TestInvokeCancelledBeforeStart(t *testing.T) {
	ran := false
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, _ := run(ctx, func(context.Context, *Task) ([]byte, error) { ran = true; return nil, nil }, "", 0)
	if ran || !errors.Is(out.Err, task.ErrCancelled) {
		t.Errorf("invoke on a cancelled ctx: ran=%v, error %v; want not run, ErrCancelled", ran, out.Err)
	}
}

func TestInvokeKeepsLateSuccess(t *testing.T) {
	// A handler that finished its work just as the deadline passed succeeded.
	h := func(ctx context.Context, _ *Task) ([]byte, error) {
		<-ctx.Done()
		return []byte("done"), nil
	}
	if out, _ := run(context.Background(), h, "", 10*time.Millisecond); out.Err != nil || out.Output != "done" {
		t.Errorf("invoke = %+v, want the success kept", out)
	}
}

func TestInvokeRecoversPanic(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	h := func(context.Context, *Task) ([]byte, error) { panic("bad payload") }
	out, final := invoke(context.Background(), h, &Task{Kind: "boom"}, 0, zap.New(core))
	if want := `task kind "boom" panicked: bad payload`; out.Err == nil || out.Err.Error() != want || final {
		t.Errorf("error = %v (final %v), want %q, not final", out.Err, final, want)
	}
	entries := logs.FilterMessage("handler panicked").All()
	if len(entries) != 1 || !strings.Contains(fmt.Sprint(entries[0].ContextMap()["stack"]), "TestInvokeRecoversPanic") {
		t.Errorf("log = %+v, want one entry with the stack", entries)
	}
}

func TestSkipRetry(t *testing.T) {
	base := errors.New("no such file")
	for _, tc := range []struct {
		name  string
		err   error
		final bool
		text  string
	}{
		{"plain", base, false, "no such file"},
		{"skip", SkipRetry(base), true, "no such file"},
		{"wrapped skip", fmt.Errorf("load: %w", SkipRetry(base)), true, "load: no such file"},
		{"skip nil", SkipRetry(nil), true, "skip retry"},
	} {
		h := func(context.Context, *Task) ([]byte, error) { return nil, tc.err }
		out, final := run(context.Background(), h, "", 0)
		if final != tc.final || out.Err.Error() != tc.text || out.Status() != task.Failed {
			t.Errorf("%s: final %v, error %q, status %v; want final %v, error %q, failed", tc.name, final, out.Err, out.Status(), tc.final, tc.text)
		}
	}
	if !errors.Is(SkipRetry(base), base) {
		t.Error("SkipRetry(err) does not match err")
	}
	// A SkipRetry the handler returned when its ctx timed out stands.
	h := func(ctx context.Context, _ *Task) ([]byte, error) { <-ctx.Done(); return nil, SkipRetry(ctx.Err()) }
	if out, final := run(context.Background(), h, "", 10*time.Millisecond); !final || !errors.Is(out.Err, ErrTimeout) {
		t.Errorf("SkipRetry at the timeout: %v, final %v; want the timeout, final", out.Err, final)
	}
}

func TestUnknownKind(t *testing.T) {
	for _, tc := range []struct {
		kinds []string
		want  string
	}{
		{[]string{"echo", "fail", "sleep"}, `unknown task kind "foo"; this worker runs: echo, fail, sleep`},
		{nil, `unknown task kind "foo"; this worker runs: nothing`},
	} {
		if err := unknownKind("foo", tc.kinds); err.Error() != tc.want {
			t.Errorf("unknownKind = %q, want %q", err, tc.want)
		}
	}
}

func TestHandleRefusesMistakes(t *testing.T) {
	w, err := New(Config{ID: "w", ZK: servers("127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	w.Handle("echo", Echo)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"invalid name", func() { w.Handle("Bad Name", Echo) }},
		{"empty name", func() { w.Handle("", Echo) }},
		{"nil handler", func() { w.Handle("ok", nil) }},
		{"twice", func() { w.Handle("echo", Fail) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Handle did not panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func servers(s ...string) zkclient.Config { return zkclient.Config{Servers: s} }

func TestNewChecksConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no id", Config{ZK: servers("x:1")}, "ID is required"},
		{"no connection", Config{ID: "w"}, "needs a Client or ZK.Servers"},
		{"bad root", Config{ID: "w", ZK: servers("x:1"), Root: "paddock"}, "must start with /"},
		{"concurrency", Config{ID: "w", ZK: servers("x:1"), Concurrency: -1}, "Concurrency -1"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	w, err := New(Config{ID: "w", ZK: servers("x:1")})
	if err != nil {
		t.Fatal(err)
	}
	if w.cfg.Concurrency != DefaultConcurrency || w.cfg.DrainTimeout != DefaultDrainTimeout || w.l.Root() != DefaultRoot {
		t.Errorf("defaults: %+v, root %s", w.cfg, w.l.Root())
	}
}

func TestRunsOnce(t *testing.T) {
	w, err := New(Config{ID: "w", ZK: servers("127.0.0.1:1"), Roles: true})
	if err != nil {
		t.Fatal(err)
	}
	// Roles without exec: refused before anything connects.
	if err := w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `Roles needs a handler for kind "exec"`) {
		t.Errorf("Run with Roles and no exec = %v", err)
	}
	if err := w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Handle after Run did not panic")
		}
	}()
	w.Handle("late", Echo)
}

func TestMiddlewareWrapsInOrder(t *testing.T) {
	w, err := New(Config{ID: "w", ZK: servers("x:1"), Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var trace []string
	mark := func(name string) Middleware {
		return func(next HandlerFunc) HandlerFunc {
			return func(ctx context.Context, t *Task) ([]byte, error) {
				trace = append(trace, name+">")
				defer func() { trace = append(trace, "<"+name) }()
				return next(ctx, t)
			}
		}
	}
	w.Use(mark("a"), mark("b"))
	w.Handle("k", func(context.Context, *Task) ([]byte, error) { trace = append(trace, "h"); return nil, nil })
	w.Use(mark("c")) // after Handle: still around it
	handlers, _, err := w.start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handlers["k"](context.Background(), &Task{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(trace, " "), "a> b> c> h <c <b <a"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestRetryDefaults(t *testing.T) {
	var d retryDefaults
	if d.policy("echo") != nil {
		t.Error("a policy before any setting")
	}
	d.set(map[string]string{"retry.echo": "2", "retry.fail": "nonsense", "worker.concurrency": "3"}, zaptest.NewLogger(t))
	if p := d.policy("echo"); p == nil || p.MaxRetries != 2 {
		t.Errorf("echo: %+v, want 2 retries", p)
	}
	if p := d.policy("fail"); p != nil {
		t.Errorf("fail: %+v, want none: its setting is invalid", p)
	}
	d.set(map[string]string{}, zaptest.NewLogger(t))
	if p := d.policy("echo"); p != nil {
		t.Errorf("echo after unset: %+v, want none", p)
	}
}
