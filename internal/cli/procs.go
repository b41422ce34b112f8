package cli

import (
	"os"
	"runtime"
)

// DefaultProcs is how many threads run Go code at once (GOMAXPROCS) in
// Paddock's binaries unless the GOMAXPROCS environment variable says
// otherwise.
//
// One, because of what these processes do: a few goroutines that wait on
// ZooKeeper and hand each other its replies (the leader's loop, the
// connection's reader and writer, the watches), and a worker's tasks,
// which are other processes or waits. With more than one thread, every
// such hand-off may wake a second thread (a futex call, a context switch,
// a spinning scheduler), and that, not the work itself, was most of their
// CPU: on the 2-core machine, one thread per process cut Paddock's CPU per
// task to 0.81× and raised tasks/s 1.19× (BENCHMARKS.md, "One thread per
// process"). A program of your own that embeds the worker
// package, with handlers that compute, keeps Go's default; so does any
// binary started with GOMAXPROCS set.
const DefaultProcs = 1

// limitProcs applies DefaultProcs unless GOMAXPROCS is set.
func limitProcs() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(DefaultProcs)
	}
}
