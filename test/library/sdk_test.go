package library_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
)

// startMaster builds the checkout's master binary and runs it against addr
// until the test ends: the SDK's programs are a client and workers; the
// master is a daemon one deploys, not a library one embeds.
func startMaster(t *testing.T, addr, root string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "master")
	if out, err := exec.Command("go", "build", "-C", "../..", "-o", bin, "./cmd/master").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/master: %v\n%s", err, out)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--zk", addr, "--root", root, "--id", "m1", "--session-timeout", "2s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("master:\n%s", logs.String())
		}
	})
}

// TestHandlerAndClientFromAnotherModule is what issue 10 asks of the SDK:
// a program outside this repository registers its own handler with the
// public worker package, submits tasks with the public client package, and
// gets their results.
func TestHandlerAndClientFromAnotherModule(t *testing.T) {
	addr := startZooKeeper(t)
	const root = "/sdk"
	startMaster(t, addr, root)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	w, err := worker.New(worker.Config{
		ZK:   zkclient.Config{Servers: []string{addr}, SessionTimeout: 2 * time.Second, ConnectTimeout: 30 * time.Second},
		Root: root, ID: "shouter", Concurrency: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Handle("shout", func(ctx context.Context, task *worker.Task) ([]byte, error) {
		return []byte(strings.ToUpper(string(task.Payload)) + "!"), nil
	})
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() {
		stopWorker()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()

	c, err := paddock.Dial(ctx, paddock.Config{Servers: []string{addr}, Root: root, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The daemons create the tree as they start; a client that may be first
	// creates it itself (idempotent).
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := c.SubmitMany(ctx, []paddock.Task{
		{Kind: "shout", Payload: []byte("hello")},
		{Kind: "shout", Payload: []byte("paddock")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"HELLO!", "PADDOCK!"} {
		r, err := c.Wait(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != paddock.Succeeded || r.Output != want {
			t.Fatalf("task %s: %s %q, want succeeded %q", ids[i], r.Status, r.Output, want)
		}
		if err := c.Collect(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}
