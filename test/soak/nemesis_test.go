package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The fault kinds (names as in FaultKinds).
const (
	leaderKill = "kill -9 the leader"
	leaderStop = "SIGSTOP the leader"
	leaderCut  = "blackhole the leader"
	workerKill = "kill -9 a worker"
	workerStop = "SIGSTOP a worker"
	workerTerm = "SIGTERM a worker"
	zkKill     = "kill -9 a ZooKeeper server"
	cancelTask = "cancel a task"
)

// fault is one fault the nemesis injected.
type fault struct {
	Kind   string
	Target string    // the master, worker, server or task it hit
	At     time.Time // when it struck
	Healed time.Time // when the nemesis had undone it and seen the system recover
	Epoch  int64     // for a leader fault: the epoch of the leader it hit
	Detail string
}

func (f fault) String() string {
	healed := "not healed"
	if !f.Healed.IsZero() {
		healed = "healed " + f.Healed.Sub(f.At).Round(time.Millisecond).String() + " later"
	}
	return fmt.Sprintf("[%s] %s: %s (%s)%s", f.At.Format("15:04:05.000"), f.Kind, f.Target, healed, strings.TrimRight(" "+f.Detail, " "))
}

// Pauses between faults: a uniform pick in [minPause, maxPause].
const (
	minPause = 5 * time.Second
	maxPause = 15 * time.Second
)

// nemesis injects one fault at a time, chosen at random, and heals it
// before the next: so never two ZooKeeper servers down, never two masters
// gone. It draws from its own random stream, so that a seed replays its
// choices whatever the load does.
type nemesis struct {
	c      *cluster
	l      *load
	rng    *rand.Rand
	bag    []string // the kinds left in this round
	faults []fault
}

func newNemesis(c *cluster, l *load, seed uint64) *nemesis {
	return &nemesis{c: c, l: l, rng: rand.New(rand.NewPCG(seed, 2))}
}

// next picks the next kind: every kind once per round, in a random order,
// so that even a short run meets most of them.
func (n *nemesis) next() string {
	if len(n.bag) == 0 {
		n.bag = append([]string(nil), FaultKinds...)
		n.rng.Shuffle(len(n.bag), func(i, j int) { n.bag[i], n.bag[j] = n.bag[j], n.bag[i] })
	}
	k := n.bag[0]
	n.bag = n.bag[1:]
	return k
}

// run injects faults until ctx ends; the fault in progress is always
// healed first. It returns the first fault that could not be injected or
// healed (the system did not react within settleTimeout).
func (n *nemesis) run(ctx context.Context) error {
	for {
		pause := minPause + time.Duration(n.rng.Int64N(int64(maxPause-minPause)+1))
		if !sleepUntil(ctx, time.Now().Add(pause)) {
			return nil
		}
		f := fault{Kind: n.next()}
		err := n.inject(ctx, &f)
		n.faults = append(n.faults, f)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
}

func (n *nemesis) inject(ctx context.Context, f *fault) error {
	switch f.Kind {
	case leaderKill, leaderStop, leaderCut:
		return n.leaderFault(f)
	case workerKill, workerStop, workerTerm:
		return n.workerFault(f)
	case zkKill:
		return n.zkFault(f)
	case cancelTask:
		f.At = time.Now()
		f.Target, f.Detail = n.l.cancelOne(ctx, n.rng)
		f.Healed = time.Now()
		return nil
	}
	return fmt.Errorf("unknown fault kind %q", f.Kind)
}

// leaderFault kills, freezes or cuts off the leader, waits for another
// master to take over (for a freeze or a cut, that is past the leader's
// session), then heals: restarts, continues or reconnects it, and waits
// until it stands again as a backup.
func (n *nemesis) leaderFault(f *fault) error {
	l, err := n.c.waitSettled()
	if err != nil {
		return err
	}
	m := n.c.master(l.Leader)
	f.Target, f.Epoch = l.Leader, l.Epoch.Epoch
	switch f.Kind {
	case leaderKill:
		f.At = m.Kill()
		if _, ok := m.WaitExit(10 * time.Second); !ok {
			return fmt.Errorf("%s did not exit after kill -9", m.Name)
		}
	case leaderStop:
		f.At = m.Stop()
	case leaderCut:
		f.At = time.Now()
		for _, p := range n.c.proxies[l.Leader] {
			p.Blackhole()
		}
	}
	next, err := n.c.waitLeaderAfter(l.Epoch.Epoch, l.Leader)
	if err != nil {
		return err
	}
	f.Detail = fmt.Sprintf("%s took over epoch %d", next.Leader, next.Epoch.Epoch)
	switch f.Kind {
	case leaderKill:
		n.c.restartMaster(l.Leader)
	case leaderStop:
		m.Cont()
	case leaderCut:
		for _, p := range n.c.proxies[l.Leader] {
			p.Restore()
		}
	}
	if err := n.c.waitMastersStanding(); err != nil {
		return err
	}
	f.Healed = time.Now()
	return nil
}

// workerFault kills, freezes or stops a worker picked at random. A frozen
// one is continued once its session has expired (its tasks were taken
// back); a killed or stopped one is started again at once (the new process
// waits for the old registration to go). Healed: registered again.
func (n *nemesis) workerFault(f *fault) error {
	id := workerID(n.rng.IntN(nWorkers))
	w := n.c.worker(id)
	f.Target = id
	if err := n.c.waitRegistered(id, 0); err != nil {
		return err
	}
	owner, err := n.c.registration(id)
	if err != nil || owner == 0 {
		return fmt.Errorf("worker %s's registration went as the fault was due (%v)", id, err)
	}
	switch f.Kind {
	case workerKill:
		f.At = w.Kill()
	case workerTerm:
		f.At = w.Term()
	case workerStop:
		f.At = w.Stop()
		if err := n.c.waitUnregistered(id, owner); err != nil {
			return err
		}
		w.Cont()
	}
	if f.Kind != workerStop {
		code, ok := w.WaitExit(settleTimeout)
		if !ok {
			return fmt.Errorf("%s did not exit", w.Name)
		}
		f.Detail = fmt.Sprintf("exit %d", code)
		n.c.restartWorker(id)
	}
	if err := n.c.waitRegistered(id, owner); err != nil {
		return err
	}
	f.Healed = time.Now()
	return nil
}

// zkFault kills a ZooKeeper server picked at random (only when all three
// run: never two down), keeps it down for 1 to 5 s, and starts it again;
// healed once it serves again.
func (n *nemesis) zkFault(f *fault) error {
	for i, s := range n.c.ens.Servers {
		if !s.Running() {
			return fmt.Errorf("ZooKeeper server %d is already down", i+1)
		}
	}
	i := n.rng.IntN(len(n.c.ens.Servers))
	s := n.c.ens.Servers[i]
	mode, _ := s.Mode()
	f.Target = fmt.Sprintf("server %d (%s)", i+1, mode)
	f.At = time.Now()
	s.Kill()
	down := time.Second + time.Duration(n.rng.Int64N(int64(4*time.Second)))
	time.Sleep(down) // how long the fault lasts, not a synchronisation
	if err := s.Relaunch(); err != nil {
		return fmt.Errorf("restart ZooKeeper server %d: %w", i+1, err)
	}
	f.Healed = time.Now()
	f.Detail = fmt.Sprintf("down %v", down.Round(time.Millisecond))
	return nil
}

// activeAt names the fault in progress at t, or the last one before it.
func activeAt(faults []fault, t time.Time) string {
	var last *fault
	for i := range faults {
		f := &faults[i]
		if f.At.After(t) {
			break
		}
		if f.Healed.IsZero() || !t.After(f.Healed) {
			return "during " + f.Kind + " on " + f.Target
		}
		last = f
	}
	if last == nil {
		return "before any fault"
	}
	return fmt.Sprintf("%v after %s on %s was healed", t.Sub(last.Healed).Round(time.Millisecond), last.Kind, last.Target)
}

// countKinds counts faults by kind.
func countKinds(faults []fault) map[string]int {
	out := map[string]int{}
	for _, f := range faults {
		out[f.Kind]++
	}
	return out
}
