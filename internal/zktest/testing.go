package zktest

import (
	"errors"
	"testing"
	"time"
)

// Start launches a standalone ZooKeeper server for a test or benchmark (see
// [Launch]) in a fresh temporary directory on a free port, waits until it
// serves requests, and registers a cleanup that stops it (also after a
// panic) and removes its directory. If the test failed, the cleanup logs
// the last 50 lines of the server's log. When ZooKeeper is not installed,
// or the server does not come up, Start fails tb with a message saying why
// (and naming scripts/ensure-zookeeper.sh).
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	dir := tb.TempDir() // removed after the cleanup below has stopped the JVM
	s, err := Launch(dir, 0, opts...)
	if err != nil {
		fatalLaunch(tb, err)
	}
	tb.Cleanup(func() { cleanupServer(tb, s) })
	return s
}

// Restart stops the server if it is running (SIGTERM) and starts it again
// on the same port with the same data directory, failing tb unless it
// serves requests within the start timeout. See [Server.Relaunch].
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.Relaunch(); err != nil {
		tb.Fatalf("zktest: restarting ZooKeeper: %v", err)
	}
}

// WaitSessionGone polls the server (every 25ms, for at most 30s) until it
// no longer tracks session id, i.e. until it has expired (or closed) it,
// and fails tb otherwise. In an ensemble, ask the leader: it decides
// expiry (followers learn of it slightly later; see [Server.Sessions]).
//
// This is the synchronisation point for session-expiry tests: partition the
// client with [Proxy.Blackhole], call WaitSessionGone with the client's
// session id, then [Proxy.Restore]; the client's next request to the
// server is answered with "session expired" (see [Proxy] for timings).
// The server expires a session between sessionTimeout and
// sessionTimeout+tickTime after it last heard from the client.
func (s *Server) WaitSessionGone(tb testing.TB, id int64) {
	tb.Helper()
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		has, err := s.HasSession(id)
		if err == nil && !has {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("zktest: session 0x%x still present on %s after %v (last error: %v)", id, s.Addr(), timeout, err)
		}
		time.Sleep(pollInterval)
	}
}

func fatalLaunch(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNotInstalled) {
		tb.Fatalf("%v\nInstall ZooKeeper with scripts/ensure-zookeeper.sh (Debian/Ubuntu package \"zookeeper\"), "+
			"or point PADDOCK_ZK_JAR at a ZooKeeper jar and JAVA at a java binary.", err)
	}
	tb.Fatal(err)
}

func cleanupServer(tb testing.TB, s *Server) {
	if err := s.Close(); err != nil {
		tb.Errorf("zktest: %v", err)
	}
	if tb.Failed() {
		tb.Logf("zktest: last %d lines of %s (ZooKeeper on %s):\n%s", logTailLines, s.logPath, s.Addr(), s.LogTail(logTailLines))
	}
}
