package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/cli"
)

// run executes the client with args, pointed at a port where nothing
// listens: validation errors come before any connection, so these tests
// need no ZooKeeper.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := execute(context.Background(), append(args, "--zk", "127.0.0.1:1", "--connect-timeout", "200ms"), nil)
	return out, err
}

// execute runs the client as Main would, with args, stdout and stderr
// going to one buffer unless stderr is given; ctx is the signal's.
func execute(ctx context.Context, args []string, stderr io.Writer) (string, error) {
	root := newRootCommand()
	cli.Prepare(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	if stderr != nil {
		root.SetErr(stderr)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func exitCode(err error) int {
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if err != nil {
		return cli.ExitFailure
	}
	return 0
}

func TestUsageErrorsBeforeConnecting(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, make([]byte, 600<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"submit", "--kind", "Not A Kind"}, cli.ExitUsage, "not a kind name"},
		{[]string{"submit", "--max-attempts", "0"}, cli.ExitUsage, "--max-attempts"},
		{[]string{"submit", "--timeout", "-1s"}, cli.ExitUsage, "--timeout"},
		{[]string{"submit", "--data-file", big}, cli.ExitFailure, "nothing was submitted"},
		{[]string{"submit", "--at", "tomorrow"}, cli.ExitUsage, "RFC 3339"},
		{[]string{"submit", "--in", "-1s"}, cli.ExitUsage, "--in"},
		{[]string{"submit", "--in", "1s", "--at", "2026-11-27T18:00:00Z"}, cli.ExitUsage, "[at in]"},
		{[]string{"submit", "--key", "k", "--count", "2"}, cli.ExitUsage, "--key"},
		{[]string{"submit", "--retries", "1001"}, cli.ExitUsage, "--retries 1001"},
		{[]string{"submit", "--retries", "-1"}, cli.ExitUsage, "--retries -1"},
		{[]string{"submit", "--retry", "max=1,jitter=2"}, cli.ExitUsage, "jitter 2 out of"},
		{[]string{"submit", "--retry", "initial=1s"}, cli.ExitUsage, "max"},
		{[]string{"config", "set", "retry.email", "often"}, cli.ExitUsage, "want a number of retries"},
		{[]string{"config", "set", "retry.Email", "3"}, cli.ExitUsage, "not a task kind"},
		{[]string{"submit", "--retry", "max=1", "--retries", "1"}, cli.ExitUsage, "[retries retry]"},
		{[]string{"submit", "--routing-timeout", "-1s"}, cli.ExitUsage, "--routing-timeout"},
		{[]string{"run", "--retry", "max=x"}, cli.ExitUsage, "--retry"},
		{[]string{"result", "nope"}, cli.ExitUsage, "not a task id"},
		{[]string{"cancel", "1a1fdd9a6470b11fcf6Z"}, cli.ExitUsage, "hex"},
		{[]string{"run", "--tasks", "0"}, cli.ExitUsage, "at least 1"},
		{[]string{"status", "--log-format", "xml"}, cli.ExitUsage, "--log-format"},
		{[]string{"status", "--watch", "--interval", "0s"}, cli.ExitUsage, "--interval"},
		{[]string{"dashboard", "--http-addr", "8080"}, cli.ExitUsage, "--http-addr"},
		{[]string{"dashboard", "--interval", "-1s"}, cli.ExitUsage, "--interval"},
	} {
		_, err := run(t, tc.args...)
		if exitCode(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d (%v), want %d mentioning %q", tc.args, exitCode(err), err, tc.code, tc.want)
		}
	}
}

func TestMutuallyExclusivePayloadFlags(t *testing.T) {
	_, err := run(t, "submit", "--data", "x", "--data-file", "y")
	if err == nil || !strings.Contains(err.Error(), "data") {
		t.Fatalf("got %v", err)
	}
}

func TestUnreachableZooKeeperFailsFast(t *testing.T) {
	start := time.Now()
	_, err := run(t, "status")
	if exitCode(err) != cli.ExitFailure || !strings.Contains(err.Error(), "cannot reach ZooKeeper") {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %v with a 200ms connect timeout", took)
	}
}

func TestHelpExplainsEveryCommand(t *testing.T) {
	for _, cmd := range []string{"init", "submit", "result", "cancel", "status", "run", "dashboard"} {
		out, err := run(t, cmd, "--help")
		if err != nil || !strings.Contains(out, "Usage:") || len(out) < 300 {
			t.Errorf("%s --help: %v\n%s", cmd, err, out)
		}
	}
}

func TestPercentileAndRounding(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if percentile(d, 0.5) != 5 || percentile(d, 0.99) != 10 || percentile(nil, 0.5) != 0 {
		t.Fatal("percentile")
	}
	for in, want := range map[time.Duration]string{
		412345 * time.Nanosecond: "412µs", 1534 * time.Microsecond: "1.53ms", 2012 * time.Millisecond: "2.01s",
	} {
		if got := roundDuration(in).String(); got != want {
			t.Errorf("roundDuration(%v) = %s, want %s", in, got, want)
		}
	}
}

func TestMistypedSubcommandsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stauts"}, "status"},
		{[]string{"role", "lst"}, "list"},
		{[]string{"config", "bogus"}, `unknown command "bogus"`},
		{[]string{"status", "extra"}, "unknown command"},
		{[]string{"status", "-o", "yaml"}, "want table or json"},
	} {
		_, err := run(t, tc.args...)
		if exitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d (%v), want %d mentioning %q", tc.args, exitCode(err), err, cli.ExitUsage, tc.want)
		}
	}
}

func TestPageURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:80":     "http://127.0.0.1:80/",
		"[::]:8080":      "http://127.0.0.1:8080/",
		"[::1]:8080":     "http://[::1]:8080/",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := pageURL(a); got != want {
			t.Errorf("pageURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

// The submit flags of scheduling, retries, routing and keys, used right,
// get as far as connecting.
func TestNewSubmitFlagsAreAccepted(t *testing.T) {
	for _, args := range [][]string{
		{"submit", "--in", "1m", "--retry", "max=2,initial=1s", "--key", "k", "--routing-timeout", "1m"},
		{"submit", "--at", "2026-11-27T18:00:00+01:00", "--retries", "3", "--count", "2"},
		{"run", "--retries", "1", "--routing-timeout", "5s"},
	} {
		if _, err := run(t, args...); exitCode(err) != cli.ExitFailure || !strings.Contains(err.Error(), "cannot reach ZooKeeper") {
			t.Errorf("%v: %v, want a connection failure", args, err)
		}
	}
}

// --key, --at and --in belong to one submission: the environment does not
// set them.
func TestPerSubmissionFlagsIgnoreTheEnvironment(t *testing.T) {
	t.Setenv("PADDOCK_KEY", "k")
	t.Setenv("PADDOCK_IN", "-1s")              // would be a usage error if it applied
	_, err := run(t, "submit", "--count", "2") // with a key: a usage error
	if exitCode(err) != cli.ExitFailure || !strings.Contains(err.Error(), "cannot reach ZooKeeper") {
		t.Fatalf("%v, want a connection failure", err)
	}
}
