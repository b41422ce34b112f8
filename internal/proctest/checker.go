package proctest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Checker is the one history checker every scenario ends with. It gathers
// what the scenario knows of its tasks — the logs of its masters and
// workers (assignments, starts, completions, elections), the ids and
// results of tasks submitted one by one, the summaries of `client run`
// loops (whose task ids only the logs know), the tree left in ZooKeeper,
// the masters the scenario deposed and when, and when the faults stopped —
// and judges four properties:
//
//   - no task lost: every submitted task has a result, every `client run`
//     got a successful result for each of its tasks, the workers completed
//     as many distinct tasks as were submitted, and nothing is left pending
//     or assigned in the tree;
//   - exactly one result per task: no completion applied twice, no attempt
//     run by two workers, each result agrees with the worker that logged it;
//   - no assignment written by a master after it was deposed: no master
//     assigned while not leading or with another epoch than its own, epochs
//     only grow, and a master deposed at a known instant (paused, cut off)
//     wrote nothing after it but the batch already in flight;
//   - after the faults stop, every task completes within a bound: each task
//     finished within Bound of the later of its submission (its id carries
//     the submit time) and FaultsEnded.
//
// With Electors (election processes) it judges instead, or as well: at most
// one leader at any instant, and a live process elected within ElectBound
// of FaultsEnded.
//
// Given evidence that does not come from Paddock's logs — a client's own
// record of its submits and results (Client) and ZooKeeper's transaction
// logs (Txns) — it judges the same properties from that evidence as well
// (see the fields), and that the logs read hold the whole history.
type Checker struct {
	History *History

	// Submitted are tasks submitted one by one; Results the results read
	// for them.
	Submitted []string
	Results   map[string]Result

	// Tree, when set, is read after the run: nothing may be left in tasks/
	// or assign/, and, with Collected, nothing in results/ or data/.
	Tree      *Tree
	Collected bool

	// FaultsEnded and Bound: see the completion property. Bound 0 skips it.
	FaultsEnded time.Time
	Bound       time.Duration

	// Electors and ElectBound: see the election properties.
	Electors   []*Proc
	ElectBound time.Duration

	// Client, when set, is a client's own record of the tasks it submitted
	// one by one (see [ClientHistory]): each submit's outcome (acknowledged,
	// failed, unknown), the cancels it asked for, the results it read.
	// Then no task is lost when every acknowledged submit, and every
	// unknown one that was applied, has a result the client read (a task
	// still in the tree without one is stuck); and each result is the
	// right one: a success carries the output the client expects, a
	// cancellation follows a cancel it asked for.
	Client *ClientHistory
	// Txns, when set, is ZooKeeper's transaction log replayed for the
	// tree's root (see [AnalyzeTxns]): what the servers committed, not
	// what any process logged. It adds: every task, payload and result
	// created at most once (an acknowledged submit exactly once, a failed
	// one never, an unknown one as the client found it); no task or
	// result that no client submitted; and every leader write applied
	// under the fence of the leader of the moment, carrying its epoch.
	Txns *RootTxns

	runs   []runRecord
	fences []fence
}

type runRecord struct {
	name    string
	want    int
	summary RunSummary
	code    int
}

type fence struct {
	m   *Proc
	at  time.Time
	why string
	cut bool
}

// NewChecker checks the history of procs (the masters' and workers' logs
// are read when Verdict is called).
func NewChecker(procs ...*Proc) *Checker {
	return &Checker{History: NewHistory(procs...), Results: map[string]Result{}}
}

// AddRun records a `client run` that was asked for want tasks, its summary
// and exit code.
func (c *Checker) AddRun(name string, want int, s RunSummary, code int) {
	c.runs = append(c.runs, runRecord{name: name, want: want, summary: s, code: code})
}

// Deposed records that the scenario deposed master m at instant at (froze
// it, cut it off) while it led: from then on it may write nothing but the
// batch it had in flight. It is judged as [History.FencedCut], not
// [History.Fenced]: a master frozen while its batch's reply is on the wire
// wakes with its connection's read deadline long past, so the client drops
// the connection before reading that reply and never logs the batch it
// applied (seen in CI: a worker ran such an assignment 2 ms after SIGSTOP).
func (c *Checker) Deposed(m *Proc, at time.Time, why string) {
	c.fences = append(c.fences, fence{m: m, at: at, why: why, cut: true})
}

// CutOff records that the scenario cut master m off from ZooKeeper at
// instant at while it led (see [History.FencedCut]: the reply to its batch
// in flight may never reach it).
func (c *Checker) CutOff(m *Proc, at time.Time, why string) {
	c.fences = append(c.fences, fence{m: m, at: at, why: why, cut: true})
}

// Verdict is what a [Checker] found: each property with its problems, and
// counts of what the history holds. It is JSON for the scenario evidence.
type Verdict struct {
	OK     bool          `json:"ok"`
	Counts Counts        `json:"counts"`
	Checks []CheckResult `json:"checks"`
}

// Counts summarise a history.
type Counts struct {
	Submitted   int `json:"submitted"`   // tasks submitted (one by one, and by client run loops)
	Assignments int `json:"assignments"` // assignments logged by masters ("assigned" lines)
	Starts      int `json:"starts"`      // task runs started by workers
	Completed   int `json:"completed"`   // distinct tasks whose completion was applied
	Results     int `json:"results"`     // successful results clients got
	Rerun       int `json:"rerun"`       // tasks run more than once (at-least-once execution)
	Dropped     int `json:"dropped"`     // late completions dropped (a rerun finished first)
	Masters     int `json:"masters"`
	Workers     int `json:"workers"`
	Elections   int `json:"elections"` // masters' "elected: leading" lines, or electors' "elected" events
	// LostReplies are completions that were applied although the worker
	// logged them as dropped: its reply was lost to a connection loss, and
	// its retry found its own work done (see [Checker]).
	LostReplies int `json:"lost_replies"`
	// WorstCompletionMS is the longest time from the later of a task's
	// submission and the end of the faults to its completion.
	WorstCompletionMS float64 `json:"worst_completion_ms"`

	// With a [ClientHistory]: how the submits ended, how many of the
	// unknown ones were applied, and the cancelled results read (Results
	// counts the successful ones).
	Acknowledged   int `json:"acknowledged,omitempty"`
	SubmitFailed   int `json:"submit_failed,omitempty"`
	SubmitUnknown  int `json:"submit_unknown,omitempty"`
	UnknownApplied int `json:"unknown_applied,omitempty"`
	Cancelled      int `json:"cancelled,omitempty"`
	// With ZooKeeper's transaction log: transactions under the root,
	// take-overs, leader writes applied, leader writes refused by the
	// fence, and deposed writes applied (problems).
	Txns           int `json:"txns,omitempty"`
	TakeOvers      int `json:"take_overs,omitempty"`
	LeaderWrites   int `json:"leader_writes,omitempty"`
	DeposedRefused int `json:"deposed_refused,omitempty"`
	DeposedApplied int `json:"deposed_applied"`

	// What went wrong, counted: tasks lost (or left unresolved), stuck
	// (still pending at the end), with a duplicate (two results, two
	// submits, a completion applied twice), and znodes leaked (left in
	// the tree at the end).
	Lost       int `json:"lost"`
	Stuck      int `json:"stuck"`
	Duplicates int `json:"duplicates"`
	Leaks      int `json:"leaks"`
}

// CheckResult is one property.
type CheckResult struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Detail   string   `json:"detail,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// The names of the properties.
const (
	CheckNoTaskLost      = "no task lost"
	CheckExactlyOnce     = "exactly one result per task"
	CheckNoDeposedWrites = "no assignment by a deposed master"
	CheckCompletionBound = "every task completes within the bound after the faults"
	CheckSingleLeader    = "at most one leader at any instant"
	CheckLiveLeader      = "a live process is eventually elected"
	CheckHistoryComplete = "ZooKeeper's transaction logs hold the whole history"
)

// SubmitTime is the submission time encoded in a task id (its first 11 hex
// digits are Unix milliseconds; docs/PROTOCOL.md).
func SubmitTime(id string) (time.Time, bool) {
	if len(id) < 11 {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(id[:11], 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

func (c *Checker) submitted() int {
	n := len(c.Submitted) + c.runsWanted()
	if c.Client != nil {
		for _, t := range c.Client.Tasks() {
			if t.Outcome == SubmitAcked || t.Result != nil {
				n++
			}
		}
	}
	return n
}

// results are the results read of every task: those of Submitted and, for
// a Client, the successful ones (a cancelled result has no worker to agree
// with).
func (c *Checker) results() map[string]Result {
	if c.Client == nil {
		return c.Results
	}
	out := map[string]Result{}
	for id, r := range c.Results {
		out[id] = r
	}
	for _, t := range c.Client.Tasks() {
		if t.Result != nil && t.Result.Status == "succeeded" {
			out[t.ID] = *t.Result
		}
	}
	return out
}

// Verdict runs every check.
func (c *Checker) Verdict() Verdict {
	h := c.History
	results := c.results()
	finished := h.FinishedGiven(results)
	started := h.Started()
	lostReplies := c.lostReplies(finished, started, results)
	v := Verdict{OK: true, Counts: c.counts(finished, started, lostReplies)}

	add := func(name, detail string, problems ...[]string) {
		var all []string
		for _, p := range problems {
			all = append(all, p...)
		}
		v.Checks = append(v.Checks, CheckResult{Name: name, OK: len(all) == 0, Detail: detail, Problems: all})
		v.OK = v.OK && len(all) == 0
	}

	if total := c.submitted(); total > 0 || len(h.Workers) > 0 {
		add(CheckNoTaskLost, c.lostDetail(total, len(finished), len(lostReplies)), c.lost(total, len(finished)+len(lostReplies)))
		detail := fmt.Sprintf("%d distinct tasks completed, %d runs started, %d tasks rerun, %d late completions dropped",
			v.Counts.Completed, v.Counts.Starts, v.Counts.Rerun, v.Counts.Dropped-len(lostReplies))
		if len(lostReplies) > 0 {
			detail += fmt.Sprintf("; %d completions applied although their worker logged them as dropped (reply lost to a connection loss)", len(lostReplies))
		}
		var logged []string
		var ownProblems []string
		for _, id := range keys(results) {
			w, own := lostReplies[id]
			if !own {
				logged = append(logged, id)
			} else if r := results[id]; r.Worker != w {
				ownProblems = append(ownProblems, fmt.Sprintf("task %s: result from worker %s, but only %s ran it", id, r.Worker, w))
			}
		}
		add(CheckExactlyOnce, detail, exactlyOnce(finished), h.AttemptsDistinct(), h.results(logged, results, finished), ownProblems,
			c.clientResults(), c.createdOnce())
		detail, fenced := c.fenced()
		add(CheckNoDeposedWrites, detail, h.DeposedQuiet(), h.Epochs(), fenced)
		if c.Bound > 0 {
			worst, p := c.completion(c.doneAt(finished, lostReplies))
			v.Counts.WorstCompletionMS = float64(worst.Microseconds()) / 1000
			add(CheckCompletionBound, fmt.Sprintf("worst %v (bound %v) from the later of submission and the end of the faults to completion",
				worst.Round(time.Millisecond), c.Bound), p)
		}
	}
	if c.Txns != nil {
		add(CheckHistoryComplete, fmt.Sprintf("%d transactions under %s, no zxid missing within a ZooKeeper epoch, every log agrees", c.Txns.Txns, c.Txns.Root),
			c.Txns.Incomplete)
	}
	if len(c.Electors) > 0 {
		n := 0
		for _, p := range c.Electors {
			n += len(Filter(p.Out(), Event("elected")))
		}
		v.Counts.Elections = n
		add(CheckSingleLeader, fmt.Sprintf("%d processes, %d elections", len(c.Electors), n), SingleLeader(c.Electors))
		detail, p := c.liveLeader()
		add(CheckLiveLeader, detail, p)
	}
	return v
}

// counts summarises the history.
func (c *Checker) counts(finished, started map[string][]Line, lostReplies map[string]string) Counts {
	h := c.History
	n := Counts{
		Submitted:   c.submitted(),
		Completed:   len(finished) + len(lostReplies),
		LostReplies: len(lostReplies),
		Dropped:     len(h.Dropped()),
		Masters:     len(h.Masters),
		Workers:     len(h.Workers),
		Elections:   len(h.Elections()),
	}
	for _, ls := range h.Assigned() {
		n.Assignments += len(ls)
	}
	for _, ls := range started {
		n.Starts += len(ls)
		attempts := map[string]bool{}
		for _, l := range ls {
			attempts[l.Str("attempt")] = true
		}
		if len(attempts) > 1 {
			n.Rerun++
		}
	}
	for _, id := range c.Submitted {
		if r, ok := c.Results[id]; ok && r.Status == "succeeded" {
			n.Results++
		}
	}
	for _, r := range c.runs {
		n.Results += r.summary.Succeeded
	}
	if c.Client != nil {
		for _, t := range c.Client.Tasks() {
			switch t.Outcome {
			case SubmitAcked:
				n.Acknowledged++
			case SubmitFailed:
				n.SubmitFailed++
			case SubmitUnknown:
				n.SubmitUnknown++
				if t.Result != nil {
					n.UnknownApplied++
				}
			}
			switch {
			case t.Result == nil:
			case t.Result.Status == "succeeded":
				n.Results++
			case t.Result.Status == "cancelled":
				n.Cancelled++
			}
		}
	}
	if t := c.Txns; t != nil {
		n.Txns, n.TakeOvers, n.LeaderWrites = t.Txns, len(t.TakeOvers), t.LeaderWrites
		n.DeposedRefused, n.DeposedApplied = len(t.Refused), len(t.Problems)
	}
	n.Lost, n.Stuck = c.fates()
	n.Duplicates, n.Leaks = c.duplicates(), c.leaks()
	return n
}

func (c *Checker) lostDetail(total, logged, lostReplies int) string {
	if c.Client != nil {
		return fmt.Sprintf("%d submitted and applied; %d completions logged (%d applied but logged as dropped); %s",
			total, logged, lostReplies, c.clientDetail())
	}
	s := fmt.Sprintf("%d submitted (%d one by one, %d by %d client run loops); %d results; %d completions logged",
		total, len(c.Submitted), c.runsWanted(), len(c.runs), len(c.Results)+c.runSucceeded(), logged)
	if lostReplies > 0 {
		s += fmt.Sprintf(" and %d applied but logged as dropped", lostReplies)
	}
	return s
}

func (c *Checker) runsWanted() int {
	n := 0
	for _, r := range c.runs {
		n += r.want
	}
	return n
}

// lostReplies finds completions that were applied although their worker
// logged "completion dropped": its reply was lost (a connection loss
// during the completion multi) and its retry found the assignment gone, so
// it could not tell its own work from another's. It returns the task ids
// with the worker's --id.
//
// With the result the client read, that is the case when the result's own
// worker and attempt are a run that logged the drop. Without one (a
// `client run`'s task), when exactly one worker ever ran the task, one
// attempt, and that worker logged the drop: nobody else could have
// completed it.
func (c *Checker) lostReplies(finished, started map[string][]Line, results map[string]Result) map[string]string {
	ids := c.History.workerIDs()
	out := map[string]string{}
	for id, drops := range c.History.Dropped() {
		if len(finished[id]) > 0 {
			continue
		}
		runs := started[id]
		if r, ok := results[id]; ok {
			for _, d := range drops {
				if ids[d.Proc] == r.Worker && len(Filter(runs, All(func(l Line) bool { return l.Proc == d.Proc }, Field("attempt", fmt.Sprint(r.Attempts))))) > 0 {
					out[id] = r.Worker
				}
			}
			continue
		}
		if len(runs) != 1 || runs[0].Proc != drops[0].Proc {
			continue
		}
		out[id] = ids[runs[0].Proc]
	}
	return out
}

func (c *Checker) runSucceeded() int {
	n := 0
	for _, r := range c.runs {
		n += r.summary.Succeeded
	}
	return n
}

// lost finds tasks without a result. With a Client history every task's
// fate is known from what the client saw; without one, the workers' logged
// completions are counted against the tasks submitted (the only record of
// a `client run`'s tasks).
func (c *Checker) lost(total, completed int) []string {
	var problems []string
	for _, id := range c.Submitted {
		if _, ok := c.Results[id]; !ok {
			problems = append(problems, fmt.Sprintf("task %s: no result (lost)", id))
		}
	}
	for _, r := range c.runs {
		s := r.summary
		if r.code != 0 || s.Tasks != r.want || s.Succeeded != r.want || s.Lost != 0 {
			problems = append(problems, fmt.Sprintf("%s: asked for %d tasks, exit %d, %d ended, %d succeeded, %d lost, errors %q",
				r.name, r.want, r.code, s.Tasks, s.Succeeded, s.Lost, s.Errors))
		}
	}
	if c.Client != nil {
		problems = append(problems, c.clientLost()...)
	} else if allow := c.History.UnloggedAllowance(); completed > total {
		problems = append(problems, fmt.Sprintf("workers completed %d distinct tasks, but only %d were submitted", completed, total))
	} else if completed < total-allow {
		problems = append(problems, fmt.Sprintf("workers completed %d tasks of %d submitted (at most %d may go unlogged, by killed workers)", completed, total, allow))
	}
	if t := c.Tree; t != nil {
		if len(t.Tasks) != 0 {
			problems = append(problems, fmt.Sprintf("%d tasks left under %s/tasks: %v", len(t.Tasks), t.Root, keys(t.Tasks)))
		}
		if n := t.Assigned(); n != 0 {
			problems = append(problems, fmt.Sprintf("%d assignments left under %s/assign: %v", n, t.Root, t.Assign))
		}
		if c.Collected && (len(t.Results) != 0 || len(t.Data) != 0) {
			problems = append(problems, fmt.Sprintf("%d results and %d payloads left uncollected: results %v, payloads %v",
				len(t.Results), len(t.Data), keys(t.Results), keys(t.Data)))
		}
	}
	return problems
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fenced judges the deposed masters' writes: those the scenario deposed
// (from the logs), and, with ZooKeeper's log, every leader write applied.
func (c *Checker) fenced() (string, []string) {
	h := c.History
	var problems, deposed []string
	for _, f := range c.fences {
		fencedFn := h.Fenced
		if f.cut {
			fencedFn = h.FencedCut
		}
		epoch, p := fencedFn(f.m, f.at)
		problems = append(problems, p...)
		deposed = append(deposed, fmt.Sprintf("%s (epoch %d) deposed by %s: nothing written after it but its in-flight batch", f.m.Name, epoch, f.why))
	}
	detail := fmt.Sprintf("%d elections; epochs only grow; no master assigned while not leading", len(h.Elections()))
	if len(deposed) > 0 {
		detail += "; " + strings.Join(deposed, "; ")
	}
	if t := c.Txns; t != nil {
		detail += fmt.Sprintf("; ZooKeeper's log: %d take-overs, %d leader writes applied, each under the fence of the leader of its moment and carrying its epoch; "+
			"%d deposed writes refused (%s), %d applied", len(t.TakeOvers), t.LeaderWrites, len(t.Refused), refusedWhy(t), len(t.Problems))
		problems = append(problems, t.Problems...)
	}
	return detail, problems
}

func refusedWhy(t *RootTxns) string {
	by := t.RefusedBy()
	var parts []string
	for _, why := range keys(by) {
		parts = append(parts, fmt.Sprintf("%d %s", by[why], why))
	}
	if len(parts) == 0 {
		return "none attempted"
	}
	return strings.Join(parts, ", ")
}

// doneAt is when each task completed: for a Client's task, when ZooKeeper
// created its result (or, without its log, when the client read it);
// otherwise the worker's completion line, or for a completion whose reply
// was lost, no later than its "dropped" line; and for a task submitted
// one by one without a line, the result's finished_at.
func (c *Checker) doneAt(finished map[string][]Line, lostReplies map[string]string) map[string]time.Time {
	done := map[string]time.Time{}
	for id, ls := range finished {
		done[id] = ls[0].TS
	}
	for id := range lostReplies {
		done[id] = c.History.Dropped()[id][0].TS
	}
	for _, id := range c.Submitted {
		if r, ok := c.Results[id]; ok && !r.FinishedAt.IsZero() && done[id].IsZero() {
			done[id] = r.FinishedAt
		}
	}
	if c.Client != nil {
		for _, t := range c.Client.Tasks() {
			switch {
			case c.Txns != nil && !c.Txns.ResultAt[t.ID].IsZero():
				done[t.ID] = c.Txns.ResultAt[t.ID]
			case t.Result != nil:
				done[t.ID] = t.ReadAt
			}
		}
	}
	return done
}

// completion measures, for each task done, the time from the later of its
// submission and FaultsEnded to its completion.
func (c *Checker) completion(done map[string]time.Time) (time.Duration, []string) {
	var worst time.Duration
	var problems []string
	for id, at := range done {
		sub, ok := SubmitTime(id)
		if !ok {
			problems = append(problems, "task id without a submit time: "+id)
			continue
		}
		from := sub
		if c.FaultsEnded.After(from) {
			from = c.FaultsEnded
		}
		d := at.Sub(from)
		worst = max(worst, d)
		if d > c.Bound {
			problems = append(problems, fmt.Sprintf("task %s completed %v after %s (bound %v)", id, d.Round(time.Millisecond),
				map[bool]string{true: "the faults ended", false: "its submission"}[from.Equal(c.FaultsEnded)], c.Bound))
		}
	}
	sort.Strings(problems)
	return worst, problems
}

// liveLeader checks that, at the end, a process the test did not stop
// claims leadership, elected within ElectBound of FaultsEnded.
func (c *Checker) liveLeader() (string, []string) {
	var leader *Proc
	var line Line
	for _, p := range c.Electors {
		if p.Exited() || stopped(p) {
			continue
		}
		evs := Filter(p.Out(), func(l Line) bool { return l.JSON && l.Has("event") })
		if len(evs) > 0 && evs[len(evs)-1].Str("event") == "elected" {
			if leader != nil {
				return "", []string{fmt.Sprintf("two live processes claim leadership: %s and %s", leader.Name, p.Name)}
			}
			leader, line = p, evs[len(evs)-1]
		}
	}
	if leader == nil {
		return "", []string{"no live process is elected at the end"}
	}
	d := line.TS.Sub(c.FaultsEnded)
	detail := fmt.Sprintf("%s elected %v after the last fault", leader.Name, d.Round(time.Millisecond))
	if c.ElectBound > 0 && d > c.ElectBound {
		return detail, []string{fmt.Sprintf("%s elected %v after the last fault, more than %v", leader.Name, d.Round(time.Millisecond), c.ElectBound)}
	}
	return detail, nil
}

// stopped reports whether the test sent p SIGKILL, SIGTERM or SIGSTOP
// (without a later SIGCONT).
func stopped(p *Proc) bool {
	frozen := false
	for _, s := range p.Signals() {
		switch s.Sig {
		case syscall.SIGKILL, syscall.SIGTERM:
			return true
		case syscall.SIGSTOP:
			frozen = true
		case syscall.SIGCONT:
			frozen = false
		}
	}
	return frozen
}

// Require fails tb with the problems of every failed check.
func (v Verdict) Require(tb testing.TB) {
	tb.Helper()
	for _, c := range v.Checks {
		if !c.OK {
			Require(tb, c.Name, c.Problems)
		}
	}
}

// String is a one-line summary: "PASS: no task lost, ...", or the failed
// checks.
func (v Verdict) String() string {
	var ok, bad []string
	for _, c := range v.Checks {
		if c.OK {
			ok = append(ok, c.Name)
		} else {
			bad = append(bad, fmt.Sprintf("%s (%d problems)", c.Name, len(c.Problems)))
		}
	}
	if len(bad) > 0 {
		return "FAIL: " + strings.Join(bad, "; ")
	}
	return "PASS: " + strings.Join(ok, "; ")
}

// Checker is a [Checker] over every process the Env has started so far
// (call it once they are all started).
func (e *Env) Checker() *Checker { return NewChecker(e.Procs()...) }

// Combine merges the verdicts of separate deployments, each checked on its
// own (their epochs, for one, are unrelated), into one: a property holds
// when it holds in every deployment; counts add up; details and problems
// are prefixed with the deployment's name.
func Combine(names []string, vs []Verdict) Verdict {
	out := Verdict{OK: true}
	index := map[string]int{}
	for i, v := range vs {
		name := fmt.Sprint(i)
		if i < len(names) {
			name = names[i]
		}
		c := &out.Counts
		c.Submitted += v.Counts.Submitted
		c.Assignments += v.Counts.Assignments
		c.Starts += v.Counts.Starts
		c.Completed += v.Counts.Completed
		c.Results += v.Counts.Results
		c.Rerun += v.Counts.Rerun
		c.Dropped += v.Counts.Dropped
		c.Masters += v.Counts.Masters
		c.Workers += v.Counts.Workers
		c.Elections += v.Counts.Elections
		c.LostReplies += v.Counts.LostReplies
		c.Acknowledged += v.Counts.Acknowledged
		c.SubmitFailed += v.Counts.SubmitFailed
		c.SubmitUnknown += v.Counts.SubmitUnknown
		c.UnknownApplied += v.Counts.UnknownApplied
		c.Cancelled += v.Counts.Cancelled
		c.Txns += v.Counts.Txns
		c.TakeOvers += v.Counts.TakeOvers
		c.LeaderWrites += v.Counts.LeaderWrites
		c.DeposedRefused += v.Counts.DeposedRefused
		c.DeposedApplied += v.Counts.DeposedApplied
		c.Lost += v.Counts.Lost
		c.Stuck += v.Counts.Stuck
		c.Duplicates += v.Counts.Duplicates
		c.Leaks += v.Counts.Leaks
		c.WorstCompletionMS = max(c.WorstCompletionMS, v.Counts.WorstCompletionMS)
		for _, ch := range v.Checks {
			j, ok := index[ch.Name]
			if !ok {
				j = len(out.Checks)
				index[ch.Name] = j
				out.Checks = append(out.Checks, CheckResult{Name: ch.Name, OK: true})
			}
			m := &out.Checks[j]
			m.OK = m.OK && ch.OK
			if ch.Detail != "" {
				if m.Detail != "" {
					m.Detail += "; "
				}
				m.Detail += name + ": " + ch.Detail
			}
			for _, p := range ch.Problems {
				m.Problems = append(m.Problems, name+": "+p)
			}
		}
		out.OK = out.OK && v.OK
	}
	return out
}
