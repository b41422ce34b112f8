// Package wordcount runs the example end to end, as make test does: a real
// ZooKeeper, a master, the example's worker and submitter as the programs a
// user builds.
package wordcount

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
)

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func TestWordcountEndToEnd(t *testing.T) {
	srv := zktest.Start(t)
	dir := t.TempDir()
	workerBin, submitBin := build(t, dir, "./worker"), build(t, dir, "./submit")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: []string{srv.Addr()}, SessionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := coord.MustLayout("/wordcount")
	if err := coord.EnsureLayout(ctx, c, l); err != nil {
		t.Fatal(err)
	}
	mctx, stopMaster := context.WithCancel(ctx)
	mdone := make(chan error, 1)
	go func() { mdone <- master.Run(mctx, c, l, master.Config{ID: "m1"}) }()
	defer func() { stopMaster(); <-mdone }()

	w := exec.CommandContext(ctx, workerBin, "--zk", srv.Addr(), "--root", "/wordcount", "--id", "wc-1")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Process.Kill(); _ = w.Wait() }()

	out, err := exec.CommandContext(ctx, submitBin, "--zk", srv.Addr(), "--root", "/wordcount", "-text",
		"the cat and the hat", "one two three four five", "Zoë zoë").CombinedOutput()
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	for _, want := range []string{"the cat and the hat: 5 words, 4 distinct", "Zoë zoë: 2 words, 1 distinct", "total: 12 words in 3 tasks"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("submit printed %q, want a line %q", out, want)
		}
	}
}
