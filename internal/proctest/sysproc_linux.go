package proctest

import "syscall"

// sysProcAttr makes the kernel SIGKILL a started binary if the test binary
// dies without running its cleanups (go test's -timeout, a crash), so no
// master or worker outlives the test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
