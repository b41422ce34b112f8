package e2e

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/proctest/scenario"
)

// The worker and client scenarios are shared with test/process (package
// scenario); this suite runs them against a ZooKeeper container and
// describes them for docs/SCENARIOS.md.

func TestWorkerKilledMidTask(t *testing.T) {
	r := newRecorder(t, "1/1/1: the worker is killed mid-task",
		"One master, one worker (concurrency 2) running 1.5 s sleep tasks, one client. The worker is killed with SIGKILL while two tasks run "+
			"and two wait; a new worker (concurrency 4) is started right after. Expected: the master returns the killed worker's tasks to pending once "+
			"its session expires, the new worker runs them (attempt 2), every task has exactly one result.")
	e := newEnv(t, standalone(t).Addr())
	r.Setup(standaloneSetup(e, 1, "1 (concurrency 2), then a new one (concurrency 4)", "4 × client submit, then client result --wait", "sleep 1.5 s"))
	scenario.WorkerKilledMidTask(e, r, false)
}

func TestClientKilled(t *testing.T) {
	r := newRecorder(t, "1/1/1: the client is killed before its task completes",
		"One master (result retention 2 s), one worker, and two clients each running `client submit --wait` of a 1 s task. Both clients "+
			"are killed with SIGKILL while their tasks run. Expected: the tasks finish anyway; another client reads and collects the first "+
			"by id (`client result ID --collect`: result and payload removed at once); the second, left uncollected, is removed by the "+
			"leader (with its payload) once older than the retention, after which `client result` says the task is unknown.")
	e := newEnv(t, standalone(t).Addr())
	r.Setup(standaloneSetup(e, 1, "1 (concurrency 2)", "2 × client submit --wait (killed), then client result by id", "sleep 1 s"))
	scenario.ClientKilled(e, r)
}

func TestWorkerKilledOtherFinishes(t *testing.T) {
	r := newRecorder(t, "1/2/1: one of two workers is killed with tasks in flight",
		"One master, two workers (concurrency 2 each), eight 1 s sleep tasks. The first worker is killed with SIGKILL once it runs two tasks. "+
			"Expected: its tasks are returned to pending when its session expires and finish on the other worker; nothing is lost.")
	e := newEnv(t, standalone(t).Addr())
	r.Setup(standaloneSetup(e, 1, "2 (concurrency 2)", "8 × client submit, then client result --wait", "sleep 1 s"))
	scenario.WorkerKilledOtherFinishes(e, r)
}

func TestTwoClientsTwoWorkers(t *testing.T) {
	r := newRecorder(t, "2/2/1: two clients and two workers compete",
		"One master, two workers (concurrency 4 each), two `client run` loops of 150 echo tasks each (8 in flight each), at once. "+
			"Expected: every task runs and has exactly one result; both workers work.")
	e := newEnv(t, standalone(t).Addr())
	r.Setup(standaloneSetup(e, 1, "2 (concurrency 4)", "2 × client run (150 tasks, 8 loops)", "echo"))
	scenario.TwoClientsTwoWorkers(e, r, 150)
}
