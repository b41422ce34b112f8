package proctest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stream captures one output stream of a process: to a file, and in memory
// as lines that waiters are woken for.
type stream struct {
	proc, name string
	file       *os.File

	mu      sync.Mutex
	partial []byte
	lines   []Line
	changed chan struct{} // closed and replaced when lines grow
}

func newStream(proc, name, path string) (*stream, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &stream{proc: proc, name: name, file: f, changed: make(chan struct{})}, nil
}

// Write is called by exec's copying goroutine.
func (s *stream) Write(p []byte) (int, error) {
	if s.file != nil {
		_, _ = s.file.Write(p)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		raw := strings.TrimSuffix(string(s.partial[:i]), "\r")
		s.partial = s.partial[i+1:]
		s.lines = append(s.lines, parseLine(s.proc, s.name, len(s.lines), raw, now))
		added = true
	}
	if added {
		s.wakeLocked()
	}
	return len(p), nil
}

func (s *stream) wakeLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// finish turns an unterminated last line into a line, once the process
// has exited and its output is drained.
func (s *stream) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.lines = append(s.lines, parseLine(s.proc, s.name, len(s.lines), string(s.partial), time.Now()))
		s.partial = nil
	}
	s.wakeLocked()
	if s.file != nil {
		s.file.Close()
	}
}

func (s *stream) snapshot() ([]Line, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines[:len(s.lines):len(s.lines)], s.changed
}

func (s *stream) text() string {
	lines, _ := s.snapshot()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Raw)
		b.WriteByte('\n')
	}
	s.mu.Lock()
	b.Write(s.partial)
	s.mu.Unlock()
	return b.String()
}

// Signal is a signal the test sent to a process, and when.
type Signal struct {
	Sig syscall.Signal
	At  time.Time // just before the kill(2) call
}

// Proc is a started binary. Its methods are safe for concurrent use;
// those that fail the test (WaitLog, Wait, ...) must be called from the
// test's goroutine.
type Proc struct {
	Name    string   // unique within its Env: names the log files
	Role    string   // "master", "worker", "client", "election" or the binary's name
	ID      string   // its --id, if any
	Path    string   // the binary
	Args    []string // without the binary
	Started time.Time
	Dir     string // where <Name>.stdout and <Name>.stderr are written

	tb  testing.TB
	cmd *exec.Cmd
	out *stream
	err *stream

	done     chan struct{} // closed once the process has been waited for
	state    *os.ProcessState
	waitErr  error
	exitedAt time.Time

	mu      sync.Mutex
	signals []Signal
}

func startProc(tb testing.TB, dir, name, role, id, path string, args, env []string) (*Proc, error) {
	p := &Proc{Name: name, Role: role, ID: id, Path: path, Args: args, Dir: dir, tb: tb, done: make(chan struct{})}
	var err error
	if p.out, err = newStream(name, "stdout", dir+"/"+name+".stdout"); err != nil {
		return nil, err
	}
	if p.err, err = newStream(name, "stderr", dir+"/"+name+".stderr"); err != nil {
		p.out.file.Close()
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = p.out
	cmd.Stderr = p.err
	cmd.WaitDelay = 5 * time.Second // output pipes held by a stray grandchild
	cmd.SysProcAttr = sysProcAttr()
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		p.out.file.Close()
		p.err.file.Close()
		return nil, fmt.Errorf("proctest: start %s: %w", name, err)
	}
	p.Started = time.Now()
	go func() {
		err := cmd.Wait()
		p.exitedAt = time.Now()
		p.state, p.waitErr = cmd.ProcessState, err
		p.out.finish()
		p.err.finish()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (0 if it never started).
func (p *Proc) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Signal sends sig and records it (see [Proc.Signals]); it returns the
// time just before the signal was sent. Signalling a process that has
// exited does nothing.
func (p *Proc) Signal(sig syscall.Signal) time.Time {
	now := time.Now()
	if p.Exited() {
		return now
	}
	p.mu.Lock()
	p.signals = append(p.signals, Signal{Sig: sig, At: now})
	p.mu.Unlock()
	_ = p.cmd.Process.Signal(sig)
	return now
}

// Kill sends SIGKILL (kill -9).
func (p *Proc) Kill() time.Time { return p.Signal(syscall.SIGKILL) }

// Term sends SIGTERM (graceful stop).
func (p *Proc) Term() time.Time { return p.Signal(syscall.SIGTERM) }

// Stop sends SIGSTOP (the process freezes, as in a long GC pause).
func (p *Proc) Stop() time.Time { return p.Signal(syscall.SIGSTOP) }

// Cont sends SIGCONT.
func (p *Proc) Cont() time.Time { return p.Signal(syscall.SIGCONT) }

// Signals lists the signals the test sent, in order.
func (p *Proc) Signals() []Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Signal(nil), p.signals...)
}

// KilledAt is when the test first sent SIGKILL, or the zero time.
func (p *Proc) KilledAt() time.Time {
	for _, s := range p.Signals() {
		if s.Sig == syscall.SIGKILL {
			return s.At
		}
	}
	return time.Time{}
}

// Done is closed once the process has exited and its output is read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitedAt is when the test saw the process exit (zero while it runs).
func (p *Proc) ExitedAt() time.Time {
	if !p.Exited() {
		return time.Time{}
	}
	return p.exitedAt
}

// ExitCode is the exit status once exited: -1 when a signal ended it, and
// also -1 while it runs.
func (p *Proc) ExitCode() int {
	if !p.Exited() || p.state == nil {
		return -1
	}
	return p.state.ExitCode()
}

// WaitExit waits up to timeout for the process to exit and returns its exit
// code (see [Proc.ExitCode]); ok is false on timeout.
func (p *Proc) WaitExit(timeout time.Duration) (code int, ok bool) {
	if p.Exited() {
		return p.ExitCode(), true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.ExitCode(), true
	case <-t.C:
		return -1, false
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// code, failing the test if it does not exit in time.
func (p *Proc) Wait(timeout time.Duration) int {
	p.tb.Helper()
	code, ok := p.WaitExit(timeout)
	if !ok {
		p.tb.Fatalf("proctest: %s did not exit within %v", p.Name, timeout)
	}
	return code
}

// ErrExited is returned by [Proc.FindLog] when the process exited before
// writing a matching line.
var ErrExited = errors.New("proctest: process exited")

func (p *Proc) find(s *stream, timeout time.Duration, n int, pred Pred) ([]Line, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		exited := p.Exited() // before the snapshot: output is complete once exited
		lines, changed := s.snapshot()
		var got []Line
		for _, l := range lines {
			if pred(l) {
				got = append(got, l)
				if len(got) == n {
					return got, nil
				}
			}
		}
		if exited {
			return got, fmt.Errorf("%w (code %d) after %d of %d matching lines on %s of %s",
				ErrExited, p.ExitCode(), len(got), n, s.name, p.Name)
		}
		select {
		case <-changed:
		case <-p.done:
		case <-deadline.C:
			return got, fmt.Errorf("proctest: %d of %d matching lines on %s of %s after %v",
				len(got), n, s.name, p.Name, timeout)
		}
	}
}

// FindLog waits up to timeout for a line on stderr (where zap logs) that
// pred matches, and returns the first one. It is event-driven: it wakes on
// every new line and fails early if the process exits.
func (p *Proc) FindLog(timeout time.Duration, pred Pred) (Line, error) {
	got, err := p.find(p.err, timeout, 1, pred)
	if err != nil {
		return Line{}, err
	}
	return got[0], nil
}

// WaitLog is FindLog failing the test on timeout or exit.
func (p *Proc) WaitLog(timeout time.Duration, pred Pred) Line {
	p.tb.Helper()
	l, err := p.FindLog(timeout, pred)
	if err != nil {
		p.tb.Fatalf("%v", err)
	}
	return l
}

// WaitLogN waits for n lines on stderr that pred matches and returns the
// first n, failing the test on timeout or exit.
func (p *Proc) WaitLogN(timeout time.Duration, n int, pred Pred) []Line {
	p.tb.Helper()
	got, err := p.find(p.err, timeout, n, pred)
	if err != nil {
		p.tb.Fatalf("%v", err)
	}
	return got
}

// FindOut is FindLog for stdout.
func (p *Proc) FindOut(timeout time.Duration, pred Pred) (Line, error) {
	got, err := p.find(p.out, timeout, 1, pred)
	if err != nil {
		return Line{}, err
	}
	return got[0], nil
}

// WaitOut is WaitLog for stdout.
func (p *Proc) WaitOut(timeout time.Duration, pred Pred) Line {
	p.tb.Helper()
	l, err := p.FindOut(timeout, pred)
	if err != nil {
		p.tb.Fatalf("%v", err)
	}
	return l
}

// Logs returns the stderr lines so far.
func (p *Proc) Logs() []Line {
	l, _ := p.err.snapshot()
	return l
}

// Out returns the stdout lines so far.
func (p *Proc) Out() []Line {
	l, _ := p.out.snapshot()
	return l
}

// Stdout returns what the process wrote on stdout so far.
func (p *Proc) Stdout() string { return p.out.text() }

// Stderr returns what the process wrote on stderr so far.
func (p *Proc) Stderr() string { return p.err.text() }

// Tail returns the last n lines of stdout and of stderr, for a failure
// report.
func (p *Proc) Tail(n int) string {
	var b strings.Builder
	state := "running"
	if p.Exited() {
		state = fmt.Sprintf("exited with code %d (%v)", p.ExitCode(), p.waitErr)
	}
	fmt.Fprintf(&b, "=== %s (pid %d, %s %s): %s\n", p.Name, p.Pid(), p.Path, strings.Join(p.Args, " "), state)
	for _, s := range p.Signals() {
		fmt.Fprintf(&b, "    signal %v at %s\n", s.Sig, s.At.UTC().Format(time.RFC3339Nano))
	}
	for _, s := range []*stream{p.out, p.err} {
		lines, _ := s.snapshot()
		if len(lines) == 0 {
			continue
		}
		from := max(0, len(lines)-n)
		fmt.Fprintf(&b, "--- %s: last %d of %d lines (%s/%s.%s)\n", s.name, len(lines)-from, len(lines), p.Dir, p.Name, s.name)
		for _, l := range lines[from:] {
			b.WriteString(l.Raw)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// kill ends the process for cleanup: SIGKILL to it and to its process
// group (what it spawned; SIGKILL also ends a stopped process), and wait.
// While done is open the group id cannot have been reused: either the
// process is alive, or something it spawned is, holding its output open.
func (p *Proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil || p.Exited() {
		return
	}
	killGroup(p.Pid())
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.tb.Errorf("proctest: %s (pid %d) did not exit after SIGKILL", p.Name, p.Pid())
	}
}

// FindAny waits up to timeout for a line that pred matches on stream
// ("stdout" or "stderr") of any of procs, and returns the first match
// found and its process. It wakes on every new line of any of them, and
// fails early once all of them have exited.
func FindAny(timeout time.Duration, stream string, pred Pred, procs ...*Proc) (Line, *Proc, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline.C)}}
		allExited := true
		for _, p := range procs {
			s := p.err
			if stream == "stdout" {
				s = p.out
			}
			exited := p.Exited()
			allExited = allExited && exited
			lines, changed := s.snapshot()
			for _, l := range lines {
				if pred(l) {
					return l, p, nil
				}
			}
			if !exited {
				cases = append(cases,
					reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(changed)},
					reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(p.done)})
			}
		}
		if allExited {
			return Line{}, nil, fmt.Errorf("%w: all %d processes exited without a matching line on %s", ErrExited, len(procs), stream)
		}
		if i, _, _ := reflect.Select(cases); i == 0 {
			return Line{}, nil, fmt.Errorf("proctest: no matching line on %s of %d processes after %v", stream, len(procs), timeout)
		}
	}
}
