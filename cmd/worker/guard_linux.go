package main

import (
	"os"
	"syscall"
)

// selfExe is the worker binary: /proc/self/exe, resolved in the worker
// when it starts the guard, works even if the binary was replaced since.
func selfExe() string { return "/proc/self/exe" }

// watchParent asks the kernel to send the guard SIGTERM when its parent
// (the worker thread that started it) dies; the signal ends the guard's
// context (cli.Main). The returned channel is closed only if the parent
// was gone already.
func watchParent(parent int) <-chan struct{} {
	gone := make(chan struct{})
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		return pollParent(parent)
	}
	if os.Getppid() != parent {
		close(gone)
	}
	return gone
}
