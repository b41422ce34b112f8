package task

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxSleep bounds a sleep task; anything longer is far more likely a unit
// mistake (milliseconds for seconds) than a wish.
const maxSleep = 24 * time.Hour

// sleepKind waits for the number of seconds in its payload. It exists to
// exercise scheduling, timeouts and cancellation without side effects.
type sleepKind struct{}

func (sleepKind) Run(ctx context.Context, payload []byte) Outcome {
	d, err := sleepDuration(payload)
	if err != nil {
		return Outcome{Err: err}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return Outcome{Output: "0"} // what the seed's utils.task returns
	case <-ctx.Done():
		return Outcome{Err: ctx.Err()}
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
		return 0, fmt.Errorf("sleep: payload must be a number of seconds, got %s", quotePayload(payload))
	}
	// Written so that NaN fails too.
	if !(secs >= 0 && secs <= maxSleep.Seconds()) {
		return 0, fmt.Errorf("sleep: payload must be a number of seconds from 0 to %g (%v), got %s",
			maxSleep.Seconds(), maxSleep, quotePayload(payload))
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// echoKind returns its payload as text.
type echoKind struct{}

func (echoKind) Run(_ context.Context, payload []byte) Outcome {
	return Outcome{Output: Printable(payload, OutputCap)}
}

// failKind always fails, so that clients and operators can see the failure
// and retry paths on demand.
type failKind struct{}

func (failKind) Run(_ context.Context, payload []byte) Outcome {
	const msg = `failed on purpose (kind "fail")`
	if len(payload) == 0 {
		return Outcome{Err: errors.New(msg)}
	}
	return Outcome{Err: fmt.Errorf("%s: %s", msg, Printable(payload, OutputCap))}
}

// execWaitDelay is how long Wait keeps reading the pipes after the process
// exited or was killed. Descendants that left the process group can hold
// them open forever; past this delay they are closed and output is lost.
const execWaitDelay = 2 * time.Second

// execKind runs a command, argv given as a JSON array of strings.
type execKind struct {
	waitDelay time.Duration // 0 means execWaitDelay; tests set it
	// wrap, when set, rewrites argv before it runs: the worker binary puts
	// a guard in front that kills the command's process group when the
	// worker dies (kill -9 leaves the worker no chance to do it).
	wrap func(argv []string) []string
}

// Exec is the exec kind with argv passed through wrap before it runs.
func Exec(wrap func(argv []string) []string) Kind { return execKind{wrap: wrap} }

// ParseArgv decodes a command line: an exec task's payload, a role's data.
// It must be a JSON array of strings whose first element, the command, is
// not empty; anything else is an error (wrapping ErrMalformed) that says
// what was expected and shows what was given.
func ParseArgv(payload []byte) ([]string, error) {
	var argv []string
	if err := json.Unmarshal(payload, &argv); err != nil || len(argv) == 0 || argv[0] == "" {
		return nil, argvError{got: quotePayload(payload)}
	}
	return argv, nil
}

// argvError reads as the sentence after "payload" or "--data".
type argvError struct{ got string }

func (e argvError) Error() string {
	return `must be a JSON array of strings, the command and its arguments, e.g. ["sh","-c","echo hi"]; got ` + e.got
}

func (argvError) Unwrap() error { return ErrMalformed }

func (k execKind) Run(ctx context.Context, payload []byte) Outcome {
	argv, err := ParseArgv(payload)
	if err != nil {
		return Outcome{Err: fmt.Errorf("exec: payload %w", err)}
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
		return Outcome{Err: err} // already names the command, e.g. `exec: "x": executable file not found in $PATH`
	}
	err = cmd.Wait()
	// Whatever the leader left running in the background goes too: a task's
	// processes must not outlive it and pile up on the worker.
	killGroup(cmd.Process.Pid)

	code := cmd.ProcessState.ExitCode()
	out := Outcome{Output: stdout.String(), Stderr: stderr.String(), ExitCode: &code}
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		// The command succeeded; only a descendant kept the pipes open.
	default:
		out.Err = err // "exit status 3", "signal: killed"
	}
	return out
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
	if room := OutputCap + 1 - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *capWriter) String() string { return Printable(w.buf, OutputCap) }

// quotePayload quotes the start of a payload for an error message.
func quotePayload(p []byte) string {
	const max = 64
	if len(p) > max {
		return strconv.Quote(string(p[:max])) + "..."
	}
	return strconv.Quote(string(p))
}
