package proctest

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Exact log messages the checks rely on.
const (
	MsgJoined             = "joined election"
	MsgBackup             = "standing by as backup"
	MsgElected            = "elected: leading"
	MsgTookOver           = "took over"
	MsgAssignedTasks      = "assigned tasks"
	MsgAssigned           = "assigned" // debug, one per task: fields task, worker
	MsgAssignRefused      = "assignment refused"
	MsgDeposed            = "deposed: stepping down to backup"
	MsgLeftTerm           = "leaving the term: the leaders or their number changed" // another share is dealt: it takes that over next
	MsgResigned           = "resigned leadership on shutdown"
	MsgWorkerLost         = "worker lost"
	MsgReturned           = "task returned to pending"
	MsgDeadLettered       = "task dead-lettered"
	MsgWorkerReady        = "worker ready"
	MsgRegistered         = "worker registered"
	MsgStarted            = "task started"  // fields task, kind, attempt, epoch
	MsgFinished           = "task finished" // fields task, status, attempt: logged only when the completion was applied
	MsgDropped            = "completion dropped: the task was reassigned, cancelled or finished elsewhere"
	MsgCompletionFailed   = "completion failed; will run the task again if it is still assigned here"
	MsgOutcomeUnknown     = "completion outcome unknown: its reply was lost and the task and its result are already gone (collected)"
	MsgWithdrawn          = "assignment withdrawn; stopping task"
	MsgReregistering      = "session lost; registering again"
	MsgSessionExpired     = "zookeeper session expired"
	MsgSessionEstablished = "zookeeper session established"
)

// History is what a run left in the logs of its processes. Its checks
// return the problems they find (empty: none) so that a test can report
// them all; [Require] fails the test with them.
type History struct {
	Procs   []*Proc
	Masters []*Proc
	Workers []*Proc
}

// NewHistory gathers procs (their lines are read at each check, so a
// History built before the run ends sees the whole run).
func NewHistory(procs ...*Proc) *History {
	h := &History{Procs: procs}
	for _, p := range procs {
		switch p.Role {
		case "master":
			h.Masters = append(h.Masters, p)
		case "worker":
			h.Workers = append(h.Workers, p)
		}
	}
	return h
}

// Require fails tb with every problem, if any.
func Require(tb testing.TB, what string, problems []string) {
	tb.Helper()
	if len(problems) == 0 {
		return
	}
	const most = 20
	shown := problems
	if len(shown) > most {
		shown = shown[:most]
	}
	tb.Errorf("%s: %d problem(s):\n  %s", what, len(problems), strings.Join(shown, "\n  "))
}

// byTask returns the lines of procs that p matches, keyed by their "task"
// field.
func (h *History) byTask(procs []*Proc, p Pred) map[string][]Line {
	out := map[string][]Line{}
	for _, w := range procs {
		for _, l := range w.Logs() {
			if p(l) {
				id := l.Str("task")
				out[id] = append(out[id], l)
			}
		}
	}
	return out
}

// Finished returns the workers' "task finished" lines (applied
// completions) by task id.
//
// A completion whose reply was lost and whose result was collected before
// the worker looked again is logged as MsgOutcomeUnknown (the worker cannot
// tell it from a cancel collected as fast); it counts as finished here, and
// Results checks it against the result the client read.
func (h *History) Finished() map[string][]Line {
	return h.byTask(h.Workers, AnyOf(Msg(MsgFinished), Msg(MsgOutcomeUnknown)))
}

// FinishedGiven is Finished knowing the results the clients read: a
// MsgOutcomeUnknown line is not an applied completion when the result says
// another run (another worker, or another attempt) completed the task. That
// happens when a worker loses its connection during its completion, the
// master takes the task back meanwhile and another worker completes it,
// and the client collects it before the first worker looks again.
func (h *History) FinishedGiven(results map[string]Result) map[string][]Line {
	ids := h.workerIDs()
	out := map[string][]Line{}
	for id, ls := range h.Finished() {
		r, known := results[id]
		for _, l := range ls {
			if l.Msg == MsgOutcomeUnknown && known && (ids[l.Proc] != r.Worker || l.Str("attempt") != fmt.Sprint(r.Attempts)) {
				continue
			}
			out[id] = append(out[id], l)
		}
		if len(out[id]) == 0 {
			delete(out, id)
		}
	}
	return out
}

// workerIDs maps each worker process's name to its --id: a worker
// restarted under the same id is one worker with several processes.
func (h *History) workerIDs() map[string]string {
	ids := map[string]string{}
	for _, w := range h.Workers {
		ids[w.Name] = w.ID
	}
	return ids
}

// Started returns the workers' "task started" lines by task id.
func (h *History) Started() map[string][]Line { return h.byTask(h.Workers, Msg(MsgStarted)) }

// Dropped returns the workers' "completion dropped" lines by task id.
func (h *History) Dropped() map[string][]Line { return h.byTask(h.Workers, Msg(MsgDropped)) }

// Assigned returns the masters' debug "assigned" lines by task id.
func (h *History) Assigned() map[string][]Line { return h.byTask(h.Masters, Msg(MsgAssigned)) }

// ExactlyOnce checks that no task's completion was applied twice: a
// worker logs "task finished" only when its completion multi was applied,
// and a duplicate completion must be dropped ("completion dropped").
func (h *History) ExactlyOnce() []string { return exactlyOnce(h.Finished()) }

func exactlyOnce(finished map[string][]Line) []string {
	var problems []string
	for id, ls := range finished {
		if len(ls) > 1 {
			problems = append(problems, fmt.Sprintf("task %s completed %d times: %s", id, len(ls), joinLines(ls)))
		}
	}
	sort.Strings(problems)
	return problems
}

// AttemptsDistinct checks that one assignment (an attempt number) of a
// task was never run by two different workers: the master writes each
// attempt into exactly one worker's assign/ directory. A worker restarted
// under the same --id runs again what its directory still holds: that is
// the same worker.
func (h *History) AttemptsDistinct() []string {
	var problems []string
	ids := h.workerIDs()
	for id, ls := range h.Started() {
		seen := map[string]Line{}
		for _, l := range ls {
			a := l.Str("attempt")
			if prev, ok := seen[a]; ok && ids[prev.Proc] != ids[l.Proc] {
				problems = append(problems, fmt.Sprintf("task %s attempt %s started on two workers: %s | %s", id, a, prev, l))
			}
			seen[a] = l
		}
	}
	sort.Strings(problems)
	return problems
}

// DeposedQuiet checks that no master assigned anything between stepping
// down ("deposed: stepping down to backup", "resigned leadership on
// shutdown") and its next "elected: leading", nor before its first one,
// and that every "assigned" line carries the epoch the master was elected
// with.
func (h *History) DeposedQuiet() []string {
	var problems []string
	for _, m := range h.Masters {
		leading, epoch := false, ""
		for _, l := range m.Logs() {
			switch l.Msg {
			case MsgElected:
				leading, epoch = true, l.Str("epoch")
			case MsgDeposed, MsgResigned:
				leading = false
			case MsgAssigned, MsgAssignedTasks:
				switch {
				case !leading:
					problems = append(problems, fmt.Sprintf("%s assigned while not leading: %s", m.Name, l))
				case l.Str("epoch") != epoch:
					problems = append(problems, fmt.Sprintf("%s assigned with epoch %s while leading with epoch %s: %s", m.Name, l.Str("epoch"), epoch, l))
				}
			}
		}
	}
	return problems
}

// Elections returns every master's "elected: leading" lines in time
// order.
func (h *History) Elections() []Line {
	var out []Line
	for _, m := range h.Masters {
		out = append(out, Filter(m.Logs(), Msg(MsgElected))...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out
}

// Epochs checks that epochs only go up: each election's epoch exceeds
// every earlier one's, and no worker ran an assignment of an epoch no
// master was elected with.
//
// Earlier is by log time, which orders one master's elections exactly
// but two masters' only when their take-overs cannot overlap. Leaders of
// partitions (several leading: their lines name their partitions) take
// over concurrently, and the one whose take-over committed first may log
// it a few milliseconds after the other; between two such lines of
// different masters the order is left to the transaction log's check
// (TxnReport), which sees every take-over in zxid order.
func (h *History) Epochs() []string {
	var problems []string
	seen := map[string]Line{}
	var last int64 = -1
	var lastLine Line
	for _, l := range h.Elections() {
		e, ok := l.Int("epoch")
		if !ok {
			problems = append(problems, "election line without an epoch: "+l.String())
			continue
		}
		if prev, dup := seen[l.Str("epoch")]; dup {
			problems = append(problems, fmt.Sprintf("epoch %d elected twice: %s | %s", e, prev, l))
		}
		seen[l.Str("epoch")] = l
		concurrent := l.Proc != lastLine.Proc && l.Has("partitions") && lastLine.Has("partitions")
		if e <= last && !concurrent {
			problems = append(problems, fmt.Sprintf("epoch went from %d to %d: %s | %s", last, e, lastLine, l))
		}
		if e > last {
			last, lastLine = e, l
		}
	}
	for _, ls := range h.Started() {
		for _, l := range ls {
			if _, ok := seen[l.Str("epoch")]; !ok && len(h.Masters) > 0 {
				problems = append(problems, "task started with an epoch no master was elected with: "+l.String())
			}
		}
	}
	return problems
}

// Check runs the checks that hold for every run: ExactlyOnce,
// AttemptsDistinct, DeposedQuiet and Epochs. It fails tb with what it
// finds.
func (h *History) Check(tb testing.TB) {
	tb.Helper()
	Require(tb, "exactly-once", h.ExactlyOnce())
	Require(tb, "attempts", h.AttemptsDistinct())
	Require(tb, "deposed masters", h.DeposedQuiet())
	Require(tb, "epochs", h.Epochs())
}

// Concurrency is a worker's concurrency, from its registration line.
func Concurrency(w *Proc) int {
	for _, l := range w.Logs() {
		if l.Msg == MsgRegistered {
			if n, ok := l.Int("concurrency"); ok {
				return int(n)
			}
		}
	}
	return 0
}

// UnloggedAllowance is how many applied completions may be missing from
// the logs: a worker killed with SIGKILL between its completion multi and
// its "task finished" line leaves a result without a line. At most one per
// slot of each killed worker.
func (h *History) UnloggedAllowance() int {
	n := 0
	for _, w := range h.Workers {
		if !w.KilledAt().IsZero() {
			n += Concurrency(w)
		}
	}
	return n
}

// Completions checks the worker logs against the number of tasks the
// clients got a result for: distinct finished tasks must not exceed total
// and may fall short only by [History.UnloggedAllowance].
func (h *History) Completions(total int) []string {
	n := len(h.Finished())
	allow := h.UnloggedAllowance()
	switch {
	case n > total:
		return []string{fmt.Sprintf("workers completed %d distinct tasks, but only %d were submitted", n, total)}
	case n < total-allow:
		return []string{fmt.Sprintf("workers logged %d completed tasks of %d submitted (at most %d may go unlogged, by killed workers)", n, total, allow)}
	}
	return nil
}

// Results checks the results the clients read for ids: every id has one,
// it succeeded, and it agrees with the worker logs (the worker and attempt
// of its "task finished" line). A result without a "task finished" line is
// accepted only from a worker the test killed with SIGKILL (its line may
// have been lost with it). A worker restarted under the same --id is one
// worker with several processes.
func (h *History) Results(ids []string, results map[string]Result) []string {
	return h.results(ids, results, h.Finished())
}

func (h *History) results(ids []string, results map[string]Result, finished map[string][]Line) []string {
	var problems []string
	procs := map[string]bool{} // names of a worker id's processes, "id/name"
	for _, w := range h.Workers {
		procs[w.ID+"/"+w.Name] = true
	}
	// killedRunning: the result's run started in a process of its worker
	// that the test later killed.
	killedRunning := func(r Result) bool {
		for _, w := range h.Workers {
			if k := w.KilledAt(); w.ID == r.Worker && !k.IsZero() && !r.StartedAt.Before(w.Started) && !r.StartedAt.After(k) {
				return true
			}
		}
		return false
	}
	for _, id := range ids {
		r, ok := results[id]
		if !ok {
			problems = append(problems, fmt.Sprintf("task %s: no result (lost)", id))
			continue
		}
		if r.Status != "succeeded" {
			problems = append(problems, fmt.Sprintf("task %s: status %s, error %q (worker %s, attempt %d)", id, r.Status, r.Error, r.Worker, r.Attempts))
		}
		ls := finished[id]
		switch {
		case len(ls) == 1:
			if !procs[r.Worker+"/"+ls[0].Proc] || ls[0].Str("attempt") != fmt.Sprint(r.Attempts) {
				problems = append(problems, fmt.Sprintf("task %s: result from worker %s attempt %d, but the log says %s", id, r.Worker, r.Attempts, ls[0]))
			}
		case len(ls) == 0:
			if !killedRunning(r) {
				problems = append(problems, fmt.Sprintf("task %s: result from worker %s attempt %d, which never logged finishing it", id, r.Worker, r.Attempts))
			}
		}
	}
	return problems
}

// Fenced checks the master m that the test paused with SIGSTOP at stop
// (it was leading) and continued later: from stop until m is elected
// again it assigned nothing but the remainder of the one batch whose multi
// it had already sent when it froze (that multi was applied before its
// session expired: the lines up to the first "assigned tasks" after stop),
// and every such line carries its old epoch. It returns the old epoch.
func (h *History) Fenced(m *Proc, stop time.Time) (epoch int64, problems []string) {
	return h.fenced(m, stop, false)
}

// FencedCut is [History.Fenced] for a master cut off from ZooKeeper at
// stop rather than frozen: the reply to the batch it had in flight may
// never reach it (the link is gone), so it may not log that batch at all.
// An assignment of its epoch that a worker started before a newer leader
// was elected is then accepted too: the write happened before the start,
// which happened before the takeover, while m still led.
func (h *History) FencedCut(m *Proc, stop time.Time) (epoch int64, problems []string) {
	return h.fenced(m, stop, true)
}

func (h *History) fenced(m *Proc, stop time.Time, cut bool) (epoch int64, problems []string) {
	var before, after []Line
	for _, l := range m.Logs() {
		if l.TS.Before(stop) {
			before = append(before, l)
		} else {
			after = append(after, l)
		}
	}
	leading := false
	for _, l := range before {
		switch l.Msg {
		case MsgElected:
			leading = true
			epoch, _ = l.Int("epoch")
		case MsgDeposed, MsgResigned:
			leading = false
		}
	}
	if !leading {
		return 0, []string{m.Name + " was not leading when it was stopped"}
	}
	// What m assigned with its old epoch: before it froze, and the rest of
	// the batch in flight.
	legit := map[string]bool{}
	for _, l := range before {
		if l.Msg == MsgAssigned && l.Str("epoch") == fmt.Sprint(epoch) {
			legit[l.Str("task")] = true
		}
	}
	batchDone := false
	for _, l := range after {
		if l.Msg == MsgElected {
			break
		}
		switch l.Msg {
		case MsgAssigned, MsgAssignedTasks:
			if batchDone {
				problems = append(problems, fmt.Sprintf("%s assigned after it was paused past its session timeout: %s", m.Name, l))
			} else if e, _ := l.Int("epoch"); e != epoch {
				problems = append(problems, fmt.Sprintf("%s finished its in-flight batch with epoch %d, not %d: %s", m.Name, e, epoch, l))
			} else if l.Msg == MsgAssigned {
				legit[l.Str("task")] = true
			}
			if l.Msg == MsgAssignedTasks {
				batchDone = true
			}
		}
	}
	// When the next leader took over: the first election of a newer epoch
	// after stop. With several leaders, others were elected with newer
	// epochs over their own shares before m was stopped; those took
	// nothing from m.
	var takeover time.Time
	for _, l := range h.Elections() {
		if e, ok := l.Int("epoch"); ok && e > epoch && !l.TS.Before(stop) {
			takeover = l.TS
			break
		}
	}
	// Every assignment a worker ran with the old epoch is one of those:
	// nothing else was written with the old fence.
	for _, ls := range h.Started() {
		for _, l := range ls {
			if cut && !takeover.IsZero() && l.TS.Before(takeover) {
				continue
			}
			if l.Str("epoch") == fmt.Sprint(epoch) && !legit[l.Str("task")] {
				problems = append(problems, fmt.Sprintf("a worker ran an assignment of epoch %d that %s did not make before it froze: %s", epoch, m.Name, l))
			}
		}
	}
	return epoch, problems
}

// SingleLeader checks the output of election --json processes: at no
// instant did two live processes have "elected" as their latest event. A
// process stops claiming leadership when the test signals it with SIGKILL
// (it is dead) or SIGTERM (it resigns and exits), or when it prints
// another event.
func SingleLeader(procs []*Proc) []string {
	type ev struct {
		at      time.Time
		proc    string
		elected bool
		end     bool // the claim ends: killed or terminated
		line    string
	}
	var evs []ev
	for _, p := range procs {
		for _, l := range p.Out() {
			if !l.JSON || !l.Has("event") {
				continue
			}
			evs = append(evs, ev{at: l.TS, proc: p.Name, elected: l.Str("event") == "elected", line: l.String()})
		}
		for _, s := range p.Signals() {
			if s.Sig == syscall.SIGKILL || s.Sig == syscall.SIGTERM {
				evs = append(evs, ev{at: s.At, proc: p.Name, end: true, line: fmt.Sprintf("%s: test sent %v", p.Name, s.Sig)})
				break
			}
		}
		if p.Exited() {
			evs = append(evs, ev{at: p.ExitedAt(), proc: p.Name, end: true, line: p.Name + ": exited"})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].end && !evs[j].end
	})
	claim := map[string]string{} // proc -> the line of its standing claim
	ended := map[string]bool{}
	var problems []string
	for _, e := range evs {
		switch {
		case e.end:
			ended[e.proc] = true
			delete(claim, e.proc)
		case ended[e.proc]:
			// printed after the test signalled it: it is going
		case e.elected:
			claim[e.proc] = e.line
		default:
			delete(claim, e.proc)
		}
		if len(claim) > 1 {
			var who []string
			for _, l := range claim {
				who = append(who, l)
			}
			sort.Strings(who)
			problems = append(problems, fmt.Sprintf("%d processes elected at %s: %s", len(claim), e.at.UTC().Format(time.RFC3339Nano), strings.Join(who, " | ")))
		}
	}
	return problems
}

func joinLines(ls []Line) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	return strings.Join(s, " | ")
}
