package zktest

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"time"
)

// sysProcAttr makes the kernel SIGKILL the JVM if the process that started
// it (the test binary) dies without running its cleanups, for example when
// go test's -timeout kills it, so no JVM outlives the test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitStopped waits (up to two seconds) until every thread of pid is in the
// stopped state ('T' in /proc/<pid>/task/<tid>/stat), which follows a
// SIGSTOP by a few microseconds, or by longer on a busy machine.
func waitStopped(pid int) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && !allStopped(pid) {
		time.Sleep(time.Millisecond) // the kernel offers no wait for another process's threads to stop
	}
}

func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return true // gone, or no /proc: nothing to wait for
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue // the thread ended
		}
		// The state follows the command name, which is in parentheses and
		// may itself contain spaces or parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			continue
		}
		if st := b[i+2]; st != 'T' && st != 't' && st != 'Z' && st != 'X' {
			return false
		}
	}
	return true
}
