//go:build linux

package zkclient

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair is a real loopback TCP connection: the quiet end a client would
// dial, and the server's end.
func tcpPair(t *testing.T) (*quietConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	q, ok := quiet(c).(*quietConn)
	if !ok {
		t.Fatalf("quiet(%T) did not wrap it", c)
	}
	t.Cleanup(func() { q.Close(); srv.Close() })
	return q, srv
}

// Writes larger than the socket's buffers wait in the poller (EAGAIN) and
// still arrive whole and in order, both ways.
func TestQuietConnCarriesLargeWrites(t *testing.T) {
	q, srv := tcpPair(t)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	echoed := make(chan error, 1)
	go func() { // the server echoes what it reads
		_, err := io.CopyN(srv, srv, int64(len(payload)))
		echoed <- err
	}()
	wrote := make(chan error, 1)
	go func() {
		n, err := q.Write(payload)
		if err == nil && n != len(payload) {
			err = io.ErrShortWrite
		}
		wrote <- err
	}()
	// Back in the library's pattern, a small read then a larger one, so
	// that most come from what one system call took ahead.
	got := make([]byte, len(payload))
	for off, i := 0, 0; off < len(got); i++ {
		n := min(len(got)-off, []int{4, 1000, 70000}[i%3])
		if _, err := io.ReadFull(q, got[off:off+n]); err != nil {
			t.Fatalf("read back at %d: %v", off, err)
		}
		off += n
	}
	if err := <-wrote; err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := <-echoed; err != nil {
		t.Fatalf("echo: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("the bytes read back differ from those written")
	}
}

// The library relies on read deadlines to notice a silent server: a raw
// read must honour them like net.Conn's own.
func TestQuietConnHonoursReadDeadline(t *testing.T) {
	q, _ := tcpPair(t)
	if err := q.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := q.Read(make([]byte, 4))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want a timeout, got %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the deadline fired after %v", took)
	}
}

// A server that closes its end is io.EOF, as for net.Conn; a connection
// closed under a blocked Read unblocks it with net.ErrClosed.
func TestQuietConnEOFAndClose(t *testing.T) {
	q, srv := tcpPair(t)
	if _, err := srv.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	got, err := io.ReadAll(q)
	if err != nil || string(got) != "ok" {
		t.Fatalf("ReadAll = %q, %v; want \"ok\", nil (io.EOF ends it)", got, err)
	}

	q2, _ := tcpPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := q2.Read(make([]byte, 1))
		done <- err
	}()
	time.AfterFunc(20*time.Millisecond, func() { q2.Close() })
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("want net.ErrClosed, got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}
