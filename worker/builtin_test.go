package worker

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
)

func TestSleep(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    time.Duration
		err     string
	}{
		{"", 0, ""},
		{"0", 0, ""},
		{"0.5", 500 * time.Millisecond, ""},
		{" 2\n", 2 * time.Second, ""},
		{"1e-3", time.Millisecond, ""},
		{"86400", 24 * time.Hour, ""},
		{"abc", 0, `sleep: payload must be a number of seconds, got "abc"`},
		{"5s", 0, `sleep: payload must be a number of seconds, got "5s"`},
		{"-1", 0, `sleep: payload must be a number of seconds from 0 to 86400 (24h0m0s), got "-1"`},
		{"86401", 0, `sleep: payload must be a number of seconds from 0 to 86400 (24h0m0s), got "86401"`},
		{"1e400", 0, `sleep: payload must be a number of seconds from 0 to 86400 (24h0m0s), got "1e400"`},
		{"NaN", 0, `sleep: payload must be a number of seconds from 0 to 86400 (24h0m0s), got "NaN"`},
		{"-Inf", 0, `sleep: payload must be a number of seconds from 0 to 86400 (24h0m0s), got "-Inf"`},
		{strings.Repeat("x", 100), 0, `sleep: payload must be a number of seconds, got "` + strings.Repeat("x", 64) + `"...`},
	} {
		d, err := sleepDuration([]byte(tc.payload))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("sleepDuration(%q) error = %v, want %q", tc.payload, err, tc.err)
			}
			continue
		}
		if err != nil || d != tc.want {
			t.Errorf("sleepDuration(%q) = %v, %v; want %v", tc.payload, d, err, tc.want)
		}
	}
}

func TestSleepRun(t *testing.T) {
	if out, _ := run(context.Background(), Sleep, "0.01", 0); out.Err != nil || out.Output != "0" {
		t.Errorf("sleep 0.01 = %+v, want output 0", out)
	}
	if out, final := run(context.Background(), Sleep, "abc", 0); out.Status() != task.Failed || !final {
		t.Errorf("sleep abc = %+v (final %v), want failed, final: retrying cannot fix the payload", out, final)
	}
	start := time.Now()
	out, _ := run(context.Background(), Sleep, "30", 50*time.Millisecond)
	if !errors.Is(out.Err, ErrTimeout) || time.Since(start) > 5*time.Second {
		t.Errorf("sleep 30 with a 50ms timeout = %+v after %v, want a prompt timeout", out, time.Since(start))
	}
}

func TestEcho(t *testing.T) {
	for _, tc := range []struct{ payload, want string }{
		{"", ""},
		{"hello, world\n", "hello, world\n"},
		{"caf\xc3\xa9 \xff", "café \uFFFD"},
		{strings.Repeat("a", task.OutputCap+10), strings.Repeat("a", task.OutputCap) + "\n[truncated to 65536 bytes]"},
	} {
		out, _ := run(context.Background(), Echo, tc.payload, 0)
		if out.Err != nil || out.Output != tc.want || out.ExitCode != nil {
			t.Errorf("echo %.20q = %+v, want output %.20q", tc.payload, out, tc.want)
		}
	}
}

func TestFail(t *testing.T) {
	for _, tc := range []struct{ payload, want string }{
		{"", `failed on purpose (kind "fail")`},
		{"boom", `failed on purpose (kind "fail"): boom`},
		{"\xff", `failed on purpose (kind "fail"): ` + "\uFFFD"},
	} {
		out, final := run(context.Background(), Fail, tc.payload, 0)
		if out.Err == nil || out.Err.Error() != tc.want || out.Status() != task.Failed || final {
			t.Errorf("fail %q = %+v, want error %q", tc.payload, out, tc.want)
		}
	}
}

func needShell(t *testing.T) {
	t.Helper()
	for _, cmd := range []string{"sh", "sleep", "head", "tr"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("exec tests need %s: %v", cmd, err)
		}
	}
}

func runExec(ctx context.Context, argv string, timeout time.Duration) task.Outcome {
	out, _ := run(ctx, Exec(nil), argv, timeout)
	return out
}

func TestExec(t *testing.T) {
	needShell(t)
	for _, tc := range []struct {
		name           string
		argv           string
		output, stderr string
		code           int
		err            string
	}{
		{"echo", `["sh","-c","echo hi"]`, "hi\n", "", 0, ""},
		{"argv kept apart", `["printf","%s|","a b","c"]`, "a b|c|", "", 0, ""},
		{"stderr", `["sh","-c","echo out; echo err >&2"]`, "out\n", "err\n", 0, ""},
		{"exit code", `["sh","-c","echo partial; exit 3"]`, "partial\n", "", 3, "exit status 3"},
		{"invalid UTF-8", `["printf","\\377ok"]`, "\uFFFDok", "", 0, ""},
		{"killed by a signal", `["sh","-c","kill -TERM $$"]`, "", "", -1, "signal: terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := runExec(context.Background(), tc.argv, 0)
			if out.Output != tc.output || out.Stderr != tc.stderr {
				t.Errorf("output %q, stderr %q; want %q, %q", out.Output, out.Stderr, tc.output, tc.stderr)
			}
			if out.ExitCode == nil || *out.ExitCode != tc.code {
				t.Errorf("exit code %v, want %d", out.ExitCode, tc.code)
			}
			if got := errString(out.Err); got != tc.err {
				t.Errorf("error %q, want %q", got, tc.err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestExecBadPayload(t *testing.T) {
	for _, payload := range []string{"", "echo hi", `"sh"`, "[]", `[""]`, "null", `[1,2]`, `{"argv":["sh"]}`, `["sh",3]`} {
		out, final := run(context.Background(), Exec(nil), payload, 0)
		if out.Err == nil || !strings.Contains(out.Err.Error(), `exec: payload must be a JSON array of strings`) ||
			!strings.Contains(out.Err.Error(), strconv.Quote(payload)) || out.ExitCode != nil || !final {
			t.Errorf("exec %q = %+v (final %v), want a final error naming the expected form and the payload", payload, out, final)
		}
	}
}

func TestExecNotFound(t *testing.T) {
	out := runExec(context.Background(), `["paddock-no-such-command"]`, 0)
	if out.Err == nil || !strings.Contains(out.Err.Error(), `"paddock-no-such-command": executable file not found`) {
		t.Errorf("error = %v, want executable file not found", out.Err)
	}
	if out.ExitCode != nil {
		t.Errorf("exit code %d for a command that never ran", *out.ExitCode)
	}
	out = runExec(context.Background(), `["/nonexistent/cmd"]`, 0)
	if out.Err == nil || !strings.Contains(out.Err.Error(), "/nonexistent/cmd") {
		t.Errorf("error = %v, want one naming /nonexistent/cmd", out.Err)
	}
}

func TestExecOutputCap(t *testing.T) {
	needShell(t)
	out := runExec(context.Background(), `["sh","-c","head -c 200000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero | tr '\\0' b >&2"]`, 0)
	if out.Err != nil {
		t.Fatalf("error %v", out.Err)
	}
	for _, s := range []struct{ name, got, char string }{{"output", out.Output, "a"}, {"stderr", out.Stderr, "b"}} {
		want := strings.Repeat(s.char, task.OutputCap) + "\n[truncated to 65536 bytes]"
		if s.got != want {
			t.Errorf("%s: %d bytes ending %q, want %d ending %q", s.name, len(s.got), s.got[max(0, len(s.got)-30):], len(want), want[len(want)-30:])
		}
	}
}

func TestExecTimeout(t *testing.T) {
	needShell(t)
	start := time.Now()
	out := runExec(context.Background(), `["sleep","30"]`, 200*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("sleep 30 with a 200ms timeout took %v", elapsed)
	}
	if !errors.Is(out.Err, ErrTimeout) || out.Err.Error() != "timed out after 200ms" {
		t.Errorf("error = %v, want %q", out.Err, "timed out after 200ms")
	}
	if out.ExitCode == nil || *out.ExitCode != -1 {
		t.Errorf("exit code %v, want -1 for a killed process", out.ExitCode)
	}
}

func TestExecTimeoutKillsGrandchild(t *testing.T) {
	needShell(t)
	// With a WaitDelay this long, only killing the whole group ends the
	// run in time: the grandchild holds the pipes.
	slow := execKind{waitDelay: time.Minute}.handle
	start := time.Now()
	// The shell prints its background child's pid, then waits for it.
	out, _ := run(context.Background(), slow, `["sh","-c","sleep 30 & echo $!; wait"]`, 500*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v, want the timeout to end it promptly", elapsed)
	}
	if !errors.Is(out.Err, ErrTimeout) {
		t.Errorf("error = %v, want ErrTimeout", out.Err)
	}
	assertGone(t, out.Output)
}

func TestExecLeavesNothingBehind(t *testing.T) {
	needShell(t)
	for _, tc := range []struct{ name, argv string }{
		{"detached", `["sh","-c","sleep 30 >/dev/null 2>&1 & echo $!"]`},
		// The background sleep holds stdout after the shell exits, which
		// would block Wait without a WaitDelay.
		{"holding the pipes", `["sh","-c","sleep 30 & echo $!"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			out := runExec(context.Background(), tc.argv, 0)
			if elapsed := time.Since(start); elapsed > execWaitDelay+5*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if out.Err != nil || out.ExitCode == nil || *out.ExitCode != 0 {
				t.Errorf("outcome %+v, want success: the command itself exited 0", out)
			}
			assertGone(t, out.Output)
		})
	}
}

func TestExecCancel(t *testing.T) {
	needShell(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	// Whether this fires before or after the process starts, the outcome
	// must be the same.
	time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("cancelled by client")) })
	start := time.Now()
	out := runExec(ctx, `["sh","-c","sleep 30 & wait"]`, time.Hour)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v, want cancellation to end it promptly", elapsed)
	}
	if !errors.Is(out.Err, task.ErrCancelled) || out.Status() != task.Cancelled || errors.Is(out.Err, ErrTimeout) {
		t.Errorf("error = %v (status %v), want ErrCancelled", out.Err, out.Status())
	}
}

// assertGone checks that the process whose pid the task printed has exited.
// SIGKILL is delivered asynchronously and the orphan is reaped by init, so
// this polls, with a generous bound.
func assertGone(t *testing.T, output string) {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(output))
	if err != nil {
		t.Fatalf("the task did not print a pid: %q", output)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // gone
		}
		// The state follows the parenthesised command name; Z is a
		// zombie, dead but not yet reaped.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background process %d still running: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
