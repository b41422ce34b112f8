package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
)

// One ZooKeeper serves the tests that talk to one; each works under a
// root of its own. No master runs: the tests check what the commands
// write and read.
var shared *zktest.Server

func TestMain(m *testing.M) { zktest.MainNoLeaks(m, &shared) }

// runZK runs the client against the shared ZooKeeper under root,
// returning stdout apart from stderr.
func runZK(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	return runZKCtx(t, context.Background(), root, args...)
}

// runZKCtx is runZK until ctx ends, as a Ctrl-C would end it.
func runZKCtx(t *testing.T, ctx context.Context, root string, args ...string) (string, error) {
	t.Helper()
	var stderr bytes.Buffer
	out, err := execute(ctx, append(args, "--zk", shared.Addr(), "--root", root), &stderr)
	if err != nil {
		t.Logf("client %s: %v; stderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, err
}

// freshRoot is a root of the test's own, emptied, then initialized with
// 'client init'.
func freshRoot(t *testing.T) string {
	t.Helper()
	root := "/t-cli-" + strings.ReplaceAll(t.Name(), "/", "-")
	c, err := zkclient.Dial(context.Background(), zkclient.Config{Servers: []string{shared.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	zktest.DeleteTree(t, c.Conn(), root) // left by an earlier -count run
	c.Close()
	if out, err := runZK(t, root, "init"); err != nil || out != "initialized "+root+"\n" {
		t.Fatalf("init: %q, %v", out, err)
	}
	return root
}

// Every new submit flag reaches the task record ('inspect -o json' shows
// the record as stored).
func TestSubmitFlagsReachTheRecord(t *testing.T) {
	root := freshRoot(t)
	out, err := runZK(t, root, "submit", "--kind", "echo", "--data", "hi", "--in", "1h", "--timeout", "5s",
		"--retry", "max=3,initial=2s,max-delay=1m", "--routing-timeout", "90s", "--key", "order-17", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var sub struct{ ID paddock.ID }
	if err := json.Unmarshal([]byte(out), &sub); err != nil {
		t.Fatalf("submit -o json: %q: %v", out, err)
	}
	out, err = runZK(t, root, "inspect", string(sub.ID), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var in paddock.Inspection
	if err := json.Unmarshal([]byte(out), &in); err != nil || in.Spec == nil {
		t.Fatalf("inspect -o json: %q: %v", out, err)
	}
	s, key := in.Spec, sha256.Sum256([]byte("order-17"))
	wantRetry := paddock.RetryPolicy{MaxRetries: 3, Initial: 2 * time.Second, Max: time.Minute}
	switch {
	case s.Retry == nil || *s.Retry != wantRetry:
		t.Errorf("retry %+v, want %+v", s.Retry, wantRetry)
	case s.RoutingTimeout() != 90*time.Second || s.Timeout() != 5*time.Second:
		t.Errorf("routing timeout %v, timeout %v", s.RoutingTimeout(), s.Timeout())
	case s.Key != hex.EncodeToString(key[:]):
		t.Errorf("key %q", s.Key)
	case time.Until(s.NotBefore) < 59*time.Minute || time.Until(s.NotBefore) > time.Hour:
		t.Errorf("not before %v: want an hour from now", s.NotBefore)
	}
	// The same key again: the first task's id, nothing written.
	if again, err := runZK(t, root, "submit", "--kind", "echo", "--data", "other", "--key", "order-17"); err != nil || strings.TrimSpace(again) != string(sub.ID) {
		t.Errorf("submit with the key again: %q, %v; want %s", again, err, sub.ID)
	}
	out, err = runZK(t, root, "submit", "--kind", "echo", "--at", "2030-01-02T03:04:05+01:00", "--retries", "2")
	if err != nil {
		t.Fatal(err)
	}
	out, err = runZK(t, root, "inspect", strings.TrimSpace(out), "-o", "json")
	in = paddock.Inspection{}
	if err != nil || json.Unmarshal([]byte(out), &in) != nil || in.Spec == nil ||
		!in.Spec.NotBefore.Equal(time.Date(2030, 1, 2, 2, 4, 5, 0, time.UTC)) || in.Spec.Retry == nil || in.Spec.Retry.MaxRetries != 2 {
		t.Errorf("--at and --retries: %s (%v)", out, err)
	}
}

// 'submit --count' goes through SubmitMany: one id per line, each a task
// that 'ls' lists and 'cancel' and 'result' handle.
func TestSubmitCountListCancelResult(t *testing.T) {
	root := freshRoot(t)
	out, err := runZK(t, root, "submit", "--kind", "echo", "--data", "x", "--count", "1500")
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(out)
	if len(ids) != 1500 {
		t.Fatalf("%d ids printed, want 1500", len(ids))
	}
	out, err = runZK(t, root, "ls", "--limit", "2000", "-o", "json")
	if err != nil || strings.Count(out, "\n") != 1500 || !strings.Contains(out, ids[1499]) {
		t.Fatalf("ls: %d lines, %v", strings.Count(out, "\n"), err)
	}
	if out, err := runZK(t, root, "cancel", ids[0]); err != nil || out != "cancelled "+ids[0]+"\n" {
		t.Fatalf("cancel: %q, %v", out, err)
	}
	_, err = runZK(t, root, "cancel", ids[0])
	if err == nil || !strings.Contains(err.Error(), "already finished: cancelled") {
		t.Fatalf("cancel again: %v", err)
	}
	out, err = runZK(t, root, "result", ids[0], "--collect")
	if exitCode(err) != cli.ExitNotSuccess || !strings.Contains(out, "status:   cancelled") {
		t.Fatalf("result of a cancelled task: exit %d, %q", exitCode(err), out)
	}
	if _, err := runZK(t, root, "result", ids[0]); err == nil || !strings.Contains(err.Error(), "no task "+ids[0]) {
		t.Fatalf("result after --collect: %v", err)
	}
	if _, err := runZK(t, root, "result", ids[1]); err == nil || !strings.Contains(err.Error(), "has not finished") {
		t.Fatalf("result of a pending task: %v", err)
	}
	out, err = runZK(t, root, "status", "-o", "json")
	var st paddock.ClusterStatus
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Pending != 1499 || st.Submitted != 1500 {
		t.Fatalf("status: %s (%v)", out, err)
	}
}

// 'status --watch' reads through the status page's reader and prints
// package paddock's status, throughput included from the second reading.
func TestStatusWatch(t *testing.T) {
	root := freshRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := runZKCtx(t, ctx, root, "status", "--watch", "--interval", "200ms")
	if err != nil || !strings.Contains(out, "  "+root+"\n") || !strings.Contains(out, "throughput:") {
		t.Fatalf("status --watch: %v\n%s", err, out)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err = runZKCtx(t, ctx, root, "status", "--watch", "--interval", "200ms", "-o", "json")
	first, _, _ := strings.Cut(out, "\n")
	var st paddock.ClusterStatus
	if err != nil || json.Unmarshal([]byte(first), &st) != nil || st.Root != root {
		t.Fatalf("status --watch -o json: %v\n%s", err, out)
	}
}
