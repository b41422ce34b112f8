//go:build linux

package zkclient

import (
	"io"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// quietConn is a TCP connection to ZooKeeper that reads and writes with
// raw system calls, through the runtime's network poller.
//
// Why: Go's runtime wakes its monitor thread (sysmon) at the first system
// call a process makes after all its threads went idle, and the monitor
// then wakes every 20 µs for as long as the process runs Go code. A
// Paddock process is exactly that: idle, woken by a packet, a few system
// calls, idle again, thousands of times a second. With one thread per
// binary (cli.DefaultProcs) the monitor's wake-ups were 9-10% of each
// binary's CPU, and most of its context switches (BENCHMARKS.md, "A
// quieter monitor thread"). A read or write on a non-blocking socket never
// blocks (it returns EAGAIN, and the poller waits), so it needs none of
// what a system call's bookkeeping is for: handing the thread's processor
// to other goroutines while the call blocks.
//
// What stays as before: deadlines (the poller enforces them, see
// syscall.RawConn), Close unblocking a Read, and preemption. A goroutine
// that computes for long without a system call is still preempted: the
// monitor also wakes at the next timer, and the library's ping ticks every
// third of the session timeout.
//
// It also reads ahead: the library reads each packet in two calls (its
// length, then its body), and under load one system call brings several
// packets; that took another tenth off the CPU per task (BENCHMARKS.md).
type quietConn struct {
	*net.TCPConn
	rc syscall.RawConn
	// buf[pos:end] is what one read took beyond what its caller asked
	// for. mu keeps it whole should two goroutines read at once, which
	// net.Conn allows (the library has one reader: mu costs no wait).
	mu       sync.Mutex
	buf      []byte
	pos, end int
}

// readBuffer is how much one read may take from the socket ahead.
const readBuffer = 32 << 10

// quiet wraps c when it is a TCP connection on Linux; otherwise c as is.
func quiet(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quietConn{TCPConn: tc, rc: rc}
}

func (c *quietConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos == c.end {
		if len(b) >= readBuffer {
			return c.read(b)
		}
		if c.buf == nil {
			c.buf = make([]byte, readBuffer)
		}
		n, err := c.read(c.buf)
		if err != nil {
			return 0, err
		}
		c.pos, c.end = 0, n
	}
	n := copy(b, c.buf[c.pos:c.end])
	c.pos += n
	return n, nil
}

// read is one raw read into b, waiting in the poller while there is nothing.
func (c *quietConn) read(b []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // the poller waits for the socket to be readable
			}
			n, errno = int(r), e
			return true
		}
	})
	if err := c.opError("read", err, errno); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *quietConn) Write(b []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the poller waits for room in the socket's buffer
			default:
				errno = e
				return true
			}
		}
		return true
	})
	return n, c.opError("write", err, errno)
}

// opError is a read's or write's failure as net.Conn reports it: the
// poller's (a deadline, the connection closed) or the system call's.
func (c *quietConn) opError(op string, err error, errno syscall.Errno) error {
	if err == nil && errno != 0 {
		err = errno
	}
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
