package soak

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	pt "github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// The deployment under test.
const (
	nMasters    = 3
	nWorkers    = 4
	concurrency = 4
	session     = 2 * time.Second
)

// cluster is the deployment: the ensemble, the masters (each reaching
// every ZooKeeper server through a proxy of its own, so that the nemesis
// can cut one master off), the workers, and a ZooKeeper connection of the
// test's own to read the tree. Only one goroutine at a time drives it (the
// nemesis while it runs, then the test); mu guards the process tables,
// which the test's failure report reads.
type cluster struct {
	e       *pt.Env
	ens     *zktest.Ensemble
	conn    *zk.Conn
	proxies map[string][]*zktest.Proxy // master id -> one proxy per server

	mu      sync.Mutex
	masters map[string]*pt.Proc // id -> its current process
	workers map[string]*pt.Proc
	// unplanned are the processes and servers that exited without the
	// test stopping them: findings, each restarted when found.
	unplanned []string
}

func masterID(i int) string { return fmt.Sprintf("m%d", i+1) }
func workerID(i int) string { return fmt.Sprintf("w%d", i+1) }

// startCluster starts the ensemble, initialises the tree, and starts the
// masters (m1 first, so that it leads) and the workers, returning once
// every worker is ready for the leader. The servers' directories (their
// transaction logs, zookeeper.log) sit with the processes' logs: with
// PADDOCK_PROCTEST_LOGS a failed run keeps them all (a passed one removes
// them).
func startCluster(t *testing.T, bins pt.Bins) *cluster {
	kept := os.Getenv(pt.LogDirEnv) != ""
	var dir string
	t.Cleanup(func() { // registered first: runs last
		if kept && !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	e := pt.NewEnv(t, bins, "")
	e.Leaders = leaders // the soak's own knob (LeadersEnv), set before the first master
	dir = e.Dir
	ens := zktest.StartEnsembleIn(t, filepath.Join(dir, "zookeeper"), nMasters)
	t.Cleanup(func() { // before the ensemble stops: the processes go first
		for _, p := range e.Procs() {
			if !p.Exited() {
				p.Kill()
				p.WaitExit(10 * time.Second)
			}
		}
	})
	e.ZK = ens.ConnString()
	e.SessionTimeout = session
	c := &cluster{e: e, ens: ens, proxies: map[string][]*zktest.Proxy{}, masters: map[string]*pt.Proc{}, workers: map[string]*pt.Proc{}}
	for i := range nMasters {
		for _, addr := range ens.Addrs() {
			c.proxies[masterID(i)] = append(c.proxies[masterID(i)], zktest.NewProxy(t, addr))
		}
	}
	e.Init()
	c.conn = e.ZKConn()
	m1 := e.Leader("m1", c.masterFlags("m1")...)
	c.masters["m1"] = m1
	for i := 1; i < nMasters; i++ {
		if i < leaders {
			c.masters[masterID(i)] = e.Leader(masterID(i), c.masterFlags(masterID(i))...)
		} else {
			c.masters[masterID(i)] = e.Backup(masterID(i), c.masterFlags(masterID(i))...)
		}
	}
	for i := range nWorkers {
		c.workers[workerID(i)] = e.ReadyWorker(m1, workerID(i), concurrency)
	}
	return c
}

// masterFlags point master id at its proxies.
func (c *cluster) masterFlags(id string) []string {
	var addrs []string
	for _, p := range c.proxies[id] {
		addrs = append(addrs, p.Addr())
	}
	return []string{"--zk", strings.Join(addrs, ",")}
}

func (c *cluster) master(id string) *pt.Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.masters[id]
}

func (c *cluster) worker(id string) *pt.Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.workers[id]
}

// restartMaster starts master id again (its last process has exited).
func (c *cluster) restartMaster(id string) *pt.Proc {
	p := c.e.Master(id, c.masterFlags(id)...)
	c.mu.Lock()
	c.masters[id] = p
	c.mu.Unlock()
	return p
}

// restartWorker starts worker id again.
func (c *cluster) restartWorker(id string) *pt.Proc {
	p := c.e.Worker(id, concurrency)
	c.mu.Lock()
	c.workers[id] = p
	c.mu.Unlock()
	return p
}

// leadership is who leads, as the tree says.
type leadership struct {
	Epoch      pt.Epoch
	Leader     string   // the id in the lowest candidacy ("" with none)
	Candidates []string // the ids of every candidacy, in line order
}

// settled: the lowest candidate has taken over (the epoch names it).
func (l leadership) settled() bool { return l.Leader != "" && l.Epoch.Leader == l.Leader }

// readLeadership reads the epoch and the candidacies.
func (c *cluster) readLeadership() (leadership, error) {
	var l leadership
	root := c.e.Root
	// With several leaders the epoch record names whoever took over last;
	// partition 0's names the front candidate's take-over, as the epoch
	// does with one leader (same record shape).
	rec := root + "/epoch"
	if leaders > 1 {
		rec = root + "/partitions/0"
	}
	data, _, err := c.conn.Get(rec)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(data, &l.Epoch); err != nil {
		return l, fmt.Errorf("epoch record %q: %w", data, err)
	}
	names, _, err := c.conn.Children(root + "/master")
	if err != nil {
		return l, err
	}
	seq := func(n string) string { return n[strings.LastIndex(n, "-")+1:] }
	sort.Slice(names, func(i, j int) bool { return seq(names[i]) < seq(names[j]) })
	for _, n := range names {
		data, _, err := c.conn.Get(path.Join(root, "master", n))
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone meanwhile
		}
		if err != nil {
			return l, err
		}
		var m struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(data, &m)
		l.Candidates = append(l.Candidates, m.ID)
	}
	if len(l.Candidates) > 0 {
		l.Leader = l.Candidates[0]
	}
	return l, nil
}

// registration is worker id's registration znode's owner session (0: not
// registered).
func (c *cluster) registration(id string) (int64, error) {
	ok, st, err := c.conn.Exists(path.Join(c.e.Root, "workers", id))
	if err != nil || !ok {
		return 0, err
	}
	return st.EphemeralOwner, nil
}

// waitFor polls cond every 50ms until it holds, for at most timeout. An
// error from cond (ZooKeeper unreachable for a moment) is retried; the
// last one is reported on timeout.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok && err == nil {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%s: not within %v (last error: %v)", what, timeout, last)
			}
			return fmt.Errorf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor is waitFor(settleTimeout, ...) reviving, at each poll, whatever
// exited on its own: the system cannot recover while a process it needs is
// gone, and the run reports the exit.
func (c *cluster) waitFor(what string, cond func() (bool, error)) error {
	return waitFor(settleTimeout, what, func() (bool, error) {
		if err := c.revive(); err != nil {
			return false, err
		}
		return cond()
	})
}

// revive restarts each master or worker that exited although the test
// sent it neither SIGKILL nor SIGTERM, and each ZooKeeper server that is
// not running (the nemesis holds one down only within zkFault, which does
// not wait), and records them in unplanned.
func (c *cluster) revive() error {
	for i := range nMasters {
		if p := c.master(masterID(i)); exitedOnItsOwn(p) {
			c.note("%s exited on its own (exit %d at %s): %s", p.Name, p.ExitCode(), p.ExitedAt().Format("15:04:05.000"), lastLine(p.Stderr()))
			c.restartMaster(masterID(i))
		}
	}
	for i := range nWorkers {
		if p := c.worker(workerID(i)); exitedOnItsOwn(p) {
			c.note("%s exited on its own (exit %d at %s): %s", p.Name, p.ExitCode(), p.ExitedAt().Format("15:04:05.000"), lastLine(p.Stderr()))
			c.restartWorker(workerID(i))
		}
	}
	for i, s := range c.ens.Servers {
		if !s.Running() {
			c.note("ZooKeeper server %d found not running at %s: %s", i+1, time.Now().Format("15:04:05.000"), lastLine(s.LogTail(1)))
			if err := s.Relaunch(); err != nil {
				return fmt.Errorf("restart ZooKeeper server %d: %w", i+1, err)
			}
		}
	}
	return nil
}

func (c *cluster) note(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unplanned = append(c.unplanned, fmt.Sprintf(format, args...))
}

// exits returns what exited on its own so far.
func (c *cluster) exits() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.unplanned...)
}

// exitedOnItsOwn: p exited and the test sent it neither SIGKILL nor SIGTERM.
func exitedOnItsOwn(p *pt.Proc) bool {
	if !p.Exited() {
		return false
	}
	for _, s := range p.Signals() {
		if s.Sig == syscall.SIGKILL || s.Sig == syscall.SIGTERM {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// settleTimeout bounds every wait for the system to react to a fault or to
// its healing: a session expiry (2 s) and an election take a few seconds;
// the rest is slack for a loaded 2-core machine.
const settleTimeout = 60 * time.Second

// waitSettled waits until a leader has taken over (ZooKeeper's own
// hiccups can leave the service between leaders when a fault is due).
func (c *cluster) waitSettled() (leadership, error) {
	var l leadership
	err := c.waitFor("a settled leader", func() (bool, error) {
		var err error
		l, err = c.readLeadership()
		return l.settled(), err
	})
	return l, err
}

// waitLeaderAfter waits until a master other than the deposed one has
// taken over an epoch newer than epoch.
func (c *cluster) waitLeaderAfter(epoch int64, deposed string) (leadership, error) {
	var l leadership
	err := c.waitFor(fmt.Sprintf("a new leader after %s (epoch %d)", deposed, epoch), func() (bool, error) {
		var err error
		l, err = c.readLeadership()
		return l.settled() && l.Epoch.Epoch > epoch && l.Leader != deposed, err
	})
	return l, err
}

// waitMastersStanding waits until every master stands (a candidacy each)
// and the leader has taken over.
func (c *cluster) waitMastersStanding() error {
	return c.waitFor("every master standing, the leader settled", func() (bool, error) {
		l, err := c.readLeadership()
		seen := map[string]bool{}
		for _, id := range l.Candidates {
			seen[id] = true
		}
		return l.settled() && len(seen) == nMasters && len(l.Candidates) == nMasters, err
	})
}

// waitRegistered waits until worker id is registered by a session other
// than old (0: any).
func (c *cluster) waitRegistered(id string, old int64) error {
	return c.waitFor(fmt.Sprintf("worker %s registered again", id), func() (bool, error) {
		owner, err := c.registration(id)
		return owner != 0 && owner != old, err
	})
}

// waitUnregistered waits until worker id's registration by session owner
// is gone (its session expired).
func (c *cluster) waitUnregistered(id string, owner int64) error {
	return c.waitFor(fmt.Sprintf("worker %s's registration gone", id), func() (bool, error) {
		now, err := c.registration(id)
		return now != owner, err
	})
}

// frozen reports whether the test left p stopped (SIGSTOP without SIGCONT).
func frozen(p *pt.Proc) bool {
	f := false
	for _, s := range p.Signals() {
		switch s.Sig {
		case syscall.SIGSTOP:
			f = true
		case syscall.SIGCONT:
			f = false
		}
	}
	return f
}

// heal undoes whatever a fault left: every proxy forwards, every ZooKeeper
// server runs, every frozen process is continued and every exited one
// started again; then it waits until every worker is registered and every
// master stands with the leader settled.
func (c *cluster) heal() error {
	if err := c.revive(); err != nil {
		return err
	}
	for _, ps := range c.proxies {
		for _, p := range ps {
			p.Restore()
		}
	}
	for i, s := range c.ens.Servers {
		if !s.Running() {
			if err := s.Relaunch(); err != nil {
				return fmt.Errorf("restart ZooKeeper server %d: %w", i+1, err)
			}
		}
	}
	for i := range nMasters {
		c.healProc(c.master(masterID(i)), func() { c.restartMaster(masterID(i)) })
	}
	for i := range nWorkers {
		c.healProc(c.worker(workerID(i)), func() { c.restartWorker(workerID(i)) })
	}
	for i := range nWorkers {
		if err := c.waitRegistered(workerID(i), 0); err != nil {
			return err
		}
	}
	return c.waitMastersStanding()
}

func (c *cluster) healProc(p *pt.Proc, restart func()) {
	switch {
	case p.Exited():
		restart()
	case frozen(p):
		p.Cont()
	}
}
