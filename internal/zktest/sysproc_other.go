//go:build !linux

package zktest

import "syscall"

// sysProcAttr: only Linux can tie the JVM's life to the test binary's.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped is a no-op where /proc does not say whether threads stopped.
func waitStopped(int) {}
