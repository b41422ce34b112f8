// Package library_test is a module of its own that imports Paddock's
// public packages, zkclient and recipe, as any other program would: it
// shows that they build outside the repository's module (nothing in them
// reaches into internal/) and that a lock and an election work from there.
// It starts its own ZooKeeper from the Debian jar (internal/zktest is not
// importable from here), like scripts/ensure-zookeeper.sh installs it.
package library_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// startZooKeeper runs a standalone server in a temporary directory until
// the test ends and returns its address.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	jar := os.Getenv("PADDOCK_ZK_JAR")
	if jar == "" {
		jar = "/usr/share/java/zookeeper.jar"
	}
	if _, err := os.Stat(jar); err != nil {
		t.Fatalf("no ZooKeeper jar at %s (run scripts/ensure-zookeeper.sh): %v", jar, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=250\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
		filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close() // the child has its own descriptor
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", jar, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ZooKeeper: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// dial connects, giving a starting server up to 30 s.
func dial(t *testing.T, addr string) *zkclient.Client {
	t.Helper()
	c, err := zkclient.Dial(context.Background(), zkclient.Config{
		Servers: []string{addr}, SessionTimeout: 2 * time.Second, ConnectTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestLockAndElectionFromAnotherModule(t *testing.T) {
	addr := startZooKeeper(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := dial(t, addr), dial(t, addr)

	// A lock: b waits while a holds it, and gets it once a unlocks.
	la, lb := recipe.NewMutex(a, "/library/lock"), recipe.NewMutex(b, "/library/lock")
	if err := la.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- lb.Lock(ctx) }()
	select {
	case err := <-got:
		t.Fatalf("b locked a held lock: %v", err)
	case <-time.After(300 * time.Millisecond): // b is waiting, as it should
	}
	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := lb.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	// An election: a leads; when its client closes (its session ends), b
	// leads.
	sa, err := a.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := recipe.NewLeaderQueue(a, "/library/election").Join(ctx, sa, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := recipe.NewLeaderQueue(b, "/library/election").Join(ctx, sb, []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Lead(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if pos, err := cb.Position(ctx); err != nil || pos != 1 {
		t.Fatalf("b at position %d (%v), want 1", pos, err)
	}
	a.Close()
	if err := cb.Lead(ctx, nil); err != nil {
		t.Fatalf("b did not lead after a left: %v", err)
	}
}
