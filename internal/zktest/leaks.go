package zktest

import (
	"fmt"
	"os"

	"go.uber.org/goleak"
)

// MainNoLeaks is Main plus a goroutine-leak check: once the tests have
// passed, every goroutine they started must have ended (goleak retries for
// a while, so goroutines that are ending pass). The shared server's own
// goroutines (started before the tests, ended after the check) are not the
// tests' and are ignored; nothing else is. A package whose tests start
// goroutines uses it, so that a goroutine nobody stops fails the package.
// m is the package's *testing.M, or a wrapper whose Run calls its Run.
func MainNoLeaks(m interface{ Run() int }, srv **Server, opts ...Option) {
	os.Exit(runShared(leakChecked{m}, srv, opts))
}

type leakChecked struct{ m interface{ Run() int } }

func (l leakChecked) Run() int {
	ignore := goleak.IgnoreCurrent() // the shared server's
	code := l.m.Run()
	if code != 0 {
		return code
	}
	if err := goleak.Find(ignore); err != nil {
		fmt.Fprintf(os.Stderr, "goleak: goroutines left running after the tests:\n%v\n", err)
		return 1
	}
	return 0
}
