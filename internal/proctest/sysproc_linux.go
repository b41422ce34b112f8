package proctest

import "syscall"

// sysProcAttr puts a started binary in a process group of its own (so the
// cleanup can kill whatever it spawned too) and makes the kernel SIGKILL it
// if the test binary dies without running its cleanups (go test's
// -timeout, a crash), so no master or worker outlives the test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to the process group led by pid.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
