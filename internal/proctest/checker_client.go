package proctest

import (
	"fmt"
	"time"
)

// The checks a [Checker] makes of a [ClientHistory] and of ZooKeeper's
// transaction log (see the fields Client and Txns).

// stamp formats an instant for a problem report.
func stamp(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// fate is what became of a client's task, when something went wrong:
// "stuck" (still under tasks/ at the end, without a result), "unresolved"
// (its submit's reply was lost and the client could not tell whether it
// was applied), "lost" (acknowledged, but no result read); "" otherwise.
func (c *Checker) fate(t ClientTask) string {
	switch {
	case t.Result != nil || (t.Outcome == SubmitUnknown && t.Absent) || t.Outcome == SubmitFailed:
		return ""
	case c.Tree != nil && c.Tree.Tasks[t.ID] != "":
		return "stuck"
	case t.Outcome == SubmitUnknown:
		return "unresolved"
	}
	return "lost"
}

// clientLost: every acknowledged submit has a result the client read, and
// every unknown one was resolved (a result read, or no trace found).
func (c *Checker) clientLost() []string {
	var problems []string
	for _, t := range c.Client.Tasks() {
		what := fmt.Sprintf("task %s (submit %s at %s)", t.ID, t.Outcome, stamp(t.Submitted))
		switch c.fate(t) {
		case "stuck":
			problems = append(problems, fmt.Sprintf("%s: stuck: still under tasks/ without a result: %s", what, c.Tree.Tasks[t.ID]))
		case "unresolved":
			problems = append(problems, what+": unresolved: the client could not tell whether it was applied")
		case "lost":
			if t.Absent {
				problems = append(problems, what+": lost: neither the task nor a result exists")
			} else {
				problems = append(problems, what+": lost: no result read")
			}
		}
	}
	return problems
}

// fates counts the tasks lost (or unresolved) and stuck, of the client's
// tasks, of those submitted one by one and of the client runs.
func (c *Checker) fates() (lost, stuck int) {
	for _, id := range c.Submitted {
		if _, ok := c.Results[id]; !ok {
			lost++
		}
	}
	for _, r := range c.runs {
		lost += r.summary.Lost + r.want - r.summary.Tasks
	}
	if c.Client == nil {
		if c.Tree != nil {
			stuck = len(c.Tree.Tasks)
		}
		return lost, stuck
	}
	for _, t := range c.Client.Tasks() {
		switch c.fate(t) {
		case "stuck":
			stuck++
		case "lost", "unresolved":
			lost++
		}
	}
	return lost, stuck
}

// duplicates counts the tasks with a znode created more than once in
// ZooKeeper's log (two results, two submits) or whose completion a worker
// logged as applied twice.
func (c *Checker) duplicates() int {
	ids := map[string]bool{}
	for id, ls := range c.History.FinishedGiven(c.results()) {
		if len(ls) > 1 {
			ids[id] = true
		}
	}
	if c.Txns != nil {
		for _, m := range c.Txns.Creates {
			for id, n := range m {
				if n > 1 {
					ids[id] = true
				}
			}
		}
	}
	return len(ids)
}

// leaks counts what the tree holds at the end that it should not: tasks,
// assignments, and once every result was collected, results and payloads.
func (c *Checker) leaks() int {
	t := c.Tree
	if t == nil {
		return 0
	}
	n := len(t.Tasks) + t.Assigned()
	if c.Collected {
		n += len(t.Results) + len(t.Data)
	}
	return n
}

// clientResults: each result read is the task's own and the right one: a
// success carries the output the client expects, a cancellation follows a
// cancel the client asked for, and nothing else ends a task here.
func (c *Checker) clientResults() []string {
	if c.Client == nil {
		return nil
	}
	var problems []string
	for _, t := range c.Client.Tasks() {
		r := t.Result
		if r == nil {
			continue
		}
		what := fmt.Sprintf("task %s (%s, submitted at %s)", t.ID, t.Kind, stamp(t.Submitted))
		switch {
		case r.ID != t.ID:
			problems = append(problems, fmt.Sprintf("%s: the client read the result of %q", what, r.ID))
		case r.Status == "succeeded" && r.Output != t.Want:
			problems = append(problems, fmt.Sprintf("%s: output %q, want %q (worker %s, attempt %d)", what, r.Output, t.Want, r.Worker, r.Attempts))
		case r.Status == "cancelled" && t.CancelAsked.IsZero():
			problems = append(problems, fmt.Sprintf("%s: cancelled (%s), but the client never asked", what, r.Error))
		case r.Status != "succeeded" && r.Status != "cancelled":
			problems = append(problems, fmt.Sprintf("%s: status %s, error %q (worker %s, attempt %d)", what, r.Status, r.Error, r.Worker, r.Attempts))
		}
	}
	return problems
}

// createdOnce checks ZooKeeper's log against the client: every task,
// payload and result created at most once; an acknowledged submit's task
// exactly once, a failed one's never, an unknown one's as the client found
// it; every result the client read created exactly once; and, the client
// being the only submitter, no task created that it did not submit.
func (c *Checker) createdOnce() []string {
	if c.Txns == nil {
		return nil
	}
	var problems []string
	for _, part := range []string{PartTasks, PartData, PartResults} {
		for _, id := range keys(c.Txns.Creates[part]) {
			if n := c.Txns.Creates[part][id]; n > 1 {
				problems = append(problems, fmt.Sprintf("task %s: %s/ znode created %d times", id, part, n))
			}
		}
	}
	if c.Client == nil {
		return problems
	}
	known := map[string]bool{}
	for _, t := range c.Client.Tasks() {
		known[t.ID] = true
		n := c.Txns.Creates[PartTasks][t.ID]
		var want string
		switch {
		case t.Outcome == SubmitAcked && n != 1:
			want = "exactly once (acknowledged)"
		case t.Outcome == SubmitFailed && n != 0:
			want = "never (the submit failed)"
		case t.Outcome == SubmitUnknown && t.Absent && n != 0:
			want = "never (the client found no trace of it)"
		case t.Result != nil && n != 1:
			want = "exactly once (the client read its result)"
		}
		if want != "" {
			problems = append(problems, fmt.Sprintf("task %s (submit %s at %s): created %d times in ZooKeeper's log, want %s", t.ID, t.Outcome, stamp(t.Submitted), n, want))
		}
		if t.Result != nil && c.Txns.Creates[PartResults][t.ID] != 1 {
			problems = append(problems, fmt.Sprintf("task %s: the client read a result created %d times in ZooKeeper's log", t.ID, c.Txns.Creates[PartResults][t.ID]))
		}
	}
	if len(c.Submitted) == 0 && len(c.runs) == 0 {
		for _, part := range []string{PartTasks, PartResults} {
			for _, id := range keys(c.Txns.Creates[part]) {
				if !known[id] {
					problems = append(problems, fmt.Sprintf("task %s: a %s/ znode was created, but no client submitted it", id, part))
				}
			}
		}
	}
	return problems
}

// clientDetail describes what the client saw.
func (c *Checker) clientDetail() string {
	var acked, failed, unknown, applied, absent, read, collected int
	for _, t := range c.Client.Tasks() {
		switch t.Outcome {
		case SubmitAcked:
			acked++
		case SubmitFailed:
			failed++
		case SubmitUnknown:
			unknown++
			if t.Result != nil {
				applied++
			}
			if t.Absent {
				absent++
			}
		}
		if t.Result != nil {
			read++
		}
		if t.Collected {
			collected++
		}
	}
	return fmt.Sprintf("the client's own record: %d submits acknowledged, %d failed, %d with their reply lost (%d found applied, %d found absent); %d results read, %d collected",
		acked, failed, unknown, applied, absent, read, collected)
}
