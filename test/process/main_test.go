// Package process runs Paddock's four binaries as real processes against a
// real ZooKeeper and checks the seed practical's fault scenarios: workers,
// clients and masters killed (kill -9), stopped gracefully (SIGTERM) or
// frozen (SIGSTOP) while tasks flow; every submitted task must end with
// exactly one result, failover must stay within its bound, and a paused
// master must be fenced.
//
// One ZooKeeper (tickTime 250ms, so the 1.5s session timeouts the processes
// ask for are granted) serves the package; each test works under its own
// --root. The scenarios themselves only need a connect string (see
// internal/proctest): with PADDOCK_PROCTEST_ZK=host:port,... they run
// against that ZooKeeper instead, which must grant 1.5 s sessions
// (tickTime at most 750ms, or minSessionTimeout at most 1500).
package process

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

const tickTime = 250 * time.Millisecond

// ExternalZKEnv names a ZooKeeper connect string to use instead of
// launching one.
const ExternalZKEnv = "PADDOCK_PROCTEST_ZK"

var (
	zkConnect string // what every process is given as --zk
	bins      proctest.Bins
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "paddock-process-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Building and starting the JVM take a few seconds each: overlap them.
	var wg sync.WaitGroup
	var buildErr, zkErr error
	var shared *zktest.Server
	wg.Add(1)
	go func() {
		defer wg.Done()
		bins, buildErr = proctest.BuildIn(filepath.Join(dir, "bin"))
	}()
	if zkConnect = os.Getenv(ExternalZKEnv); zkConnect == "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shared, zkErr = zktest.Launch(filepath.Join(dir, "zk"), 0, zktest.WithTickTime(tickTime))
		}()
	}
	wg.Wait()
	if shared != nil {
		defer shared.Close()
		zkConnect = shared.Addr()
	}
	if zkErr != nil {
		fmt.Fprintln(os.Stderr, zkErr, "\n(install ZooKeeper with scripts/ensure-zookeeper.sh)")
		return 1
	}
	if buildErr != nil {
		fmt.Fprintln(os.Stderr, buildErr)
		return 1
	}
	return m.Run()
}

// newEnv is a deployment for t on the shared ZooKeeper, under its own root.
func newEnv(t *testing.T) *proctest.Env {
	t.Helper()
	return proctest.NewEnv(t, bins, zkConnect)
}
