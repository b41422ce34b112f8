// Command scenariosdoc turns the evidence the end-to-end scenarios leave
// (test/e2e, PADDOCK_E2E_EVIDENCE) into docs/SCENARIOS.md, followed by the
// recorded soak runs (test/soak summaries kept in docs/soak):
//
//	go run ./test/e2e/scenariosdoc -in .tmp/scenarios -out docs/SCENARIOS.md
//
// `make scenarios` runs the suite and then this. With -soak-only it
// rewrites only the soak section of an existing file (`make soak-record`),
// so that recording a soak run does not need the end-to-end suite.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
	"github.com/paddock-zk/paddock/test/soak"
)

// The soak section sits between these markers, so that -soak-only can
// find and replace it.
const (
	soakBegin = "<!-- soak: generated from docs/soak by `make soak-record` (test/e2e/scenariosdoc -soak-only) -->"
	soakEnd   = "<!-- soak: end -->"
)

// order is the order of the scenarios in the report; others follow.
var order = []string{
	"TestWorkerKilledMidTask",
	"TestClientKilled",
	"TestWorkerKilledOtherFinishes",
	"TestTwoClientsTwoWorkers",
	"TestLeaderKilled",
	"TestLeaderTerminated",
	"TestMasterLag",
	"TestMasterCutOff",
	"TestEnsemble/throughput",
	"TestEnsemble/faults",
	"TestElection",
	"TestWorkerCompletionReplyLost",
}

func main() {
	in := flag.String("in", ".tmp/scenarios", "directory of evidence (PADDOCK_E2E_EVIDENCE of the run)")
	out := flag.String("out", "docs/SCENARIOS.md", "markdown file to write")
	soakDir := flag.String("soak", "docs/soak", "directory of recorded soak summaries (test/soak)")
	soakOnly := flag.Bool("soak-only", false, "rewrite only the soak section of -out")
	flag.Parse()
	runs, err := soak.ReadSummaries(*soakDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenariosdoc:", err)
		os.Exit(1)
	}
	if *soakOnly {
		if err := replaceSoak(*out, runs); err != nil {
			fmt.Fprintln(os.Stderr, "scenariosdoc:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "scenariosdoc: wrote the soak section of %s from %d runs\n", *out, len(runs))
		return
	}
	info, scenarios, err := evidence.Read(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenariosdoc:", err)
		os.Exit(1)
	}
	if len(scenarios) == 0 {
		fmt.Fprintf(os.Stderr, "scenariosdoc: no scenario evidence in %s (run the suite with %s=%s)\n", *in, evidence.DirEnv, *in)
		os.Exit(1)
	}
	md := render(info, scenarios) + soakSection(runs)
	if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "scenariosdoc:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "scenariosdoc: wrote %s from %d scenarios\n", *out, len(scenarios))
}

// soakSection is the soak section with its markers.
func soakSection(runs []soak.Summary) string {
	return soakBegin + "\n\n" + soak.Markdown(runs) + soakEnd + "\n"
}

// replaceSoak rewrites the soak section of the markdown file name (appending
// it when the file has none).
func replaceSoak(name string, runs []soak.Summary) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	md := string(b)
	if i, j := strings.Index(md, soakBegin), strings.Index(md, soakEnd); i >= 0 && j > i {
		md = md[:i] + soakSection(runs) + strings.TrimPrefix(md[j+len(soakEnd):], "\n")
	} else {
		md = strings.TrimRight(md, "\n") + "\n\n" + soakSection(runs)
	}
	return os.WriteFile(name, []byte(md), 0o644)
}

func sorted(scenarios map[string]*evidence.Scenario) []*evidence.Scenario {
	var out []*evidence.Scenario
	seen := map[string]bool{}
	for _, n := range order {
		if s, ok := scenarios[n]; ok {
			out = append(out, s)
			seen[n] = true
		}
	}
	var rest []string
	for n := range scenarios {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	for _, n := range rest {
		out = append(out, scenarios[n])
	}
	return out
}

// dur formats milliseconds.
func dur(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 1000:
		return fmt.Sprintf("%.2f s", ms/1000)
	default:
		return fmt.Sprintf("%.0f ms", ms)
	}
}

func value(m evidence.Measure) string {
	switch m.Unit {
	case "ms":
		return dur(m.Value)
	case "":
		return trimFloat(m.Value)
	default:
		return trimFloat(m.Value) + " " + m.Unit
	}
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func verdictWord(ok bool) string {
	if ok {
		return "**PASS**"
	}
	return "**FAIL**"
}

func esc(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// m looks a measure up; "(not measured)" when the scenario or the measure
// is missing.
type lookup map[string]*evidence.Scenario

func (l lookup) m(scenario, measure string) string {
	if s, ok := l[scenario]; ok {
		if v, ok := s.Measure(measure); ok {
			return value(v)
		}
	}
	return "(not measured)"
}

// num is a measure's number alone.
func (l lookup) num(scenario, measure string) string {
	if s, ok := l[scenario]; ok {
		if v, ok := s.Measure(measure); ok {
			return trimFloat(v.Value)
		}
	}
	return "(not measured)"
}

func (l lookup) fact(scenario, key string) string {
	if s, ok := l[scenario]; ok {
		if v, ok := s.Facts[key]; ok {
			return v
		}
	}
	return "(not recorded)"
}

func (l lookup) passed(scenario string) string {
	s, ok := l[scenario]
	if !ok {
		return "not run"
	}
	if s.Passed && (s.Verdict == nil || s.Verdict.OK) {
		return "passed"
	}
	return "FAILED"
}

func render(info evidence.RunInfo, scenarios map[string]*evidence.Scenario) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	list := sorted(scenarios)
	l := lookup(scenarios)

	p("# Fault scenarios, measured\n\n")
	p("<!-- Generated by `make scenarios` (test/e2e/scenariosdoc) from the evidence of one run of test/e2e. Do not edit by hand. -->\n\n")
	p("Every number below was measured in one run of the end-to-end suite (`test/e2e`)")
	if !info.Started.IsZero() {
		p(" on %s", info.Started.UTC().Format("2006-01-02 15:04 MST"))
	}
	p(": ZooKeeper in Docker containers started with testcontainers-go %s, Paddock's four binaries as host processes that the tests "+
		"kill (`kill -9`), stop (`SIGTERM`), freeze (`SIGSTOP`/`SIGCONT`) or cut off, and one history checker "+
		"(`internal/proctest`, `Checker`) judging every scenario.\n\n", orDash(info.Testcontainer))
	p("| | |\n| --- | --- |\n")
	p("| machine | %d CPUs, %s, kernel %s |\n", info.CPUs, orDash(info.Host), orDash(info.Kernel))
	p("| Docker engine | %s (API %s, negotiated by the client) |\n", orDash(info.DockerServer), orDash(info.DockerAPI))
	p("| ZooKeeper image | `%s`: %s |\n", orDash(info.Image), orDash(info.ImageSource))
	p("| ZooKeeper | tickTime 250 ms (sessions of 0.5 to 5 s can be granted), its own zoo.cfg copied into each container |\n")
	p("| Paddock | masters, workers and election processes with `--session-timeout 1.5s`; JSON logs at debug level |\n")
	p("| Go | %s |\n", orDash(info.GoVersion))
	if info.Seconds > 0 {
		p("| the run | %.0f s in all, %s |\n", info.Seconds, map[bool]string{true: "every test passed", false: "**some test failed**"}[info.Passed])
	}
	p("\nRegenerate with `make scenarios` (it runs the suite with `PADDOCK_E2E_EVIDENCE=.tmp/scenarios` and then " +
		"`go run ./test/e2e/scenariosdoc`). Times vary from run to run, mostly with the load of a 2-core machine; the bounds the " +
		"tests hold them to are in the tables.\n\n")

	// Summary.
	p("## Summary\n\n| scenario | verdict | what was measured |\n| --- | --- | --- |\n")
	for _, s := range list {
		ok := s.Passed && (s.Verdict == nil || s.Verdict.OK)
		p("| [%s](#%s) | %s | %s |\n", esc(s.Title), anchor(s.Title), verdictWord(ok), esc(keyMeasures(s)))
	}
	p("\n")

	bugs(&b, list)
	answers(&b, l)

	p("## The checker\n\n")
	p("Every scenario ends with the same history checker (`internal/proctest/checker.go`). It reads the JSON logs of every " +
		"master and worker (each assignment with its epoch, each task started, each completion that was applied, each election), " +
		"the results the clients read, the summaries of the `client run` loops, and the ZooKeeper tree left at the end, and judges:\n\n")
	p("- **%s**: every task submitted has a result (each `client run` got a successful result for every task it started), the workers "+
		"applied as many distinct completions as tasks were submitted (a completion its worker logged as dropped counts as applied when "+
		"that worker is the only one that ever ran the task: its reply was lost, see the last scenario), and nothing is left pending or "+
		"assigned in the tree;\n", proctest.CheckNoTaskLost)
	p("- **%s**: no completion applied twice, no attempt of a task run by two workers, every result matches the worker "+
		"that logged it (execution is at-least-once: a rerun's late completion must be dropped);\n", proctest.CheckExactlyOnce)
	p("- **%s**: no master assigned while not leading or with another epoch than its own, epochs only grow, and a leader "+
		"that the test froze or cut off wrote nothing after that instant but the batch already in flight (no worker ran an "+
		"assignment of its epoch that it had not made before);\n", proctest.CheckNoDeposedWrites)
	p("- **%s**: each task completed within the scenario's bound of the later of its submission (a task id carries its "+
		"submit time) and the end of the faults;\n", proctest.CheckCompletionBound)
	p("- for the election scenario, **%s** (from the processes' `elected`/`following` events and the signals the test sent) "+
		"and **%s**.\n\n", proctest.CheckSingleLeader, proctest.CheckLiveLeader)
	p("The same checker judges the [randomized soak](#randomized-soak-make-soak) from evidence that does not come from Paddock's "+
		"logs as well: the client's own record of every submit and result, and the ZooKeeper servers' transaction logs (**%s**).\n\n",
		proctest.CheckHistoryComplete)

	p("## Scenarios\n\n")
	for _, s := range list {
		scenario(&b, s)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// keyMeasures are the bounded measures of a scenario, for the summary.
func keyMeasures(s *evidence.Scenario) string {
	var parts []string
	for _, m := range s.Measures {
		if m.Bound > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", m.Name, value(m)))
		}
	}
	if len(parts) == 0 {
		for _, r := range s.Runs {
			parts = append(parts, fmt.Sprintf("%s: %.0f tasks/s, p50 %s", r.Label, r.TasksPerSec, dur(r.LatencyP50)))
		}
	}
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return strings.Join(parts, "; ")
}

func scenario(b *strings.Builder, s *evidence.Scenario) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	ok := s.Passed && (s.Verdict == nil || s.Verdict.OK)
	p("### %s\n\n", s.Title)
	p("`%s` — %s in %.1f s.\n\n", s.Name, verdictWord(ok), s.Seconds)
	p("%s\n\n", s.About)
	st := s.Setup
	p("| setup | |\n| --- | --- |\n")
	p("| ZooKeeper | %s; image `%s`; tickTime %s |\n", esc(st.ZooKeeper), esc(st.Image), esc(st.TickTime))
	if st.Masters > 0 {
		p("| masters | %d |\n", st.Masters)
	}
	if st.Workers != "" && st.Workers != "-" {
		p("| workers | %s |\n", esc(st.Workers))
	}
	if st.Clients != "" && st.Clients != "-" {
		p("| clients | %s |\n", esc(st.Clients))
	}
	if st.Tasks != "" && st.Tasks != "-" {
		p("| tasks | %s |\n", esc(st.Tasks))
	}
	p("| session timeout | %s |\n\n", esc(st.SessionTimeout))
	for _, n := range s.Notes {
		p("Note: %s.\n\n", strings.TrimSuffix(n, "."))
	}
	if len(s.Events) > 0 {
		p("What was done and seen (seconds from the scenario's start):\n\n| t (s) | event |\n| ---: | --- |\n")
		for _, e := range s.Events {
			p("| %.2f | %s |\n", e.At, esc(e.What))
		}
		p("\n")
	}
	if len(s.Measures) > 0 {
		p("| measured | value | bound |\n| --- | ---: | ---: |\n")
		for _, m := range s.Measures {
			bound := ""
			if m.Bound > 0 {
				bound = "≤ " + dur(m.Bound)
				if !m.OK {
					bound += " **exceeded**"
				}
			}
			p("| %s | %s | %s |\n", esc(m.Name), value(m), bound)
		}
		p("\n")
	}
	if len(s.Runs) > 0 {
		p("| client run | exit | tasks | succeeded | lost | tasks/s | p50 | p99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range s.Runs {
			p("| %s | %d | %d | %d | %d | %.0f | %s | %s | %s |\n", esc(r.Label), r.Code, r.Tasks, r.Succeeded, r.Lost, r.TasksPerSec,
				dur(r.LatencyP50), dur(r.LatencyP99), dur(r.LatencyMax))
		}
		p("\n")
	}
	if v := s.Verdict; v != nil {
		p("Checker's verdict: %s\n\n| property | holds | detail |\n| --- | --- | --- |\n", verdictWord(v.OK))
		for _, c := range v.Checks {
			mark := "yes"
			if !c.OK {
				mark = fmt.Sprintf("**no** (%d problems)", len(c.Problems))
			}
			p("| %s | %s | %s |\n", esc(c.Name), mark, esc(c.Detail))
		}
		c := v.Counts
		p("\nHistory: %d tasks submitted, %d assignments logged by masters, %d runs started, %d distinct completions applied, %d results read, "+
			"%d tasks rerun, %d late completions dropped; %d masters, %d workers, %d elections.",
			c.Submitted, c.Assignments, c.Starts, c.Completed, c.Results, c.Rerun, c.Dropped-c.LostReplies, c.Masters, c.Workers, c.Elections)
		if c.LostReplies > 0 {
			p(" %d completions were applied although their worker logged them as dropped (the reply was lost to a connection loss).", c.LostReplies)
		}
		p("\n\n")
		for _, ch := range v.Checks {
			for i, pr := range ch.Problems {
				if i == 10 {
					p("- ... and %d more\n", len(ch.Problems)-10)
					break
				}
				p("- %s: %s\n", ch.Name, esc(pr))
			}
		}
		p("\n")
	}
}

// bugs lists the scenarios that failed, with what the test recorded.
func bugs(b *strings.Builder, list []*evidence.Scenario) {
	var failed []*evidence.Scenario
	for _, s := range list {
		if !s.Passed || (s.Verdict != nil && !s.Verdict.OK) {
			failed = append(failed, s)
		}
	}
	if len(failed) == 0 {
		return
	}
	fmt.Fprintf(b, "## Failures\n\n")
	for _, s := range failed {
		fmt.Fprintf(b, "- [%s](#%s) (`%s`)", s.Title, anchor(s.Title), s.Name)
		if bug, ok := s.Facts["bug"]; ok {
			fmt.Fprintf(b, ": product bug: %s", esc(bug))
		}
		fmt.Fprintf(b, "\n")
	}
	fmt.Fprintf(b, "\n")
}

// answers writes the answers to the seed's questions from the measures.
func answers(b *strings.Builder, l lookup) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Answers from the measurements\n\n")

	p("### What kind of fault is a lagging master, and what does Paddock do?\n\n")
	p("A master that lags — frozen by a long GC pause, a stalled VM, `SIGSTOP` — has not crashed: it is a *timing* (performance) " +
		"fault of a process that will resume believing what it believed before, including that it leads. To the rest of the " +
		"system it is indistinguishable from a crash until it wakes: ZooKeeper's only failure detector is the session timeout, so " +
		"once the frozen leader's session expires its ephemeral candidacy is deleted and the backup is elected. The danger is the " +
		"wake-up: a *zombie leader* acting on stale leadership (split brain). A leader cut off from ZooKeeper while it keeps running " +
		"(a partition) is the same fault seen from the other side: alive, but unable to learn that it was replaced.\n\n")
	p("Paddock makes the zombie harmless by fencing, not by timing: every write a leader makes is a `multi` that begins with "+
		"`check(own candidate)` and `check(epoch, version)`; a new leader bumps the epoch when it takes over. Measured (scenario "+
		"[master lag](#%s), %s; [cut off](#%s), %s):\n\n", anchor(titleOf(l, "TestMasterLag")), l.passed("TestMasterLag"),
		anchor(titleOf(l, "TestMasterCutOff")), l.passed("TestMasterCutOff"))
	p("| | leader frozen (SIGSTOP) | leader cut off (link blackholed) |\n| --- | --- | --- |\n")
	p("| fault lasted | %s | %s |\n", l.m("TestMasterLag", "frozen for"), cutFor(l))
	p("| fault → backup elected | %s | %s |\n", l.m("TestMasterLag", "SIGSTOP → backup elected"), l.m("TestMasterCutOff", "cut → backup elected"))
	p("| fault → first assignment by the new leader | %s | %s |\n", l.m("TestMasterLag", "SIGSTOP → first assignment by the new master"),
		l.m("TestMasterCutOff", "cut → first assignment by the new master"))
	p("| old leader resumes (SIGCONT / link healed) → it knows it is deposed | %s | %s |\n", l.m("TestMasterLag", "SIGCONT → old leader finds itself deposed"),
		l.m("TestMasterCutOff", "heal → old leader finds itself deposed"))
	p("| → it stands by as backup | %s | %s |\n", l.m("TestMasterLag", "SIGCONT → old leader stands by as backup"), l.m("TestMasterCutOff", "heal → old leader stands by as backup"))
	p("| why it stepped down (its log) | `%s` | `%s` |\n", l.fact("TestMasterLag", "deposed_error"), l.fact("TestMasterCutOff", "deposed_error"))
	p("| assignments it logged after the fault began | %s | %s |\n",
		l.m("TestMasterLag", "assignments m1 logged after SIGCONT (its batch already applied before it froze)"),
		l.m("TestMasterCutOff", "assignments m1 logged after the cut (its batch in flight)"))
	p("| checker: no assignment by a deposed master | %s | %s |\n\n", checkOK(l, "TestMasterLag", proctest.CheckNoDeposedWrites), checkOK(l, "TestMasterCutOff", proctest.CheckNoDeposedWrites))
	p("In these runs the old leader learned of its deposition from its session (the error in its log): the Go client reconnects, the " +
		"server answers that the session expired, and Paddock turns that into \"deposed: stepping down to backup\" before its next write. " +
		"Had a write gone out first, the fence would have failed it on the server: its candidate znode went with the expired session and the " +
		"epoch had moved on (`TestFenceStopsADeposedLeader` and `TestFenceStopsALeaderWhoseSessionExpired` in `internal/coord` exercise that path). " +
		"An assignment the old leader logs after the fault began is the rest of the batch whose multi ZooKeeper had applied before the " +
		"freeze or the cut (it logs after the reply); the checker verifies that no worker ran any other assignment of the old epoch. No other " +
		"write of the old leader was applied, tasks kept flowing under the new leader, and every task got exactly one result.\n\n")

	p("### Standalone ZooKeeper or a 3-server ensemble?\n\n")
	p("Same deployment (one master, two workers of concurrency 8), same load (%s), each configuration run twice "+
		"([scenario](#%s), %s):\n\n", benchLoad(l), anchor(titleOf(l, "TestEnsemble/throughput")), l.passed("TestEnsemble/throughput"))
	p("| ZooKeeper | run | tasks/s | p50 | p99 | max | ZooKeeper transactions per task |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
	if s, ok := l["TestEnsemble/throughput"]; ok {
		for _, r := range s.Runs {
			tx := "-"
			if m, ok := s.Measure(r.Label + ": ZooKeeper transactions per task"); ok {
				tx = fmt.Sprintf("%.2f", m.Value)
			}
			cfg, run, _ := strings.Cut(r.Label, " #")
			p("| %s | #%s | %.0f | %s | %s | %s | %s |\n", esc(cfg), run, r.TasksPerSec, dur(r.LatencyP50), dur(r.LatencyP99), dur(r.LatencyMax), tx)
		}
	}
	p("\nAn ensemble commits a write only once a quorum has logged it (the leader proposes, the followers append it to their "+
		"transaction log and fsync, the leader commits), so each of a task's writes — its submit, its assignment, its completion, its "+
		"collection, each one multi (the master batches assignments and the workers batch completions, hence fewer than four "+
		"transactions per task) — pays a round of replication: higher latency, lower throughput. Paddock's protocol is the same "+
		"either way: the transactions per task do not change. On this 2-core machine the three JVMs also share the cores and the "+
		"disk, so the comparison measures replication plus that contention; on separate hosts the contention goes and a network "+
		"round trip comes in. With one follower down, the two remaining servers still form a quorum (both must log each write) "+
		"and there is one JVM less on the cores; here that configuration ran %s.\n\n", followerDown(l))
	p("What the ensemble buys is surviving a server ([scenario](#%s), %s): with the ZooKeeper *leader* stopped while tasks flowed, "+
		"a new ZooKeeper leader served after %s and tasks completed again %s after the stop. The followers drop their clients while "+
		"they elect a new leader, so Paddock's processes reconnected: %s of them resumed their session on a server, %s sessions expired, "+
		"nothing was lost. With a second server stopped there is no quorum: the last server stops serving, %s tasks completed in that time, "+
		"`client submit` failed with a clear error (%s) and `client status` likewise (%s), while the running processes waited (%s sessions "+
		"expired during the outage: without a quorum nothing expires). When both servers were started again all three served after %s, tasks completed again after %s, and every task "+
		"of the run completed: %s.\n\n",
		anchor(titleOf(l, "TestEnsemble/faults")), l.passed("TestEnsemble/faults"),
		l.m("TestEnsemble/faults", "ZooKeeper leader stopped → a new ZooKeeper leader serves"),
		l.m("TestEnsemble/faults", "ZooKeeper leader stopped → tasks complete again"),
		l.num("TestEnsemble/faults", "processes that resumed their session (\"session resumed\")"),
		l.num("TestEnsemble/faults", "sessions expired while one server was down"),
		l.num("TestEnsemble/faults", "tasks completed without quorum (from 0.5 s after the second stop)"),
		"`"+l.fact("TestEnsemble/faults", "submit_no_quorum")+"`",
		"`"+l.fact("TestEnsemble/faults", "status_no_quorum")+"`",
		l.num("TestEnsemble/faults", "sessions reported expired during the outage"),
		l.m("TestEnsemble/faults", "servers restarted → all 3 serve again"),
		l.m("TestEnsemble/faults", "servers restarted → tasks complete again"),
		runLine(l, "TestEnsemble/faults"))
	p("A standalone server is a single point of failure: stopping it is the no-quorum case above, for as long as it is down. Use it for " +
		"development and tests; run three servers (or five, to survive two) in production.\n\n")
}

// followerDown compares the mean throughput of the ensemble with and
// without a follower.
func followerDown(l lookup) string {
	s, ok := l["TestEnsemble/throughput"]
	if !ok {
		return "(not measured)"
	}
	mean := func(prefix string) float64 {
		var sum float64
		n := 0
		for _, r := range s.Runs {
			if strings.HasPrefix(r.Label, prefix+" #") {
				sum += r.TasksPerSec
				n++
			}
		}
		if n == 0 {
			return 0
		}
		return sum / float64(n)
	}
	full, down := mean("ensemble of 3"), mean("ensemble, one follower down")
	if full == 0 || down == 0 {
		return "(not measured)"
	}
	switch {
	case down > full*1.1:
		return fmt.Sprintf("faster than the full ensemble (%.0f against %.0f tasks/s on average)", down, full)
	case down < full*0.9:
		return fmt.Sprintf("slower than the full ensemble (%.0f against %.0f tasks/s on average)", down, full)
	default:
		return fmt.Sprintf("about as fast as the full ensemble (%.0f against %.0f tasks/s on average)", down, full)
	}
}

func titleOf(l lookup, name string) string {
	if s, ok := l[name]; ok {
		return s.Title
	}
	return name
}

func cutFor(l lookup) string {
	s, ok := l["TestMasterCutOff"]
	if !ok {
		return "(not measured)"
	}
	var cut, heal float64 = -1, -1
	for _, e := range s.Events {
		switch {
		case strings.HasPrefix(e.What, "blackhole"):
			cut = e.At
		case strings.HasPrefix(e.What, "heal"):
			heal = e.At
		}
	}
	if cut < 0 || heal < 0 {
		return "(not recorded)"
	}
	return dur((heal - cut) * 1000)
}

func checkOK(l lookup, scenario, check string) string {
	s, ok := l[scenario]
	if !ok || s.Verdict == nil {
		return "(not run)"
	}
	for _, c := range s.Verdict.Checks {
		if c.Name == check {
			if c.OK {
				return "holds"
			}
			return fmt.Sprintf("**violated** (%d problems)", len(c.Problems))
		}
	}
	return "(not checked)"
}

func benchLoad(l lookup) string {
	s, ok := l["TestEnsemble/throughput"]
	if !ok {
		return "echo tasks"
	}
	return "`" + s.Setup.Clients + "` of " + s.Setup.Tasks + " tasks"
}

func runLine(l lookup, name string) string {
	s, ok := l[name]
	if !ok || len(s.Runs) == 0 {
		return "(no run recorded)"
	}
	r := s.Runs[0]
	return fmt.Sprintf("%d of %d succeeded, %d lost, the longest wait %s", r.Succeeded, r.Tasks, r.Lost, dur(r.LatencyMax))
}
