package zktest

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// MainNoLeaks is Main for a package whose code starts goroutines: once the
// tests have passed, it fails the run if a goroutine they started is still
// running (go.uber.org/goleak), so that every goroutine is owned by
// something that stops it. The shared server's own goroutines, started
// before the tests, are not counted.
func MainNoLeaks(m *testing.M, srv **Server, opts ...Option) {
	os.Exit(runShared(leakChecked{m}, srv, opts))
}

type leakChecked struct{ m *testing.M }

func (l leakChecked) Run() int {
	before := goleak.IgnoreCurrent()
	code := l.m.Run()
	if code != 0 {
		return code
	}
	if err := goleak.Find(before); err != nil {
		fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%v\n", err)
		return 1
	}
	return 0
}
