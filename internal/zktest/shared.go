package zktest

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Main is a TestMain for a package whose tests share one ZooKeeper (each
// under a root of its own): it launches one in a temporary directory, sets
// *srv, runs the tests, stops the server and exits with the tests' code.
func Main(m *testing.M, srv **Server, opts ...Option) {
	os.Exit(runShared(m, srv, opts))
}

func runShared(m interface{ Run() int }, srv **Server, opts []Option) int {
	dir, err := os.MkdirTemp("", "zktest-shared-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	s, err := Launch(dir, 0, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err, "\n(install ZooKeeper with scripts/ensure-zookeeper.sh)")
		return 1
	}
	defer s.Close()
	*srv = s
	return m.Run()
}

// DeleteTree removes p and everything under it, e.g. a root an earlier
// -count run left on a shared server.
func DeleteTree(tb testing.TB, c *zk.Conn, p string) {
	tb.Helper()
	children, _, err := c.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return
	}
	if err != nil {
		tb.Fatal(err)
	}
	for _, ch := range children {
		DeleteTree(tb, c, p+"/"+ch)
	}
	if err := c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		tb.Fatal(err)
	}
}

// Eventually waits for cond, checking it every 10ms, and fails tb if it
// does not hold within the deadline.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
