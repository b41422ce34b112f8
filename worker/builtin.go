package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
)

// HandleBuiltins registers the built-in kinds sleep, echo and fail, as
// the stock worker (cmd/worker) does, so that a program embedding a worker
// runs what clients expect of any Paddock worker. Exec is left out: it
// runs whatever command a task names, so registering it is a decision of
// its own (cmd/worker's --allow-exec).
func (w *Worker) HandleBuiltins() {
	w.Handle("sleep", Sleep)
	w.Handle("echo", Echo)
	w.Handle("fail", Fail)
}

// maxSleep bounds a sleep task; anything longer is far more likely a unit
// mistake (milliseconds for seconds) than a wish.
const maxSleep = 24 * time.Hour

// Sleep is the built-in kind "sleep": it waits for the number of seconds
// in its payload (0 to 86400; empty is 0) and returns "0", what the seed's
// utils.task returns. It exists to exercise scheduling, timeouts and
// cancellation without side effects. A payload that is not such a number
// fails the task without retries.
func Sleep(ctx context.Context, t *Task) ([]byte, error) {
	d, err := sleepDuration(t.Payload)
	if err != nil {
		return nil, SkipRetry(err)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return []byte("0"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func sleepDuration(payload []byte) (time.Duration, error) {
	s := strings.TrimSpace(string(payload))
	if s == "" {
		return 0, nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	// An out-of-range number is still a number: the range check below
	// words that case better.
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("sleep: payload must be a number of seconds, got %s", task.QuotePayload(payload))
	}
	// Written so that NaN fails too.
	if !(secs >= 0 && secs <= maxSleep.Seconds()) {
		return 0, fmt.Errorf("sleep: payload must be a number of seconds from 0 to %g (%v), got %s",
			maxSleep.Seconds(), maxSleep, task.QuotePayload(payload))
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// Echo is the built-in kind "echo": its output is its payload (shown as
// text, as every output is: see HandlerFunc).
func Echo(_ context.Context, t *Task) ([]byte, error) { return t.Payload, nil }

// Fail is the built-in kind "fail": it always fails, with its payload in
// the error, so that clients and operators can see the failure and retry
// paths on demand. Its failures are retried like any other.
func Fail(_ context.Context, t *Task) ([]byte, error) {
	const msg = `failed on purpose (kind "fail")`
	if len(t.Payload) == 0 {
		return nil, errors.New(msg)
	}
	return nil, fmt.Errorf("%s: %s", msg, task.Printable(t.Payload, task.OutputCap))
}

// execWaitDelay is how long Wait keeps reading the pipes after the process
// exited or was killed. Descendants that left the process group can hold
// them open forever; past this delay they are closed and output is lost.
const execWaitDelay = 2 * time.Second

// Exec is the built-in kind "exec": its payload is a command line, a JSON
// array of strings (["sh","-c","echo hi"]), which it runs as the worker's
// user, so whoever can submit tasks can run anything there: register it
// only where that is intended (cmd/worker does with --allow-exec). The
// output is the command's stdout, the result's stderr and exit_code its
// stderr and exit status (-1 when a signal ended it), each kept up to
// 64 KiB; a non-zero exit fails the task. The command runs in a process
// group of its own, all of which is killed when it exits (nothing it
// started in the background outlives it) and when ctx ends (the task was
// cancelled, timed out, withdrawn, or the worker shut down).
//
// wrap, when not nil, rewrites the argv before it runs: cmd/worker puts its
// guard in front, which kills the group should the worker itself die
// (kill -9 leaves the worker no chance to). A payload that is not a
// command line fails the task without retries.
func Exec(wrap func(argv []string) []string) HandlerFunc {
	return execKind{wrap: wrap}.handle
}

// execKind runs a command, argv given as a JSON array of strings.
type execKind struct {
	waitDelay time.Duration // 0 means execWaitDelay; tests set it
	wrap      func(argv []string) []string
}

func (k execKind) handle(ctx context.Context, t *Task) ([]byte, error) {
	argv, err := task.ParseArgv(t.Payload)
	if err != nil {
		return nil, SkipRetry(fmt.Errorf("exec: payload %w", err))
	}
	if k.wrap != nil {
		argv = k.wrap(argv)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Its own process group lets one signal reach everything the command
	// started; killing only the leader would leave a shell's children
	// running, and holding the pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = cmp.Or(k.waitDelay, execWaitDelay)
	var stdout, stderr capWriter
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, err // already names the command, e.g. `exec: "x": executable file not found in $PATH`
	}
	err = cmd.Wait()
	// Whatever the leader left running in the background goes too: a task's
	// processes must not outlive it and pile up on the worker.
	_ = killGroup(cmd.Process.Pid)

	code := cmd.ProcessState.ExitCode()
	t.exitCode, t.stderr = &code, stderr.String()
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		// The command succeeded; only a descendant kept the pipes open.
		err = nil
	}
	// The bytes as captured: the worker shows them as text, as it does
	// every handler's output, with the same cap.
	return stdout.buf, err // "exit status 3", "signal: killed"
}

// killGroup sends SIGKILL to the process group led by pid. A group already
// gone counts as done, which Cmd.Cancel expects as os.ErrProcessDone.
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}

// capWriter keeps the first OutputCap bytes written to it, plus one so that
// Printable can tell the output was cut, and discards the rest while still
// accepting it: a child blocked on a full pipe would never finish.
type capWriter struct{ buf []byte }

func (w *capWriter) Write(p []byte) (int, error) {
	if room := task.OutputCap + 1 - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *capWriter) String() string { return task.Printable(w.buf, task.OutputCap) }
