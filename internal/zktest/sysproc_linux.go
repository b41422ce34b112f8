package zktest

import "syscall"

// sysProcAttr makes the kernel SIGKILL the JVM if the process that started
// it (the test binary) dies without running its cleanups, for example when
// go test's -timeout kills it, so no JVM outlives the test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
