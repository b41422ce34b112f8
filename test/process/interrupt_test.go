package process

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCtrlCStopsABulkSubmitWithOneLine interrupts `client submit --count`
// half-way: it exits 130, prints the ids it did submit and one summary line
// on stderr (not one error per unsent task), and every id it printed is a
// real task.
func TestCtrlCStopsABulkSubmitWithOneLine(t *testing.T) {
	e := newEnv(t)
	e.Init()
	p := e.Client("submit", "--count", "50000", "--kind", "echo", "--data", "x")
	deadline := time.Now().Add(30 * time.Second)
	for {
		o := e.RunClient(20*time.Second, "status", "-o", "json")
		var st struct{ Pending int }
		if err := json.Unmarshal([]byte(o.Stdout), &st); err == nil && st.Pending >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no submissions seen: %s %s", o.Stdout, o.Stderr)
		}
		select {
		case <-p.Done():
			t.Fatalf("submit ended before the interrupt: %s", p.Stderr())
		case <-time.After(100 * time.Millisecond): // polling another process's progress
		}
	}
	p.Signal(syscall.SIGINT)
	if code := p.Wait(30 * time.Second); code != 130 {
		t.Fatalf("exit %d, want 130; stderr %q", code, p.Stderr())
	}
	lines := strings.Split(strings.TrimSpace(p.Stderr()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "client: interrupted: submitted ") {
		t.Fatalf("stderr: want one summary line, got %d:\n%s", len(lines), p.Stderr())
	}
	m := regexp.MustCompile(`submitted (\d+) of 50000`).FindStringSubmatch(lines[0])
	ids := strings.Fields(p.Stdout())
	if m == nil || m[1] != strconv.Itoa(len(ids)) || len(ids) == 0 || len(ids) == 50000 {
		t.Fatalf("summary %q, %d ids printed", lines[0], len(ids))
	}
	o := e.RunClient(20*time.Second, "inspect", ids[len(ids)-1], "-o", "json")
	if o.Code != 0 {
		t.Fatalf("the last id printed is not a task: %s %s", o.Stdout, o.Stderr)
	}
}
