package soak

import (
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// Failover is measured from ZooKeeper's transaction log (what the servers
// committed, stamped by the ZooKeeper leader's clock, on the same host as
// the nemesis'), from the instant a fault struck to the transaction that
// shows the service recovered from it. The measure depends on the kind.
const (
	measureNewLeader = "the first assignment by the new leader"
	measureTasks     = "every task it held reassigned or finished"
	measureResult    = "the next task result written"
	measureCancel    = "the cancellation written"
)

// failovers measures every fault and pools the samples per kind.
func failovers(faults []fault, tx *pt.RootTxns) []Failover {
	samples := map[[2]string][]float64{}
	byTask := map[string][]pt.AssignTxn{}
	for _, a := range tx.Assignments {
		byTask[a.Task] = append(byTask[a.Task], a)
	}
	for _, f := range faults {
		measure, d, ok := recovery(f, tx, byTask)
		if ok {
			k := [2]string{f.Kind, measure}
			samples[k] = append(samples[k], float64(d.Microseconds())/1000)
		}
	}
	var out []Failover
	for _, kind := range FaultKinds {
		for _, m := range []string{measureNewLeader, measureTasks, measureResult, measureCancel} {
			if s := samples[[2]string{kind, m}]; len(s) > 0 {
				out = append(out, NewFailover(kind, m, s))
			}
		}
	}
	return out
}

// recovery is how long the service took to recover from f; ok is false
// when the log shows nothing to measure (a worker that held no task, a
// cancel of a task that had finished).
func recovery(f fault, tx *pt.RootTxns, byTask map[string][]pt.AssignTxn) (string, time.Duration, bool) {
	switch f.Kind {
	case leaderKill, leaderStop, leaderCut:
		for _, a := range tx.Assignments {
			if a.At.After(f.At) && a.Epoch > f.Epoch {
				return measureNewLeader, a.At.Sub(f.At), true
			}
		}
	case workerKill, workerStop, workerTerm:
		d, ok := tasksRecovered(f, tx, byTask)
		return measureTasks, d, ok
	case zkKill:
		var first time.Time
		for _, at := range tx.ResultAt {
			if at.After(f.At) && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
		return measureResult, first.Sub(f.At), !first.IsZero()
	case cancelTask:
		if at := tx.ResultAt[f.Target]; f.Detail == "cancelled" && at.After(f.At) {
			return measureCancel, at.Sub(f.At), true
		}
	}
	return "", 0, false
}

// tasksRecovered: the tasks worker f.Target held when f struck, and the
// time until the last of them was assigned to another worker or got its
// result (a SIGTERM'd worker finishes its own).
func tasksRecovered(f fault, tx *pt.RootTxns, byTask map[string][]pt.AssignTxn) (time.Duration, bool) {
	var worst time.Duration
	held := 0
	for _, a := range tx.Assignments {
		if a.Worker != f.Target || a.At.After(f.At) || (!a.Deleted.IsZero() && a.Deleted.Before(f.At)) {
			continue
		}
		held++
		done := tx.ResultAt[a.Task]
		for _, b := range byTask[a.Task] {
			if b.Worker != f.Target && b.At.After(f.At) && (done.IsZero() || b.At.Before(done)) {
				done = b.At
				break
			}
		}
		if done.IsZero() {
			return 0, false // never recovered: the checker reports the task
		}
		worst = max(worst, done.Sub(f.At))
	}
	return worst, held > 0
}
