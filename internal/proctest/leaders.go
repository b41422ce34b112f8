package proctest

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
)

// LeadersEnv names how many masters lead at once (the live setting
// master.leaders) in every deployment an [Env] makes. Unset, one leads
// (the default, nothing is set). The scenario suites (test/process,
// test/e2e) read it here, in NewEnv, and nowhere else, so that each of
// them runs unchanged with several leaders: every guarantee the scenarios
// check must hold per partition as it holds with one leader
// (docs/PROTOCOL.md, "Several leaders").
const LeadersEnv = "PADDOCK_TEST_LEADERS"

// leadersFromEnv is LeadersEnv read once per test binary: a bad value is
// the same mistake for every test.
var leadersFromEnv = sync.OnceValues(func() (int, error) {
	s := strings.TrimSpace(os.Getenv(LeadersEnv))
	if s == "" {
		return 1, nil
	}
	n, err := coord.ParseLeaders(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", LeadersEnv, err)
	}
	return n, nil
})

// LeadersFromEnv is how many masters lead at once in the deployments of
// this run: LeadersEnv, or 1 when unset. A suite that reports its setup
// (test/e2e's evidence) shows it.
func LeadersFromEnv() (int, error) { return leadersFromEnv() }

// configureLeaders sets master.leaders to e.Leaders once, before the first
// master starts, so that the deployment leads with several from its start
// and the scenario's load never runs under one leader.
func (e *Env) configureLeaders() {
	e.TB.Helper()
	e.mu.Lock()
	done, n := e.leadersSet, e.Leaders
	e.leadersSet = true
	e.mu.Unlock()
	if !done && n > 1 {
		e.SetLeaders(n)
	}
}

// leaders is Leaders, read under the lock SetLeaders writes it under (a
// soak's nemesis starts masters from its own goroutine).
func (e *Env) leaders() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return max(e.Leaders, 1)
}

// SetLeaders sets master.leaders to n with `client config set` (live: the
// masters running deal the partitions again at once) and makes n the
// Env's Leaders, which [Env.WaitDealt] waits for.
func (e *Env) SetLeaders(n int) {
	e.TB.Helper()
	if o := e.RunClient(30*time.Second, "config", "set", coord.KeyMasterLeaders, strconv.Itoa(n)); o.Code != 0 {
		e.TB.Fatalf("client config set %s %d: exit %d: %s%s", coord.KeyMasterLeaders, n, o.Code, o.Stdout, o.Stderr)
	}
	e.mu.Lock()
	e.Leaders, e.leadersSet = n, true
	e.mu.Unlock()
}

// Status runs `client status --json`.
func (e *Env) Status() coord.Status {
	e.TB.Helper()
	o := e.RunClient(30*time.Second, "status", "--json")
	var s coord.Status
	if o.Code != 0 {
		e.TB.Fatalf("client status --json: exit %d: %s", o.Code, o.Stderr)
	}
	if err := json.Unmarshal([]byte(o.Stdout), &s); err != nil {
		e.TB.Fatalf("client status --json: %v: %s", err, o.Stdout)
	}
	return s
}

// Candidates are the ids of the masters in the election's line, front
// first, as s shows them.
func Candidates(s coord.Status) []string {
	if s.Leader == nil {
		return nil
	}
	ids := []string{s.Leader.ID}
	for _, b := range s.Backups {
		ids = append(ids, b.ID)
	}
	return ids
}

// dealt says why s does not show the partitions dealt as leaders masters
// leading at once want them ("" when it does): each partition p taken
// over by the candidate at place p mod k, k = min(leaders, candidates).
func dealt(s coord.Status, leaders int) string {
	cands := Candidates(s)
	if len(cands) == 0 {
		return "no master in the election"
	}
	if s.TakingOver {
		return "the front master is taking over"
	}
	k := min(leaders, len(cands))
	by := map[string]string{}
	for _, p := range s.Partitions {
		by[p.Partition] = p.Leader
	}
	for p := range coord.Partitions {
		name := fmt.Sprintf("%x", p)
		if want := cands[p%k]; by[name] != want {
			return fmt.Sprintf("partition %s led by %q, not yet by %s (%d of %v lead)", name, by[name], want, k, cands)
		}
	}
	return ""
}

// settledTerm says why master m is not yet leading a term of k leaders
// ("" when it is): the partition records name the masters that took them
// over, but a master whose share shrank still leads its old term until it
// hears of the change; its last word must be an election to a term of k.
func settledTerm(m *Proc, k int) string {
	var last Line
	for _, l := range m.Logs() {
		switch l.Msg {
		case MsgElected, MsgLeftTerm, MsgDeposed, MsgResigned, MsgBackup:
			last = l
		}
	}
	if last.Msg != MsgElected {
		return fmt.Sprintf("%s is not leading (last: %q)", m.Name, last.Msg)
	}
	if n, ok := last.Int("leaders"); !ok && k > 1 || ok && int(n) != k {
		return fmt.Sprintf("%s still leads a term of %s leaders, not %d", m.Name, last.Str("leaders"), k)
	}
	return ""
}

// WaitDealt waits until the partitions are dealt as the Env's Leaders
// want among the masters in line (`client status --json`: partition p
// taken over by the candidate at place p mod min(Leaders, candidates)),
// and until every leading master of the Env has taken its share over, and
// returns that status. With one leader it waits for the front master to
// have taken over.
func (e *Env) WaitDealt(timeout time.Duration) coord.Status {
	e.TB.Helper()
	leaders := e.leaders()
	deadline := time.Now().Add(timeout)
	for {
		s := e.Status()
		why := dealt(s, leaders)
		if why == "" {
			cands := Candidates(s)
			k := min(leaders, len(cands))
			for _, id := range cands[:k] {
				if m := e.liveMaster(id); m != nil {
					if why = settledTerm(m, k); why != "" {
						break
					}
				}
			}
		}
		if why == "" {
			return s
		}
		if time.Now().After(deadline) {
			e.TB.Fatalf("the partitions were not dealt to the masters within %v (master.leaders %d): %s", timeout, leaders, why)
		}
		time.Sleep(100 * time.Millisecond) // polling a client command: nothing to watch
	}
}

// liveMaster is the Env's latest process of master id that has not
// exited nor been stopped by the test, or nil.
func (e *Env) liveMaster(id string) *Proc {
	ms := e.ByRole("master")
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].ID == id && !ms[i].Exited() && !stopped(ms[i]) {
			return ms[i]
		}
	}
	return nil
}

// PartitionOf is the partition of a task id or of a shard ("5a"): the
// first hex digit of its shard (docs/PROTOCOL.md, "Partitions"), -1 when
// that is not a hex digit.
func PartitionOf(idOrShard string) int {
	s := Shard(idOrShard)
	p, err := strconv.ParseUint(s[:1], 16, 8)
	if err != nil {
		return -1
	}
	return int(p)
}

// LeaderOf is the Env's running master that leads partition p now, as
// `client status --json` shows it: the one whose logs tell of that
// partition's tasks and shards. With one leader it is the leader.
func (e *Env) LeaderOf(p int) *Proc {
	e.TB.Helper()
	name := fmt.Sprintf("%x", p)
	for _, r := range e.Status().Partitions {
		if r.Partition != name {
			continue
		}
		if m := e.liveMaster(r.Leader); m != nil {
			return m
		}
		e.TB.Fatalf("partition %s is led by %q, not a running master of this test", name, r.Leader)
	}
	e.TB.Fatalf("partition %s has no leader", name)
	return nil
}
