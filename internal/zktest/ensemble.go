package zktest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Ensemble is a ZooKeeper ensemble of n servers on 127.0.0.1, each its own
// JVM with its own client, peer and election ports. Servers[i] has myid
// i+1.
type Ensemble struct {
	Servers []*Server
}

// ErrNoLeader is returned by [Ensemble.Leader] when no running server
// reports itself as leader.
var ErrNoLeader = errors.New("zktest: no ZooKeeper server is leader")

// LaunchEnsemble starts an n-server ensemble whose servers live in
// dir/node1 ... dir/nodeN and waits until every server reports a Mode
// (leader or follower), i.e. a leader has been elected and every follower
// has synced with it. It does not use the testing package; the caller
// must call [Ensemble.Close].
func LaunchEnsemble(dir string, n int, opts ...Option) (*Ensemble, error) {
	if n < 1 {
		return nil, fmt.Errorf("zktest: ensemble size %d", n)
	}
	o := buildOptions(opts)
	java, cp, err := findZooKeeper()
	if err != nil {
		return nil, err
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		e, err := launchEnsemble(dir, n, o, java, cp)
		if err == nil {
			return e, nil
		}
		portTaken := false
		if e != nil {
			for _, s := range e.Servers {
				portTaken = portTaken || s.portInUse()
			}
			e.Close()
		}
		if !portTaken || attempt == attempts {
			return nil, err
		}
		// Another process took one of the chosen ports: start over with
		// fresh directories and ports.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("zktest: %w", err)
		}
	}
}

func launchEnsemble(dir string, n int, o options, java, cp string) (*Ensemble, error) {
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	// ports[3i] client, ports[3i+1] quorum (peer), ports[3i+2] election.
	var quorum [][2]string
	for i := range n {
		quorum = append(quorum, [2]string{
			"server." + strconv.Itoa(i+1),
			fmt.Sprintf("127.0.0.1:%d:%d", ports[3*i+1], ports[3*i+2]),
		})
	}
	e := &Ensemble{}
	for i := range n {
		d := filepath.Join(dir, "node"+strconv.Itoa(i+1))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return e, fmt.Errorf("zktest: %w", err)
		}
		s := newServer(d, ports[3*i], o, java, cp)
		if err := s.writeConfig(quorum, i+1); err != nil {
			return e, err
		}
		e.Servers = append(e.Servers, s)
	}
	for _, s := range e.Servers {
		if err := s.start(); err != nil {
			return e, err
		}
	}
	// The servers come up concurrently; waiting for them one after the
	// other costs only as long as the slowest.
	for _, s := range e.Servers {
		if err := s.waitReady(o.startTimeout); err != nil {
			return e, err
		}
	}
	return e, nil
}

// StartEnsemble starts an n-server ensemble for a test or benchmark (see
// [LaunchEnsemble]) in a temporary directory and registers a cleanup that
// stops every server and removes the directory, logging the last 50 log
// lines of each server if the test failed. It fails tb when ZooKeeper is
// not installed or the ensemble does not come up.
func StartEnsemble(tb testing.TB, n int, opts ...Option) *Ensemble {
	tb.Helper()
	return StartEnsembleIn(tb, tb.TempDir(), n, opts...)
}

// StartEnsembleIn is [StartEnsemble] with the servers' directories (their
// configuration, data, transaction logs and zookeeper.log) in dir, which
// it does not remove: for a test that keeps them as evidence.
func StartEnsembleIn(tb testing.TB, dir string, n int, opts ...Option) *Ensemble {
	tb.Helper()
	e, err := LaunchEnsemble(dir, n, opts...)
	if err != nil {
		fatalLaunch(tb, err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("%v", err)
		}
		if tb.Failed() {
			for i, s := range e.Servers {
				tb.Logf("zktest: last %d lines of %s (ensemble server %d on %s):\n%s",
					logTailLines, s.logPath, i+1, s.Addr(), s.LogTail(logTailLines))
			}
		}
	})
	return e
}

// Addrs returns the servers' client addresses, in myid order.
func (e *Ensemble) Addrs() []string {
	addrs := make([]string, len(e.Servers))
	for i, s := range e.Servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// ConnString returns the client addresses joined by commas.
func (e *Ensemble) ConnString() string { return strings.Join(e.Addrs(), ",") }

// Leader returns the server that currently reports Mode leader, or an
// error wrapping [ErrNoLeader] (during an election, or without quorum).
func (e *Ensemble) Leader() (*Server, error) {
	var errs []error
	for _, s := range e.Servers {
		if !s.Running() {
			continue
		}
		mode, err := s.Mode()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if mode == "leader" {
			return s, nil
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrNoLeader, errors.Join(errs...))
	}
	return nil, ErrNoLeader
}

// WaitLeader polls (every 25ms, for at most 30s) until some server reports
// Mode leader, and returns it; it fails tb otherwise. Use it after killing
// the leader: a new one needs a quorum of running servers.
func (e *Ensemble) WaitLeader(tb testing.TB) *Server {
	tb.Helper()
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		l, err := e.Leader()
		if err == nil {
			return l
		}
		if time.Now().After(deadline) {
			tb.Fatalf("zktest: no leader after %v: %v", timeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// Close stops every server (concurrently) and waits for them. It keeps the
// directories. It is idempotent.
func (e *Ensemble) Close() error {
	var wg sync.WaitGroup
	errs := make([]error, len(e.Servers))
	for i, s := range e.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
