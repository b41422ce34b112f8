package zktest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of one target address (a
// ZooKeeper server's client port). Point a client at [Proxy.Addr] and the
// test decides when the client can reach ZooKeeper:
//
//   - [Proxy.Cut] is a crash-like disconnection: every open connection is
//     closed at once (the client sees EOF or a reset immediately) and new
//     connections are accepted and immediately closed, so every reconnect
//     attempt fails fast, until [Proxy.Restore].
//   - [Proxy.Blackhole] is a silent network partition (or a frozen peer):
//     connections stay open and new ones are accepted, but nothing is
//     forwarded in either direction; the bytes wait in socket buffers.
//     Both sides only notice through their own timeouts. On [Proxy.Restore]
//     forwarding resumes where it stopped, like TCP after a partition
//     heals: queued bytes are delivered and a close that happened on one
//     side during the partition is passed on to the other side.
//     Connections accepted during the partition are connected to the
//     target only on Restore.
//   - [Proxy.Restore] returns to normal forwarding.
//
// Session-expiry recipe (standalone server srv, go-zookeeper client
// connected through p with a 1s session timeout, tickTime 250ms):
//
//	id := conn.SessionID()
//	p.Blackhole()
//	srv.WaitSessionGone(t, id) // ~1.0-1.25s: the server expires the session
//	p.Restore()
//	// the client now sees StateExpired, then StateHasSession with a new id
//
// Restore works as soon as the server has expired the session because the
// client keeps reconnecting through the proxy during the partition and its
// pending connect request reaches the server on Restore. (Restoring before
// the server has expired the session heals the partition without expiry,
// as long as the client has not given up on its connection.)
//
// How long it takes (measured on a 2-core machine with go-zookeeper
// v1.0.4 and a single server address; see TestBlackholeExpiresSession):
// the client sees StateDisconnected ~0.67s after Blackhole (it gives up
// after 2/3 of the session timeout without a reply); the server drops the
// session 1.0-1.25s after Blackhole (session timeout, rounded up to a
// tick); StateExpired arrives ~1.7s and the new session ~2.7s after
// Blackhole, because go-zookeeper pauses 1s before each round of
// connection attempts. Budget about 3s per expiry with these settings.
//
// Its methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	mode   proxyMode
	wake   chan struct{} // closed and replaced whenever mode changes or the proxy closes
	links  map[*link]struct{}
	closed bool

	wg sync.WaitGroup // accept loop and link goroutines
}

type proxyMode int

const (
	modeForward proxyMode = iota
	modeCut
	modeBlackhole
)

// link is one proxied client connection.
type link struct {
	client net.Conn

	mu       sync.Mutex
	upstream net.Conn
	isClosed bool
	done     chan struct{} // closed by close
}

func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return
	}
	l.isClosed = true
	close(l.done)
	l.client.Close()
	if l.upstream != nil {
		l.upstream.Close()
	}
}

// setUpstream attaches the target connection, unless the link was closed
// meanwhile.
func (l *link) setUpstream(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return false
	}
	l.upstream = c
	return true
}

// ListenProxy starts a proxy to target on a free port of 127.0.0.1. It does
// not use the testing package; the caller must call [Proxy.Close].
func ListenProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("zktest: proxy: %w", err)
	}
	p := &Proxy{
		ln:     ln,
		target: target,
		wake:   make(chan struct{}),
		links:  map[*link]struct{}{},
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// NewProxy starts a proxy to target (see [ListenProxy]) and registers a
// cleanup that closes it.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := ListenProxy(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Cut closes every open connection and, until Restore, accepts new
// connections only to close them immediately.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.setModeLocked(modeCut)
	links := p.snapshotLocked()
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Blackhole stops forwarding in both directions while keeping every
// connection open, until Restore. New connections are accepted and held.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.setModeLocked(modeBlackhole)
	p.mu.Unlock()
}

// Restore resumes normal forwarding after Cut or Blackhole.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.setModeLocked(modeForward)
	p.mu.Unlock()
}

// Conns returns the number of client connections the proxy holds open.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Close stops the proxy: it closes the listener and every connection and
// waits for its goroutines. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.wake)
	links := p.snapshotLocked()
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

func (p *Proxy) setModeLocked(m proxyMode) {
	if p.closed {
		return
	}
	p.mode = m
	close(p.wake)
	p.wake = make(chan struct{})
}

func (p *Proxy) snapshotLocked() []*link {
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	return links
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			c.Close()
			return
		case p.mode == modeCut:
			p.mu.Unlock()
			c.Close()
			continue
		}
		l := &link{client: c, done: make(chan struct{})}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// gate blocks while the proxy is blackholed. It reports false when the
// link has been closed (by Cut, Close or the other direction).
func (p *Proxy) gate(l *link) bool {
	for {
		p.mu.Lock()
		mode, wake, closed := p.mode, p.wake, p.closed
		p.mu.Unlock()
		select {
		case <-l.done:
			return false
		default:
		}
		if closed {
			return false
		}
		if mode != modeBlackhole {
			return true
		}
		select {
		case <-wake:
		case <-l.done:
			return false
		}
	}
}

func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	if !p.gate(l) { // a connection accepted during a blackhole waits here
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return // target down: the client sees its connection closed
	}
	if !l.setUpstream(up) {
		up.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(l, up, l.client) }()
	go func() { defer wg.Done(); p.pipe(l, l.client, up) }()
	wg.Wait()
}

// pipe copies src to dst, holding data (and end of stream) while the proxy
// is blackholed, and closes the whole link when src or dst fails.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		if !p.gate(l) { // while blackholed, leave the bytes in the socket buffer
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate(l) { // blackholed during the read: hold what was read
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// End of stream (or a reset): pass it on, but not during a
			// partition.
			p.gate(l)
			return
		}
	}
}
