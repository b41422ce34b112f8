package zkclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// Defaults for Config.
const (
	DefaultSessionTimeout = 10 * time.Second
	DefaultConnectTimeout = 5 * time.Second
)

// ErrUnreachable reports that Dial could establish no ZooKeeper session
// within the connect timeout; the error wrapping it names the servers and
// the last dial failure, which is what an operator needs to act.
var ErrUnreachable = errors.New("zkclient: cannot reach ZooKeeper")

// ErrClosed reports a call on a closed Client (or one closing under the
// call): there is nothing to wait for, so retry loops give up with it.
var ErrClosed = errors.New("zkclient: client closed")

// Config says how to reach ZooKeeper.
type Config struct {
	Servers        []string      // host:port of each ZooKeeper server
	SessionTimeout time.Duration // asked of the server, which clamps it to [2,20] ticks
	ConnectTimeout time.Duration // how long Dial waits for a first session
	Auth           string        // "user:password" for digest auth; empty for none
	// TLS, when set, wraps every connection to ZooKeeper in TLS (the
	// servers' secureClientPort). ServerName defaults to each server's host.
	TLS    *tls.Config
	Logger *zap.Logger
}

// Client is one ZooKeeper connection shared by a process. The underlying
// library silently replaces an expired session with a new one; Client turns
// that into explicit Session values so components know when the ephemeral
// state they built is gone and must be rebuilt.
type Client struct {
	zk    *zk.Conn
	log   *zap.Logger
	acl   []zk.ACL
	cfg   Config
	ready chan struct{} // closed once zk is set; gates the first dial

	// bg is the context of the goroutines the client owns (Go): cancelled
	// at Close, which then waits for them (bgWG).
	bg     context.Context
	stopBG context.CancelFunc
	bgWG   sync.WaitGroup

	mu      sync.Mutex
	state   zk.State
	sess    *Session      // the live session, nil between expiry and the next one
	changed chan struct{} // closed and replaced on every session-state change
	closed  bool
	dialErr error // last dial failure, for ErrUnreachable's message

	requests    atomic.Int64
	watchEvents atomic.Int64
	expirations atomic.Int64
}

// Stats counts what a client exchanged with ZooKeeper: the requests it made
// through this package and the watch notifications it received. Tests use
// them to show that a recipe's cost does not grow with the data; a daemon
// exports them as metrics (read when scraped, so counting costs the hot
// path one atomic increment).
type Stats struct {
	Requests    int64
	WatchEvents int64
	// SessionExpirations counts the sessions the server expired under this
	// client (each one cost the process its ephemeral znodes).
	SessionExpirations int64
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), WatchEvents: c.watchEvents.Load(), SessionExpirations: c.expirations.Load()}
}

// Dial connects and waits, at most cfg.ConnectTimeout, for a session.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if err := validateServers(cfg.Servers); err != nil {
		return nil, err
	}
	acl, err := aclFor(cfg.Auth)
	if err != nil {
		return nil, err
	}
	bg, stopBG := context.WithCancel(context.Background())
	c := &Client{
		bg:      bg,
		stopBG:  stopBG,
		log:     cfg.Logger,
		acl:     acl,
		cfg:     cfg,
		ready:   make(chan struct{}),
		state:   zk.StateDisconnected,
		changed: make(chan struct{}),
	}
	conn, _, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithLogger(zkLogger{cfg.Logger}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(c.onEvent),
		zk.WithDialer(c.dial))
	if err != nil {
		stopBG()
		return nil, err
	}
	c.zk = conn
	close(c.ready)

	wctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if _, err := c.Session(wctx); err != nil {
		// The library's Close waits up to a second for a reply no server
		// will send; the caller should not wait past its connect timeout.
		// (The goroutine ends within that second: Close is bounded.)
		stopBG()
		go conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.mu.Lock()
		last := c.dialErr
		c.mu.Unlock()
		why := "connected, but no session was established (is a quorum up?)"
		if last != nil {
			why = last.Error()
		}
		return nil, fmt.Errorf("%w at %s within %s: %s", ErrUnreachable,
			strings.Join(cfg.Servers, ","), cfg.ConnectTimeout, why)
	}
	if cfg.Auth != "" {
		if _, err := call(ctx, func() (struct{}, error) {
			return struct{}{}, conn.AddAuth("digest", []byte(cfg.Auth))
		}); err != nil {
			c.Close()
			return nil, fmt.Errorf("zkclient: ZooKeeper digest auth: %w", err)
		}
	}
	return c, nil
}

// Fork opens another connection (and session) like c's: one connection
// caps near 10,000 requests/s, so bulk reads spread over a few go faster.
// The caller closes it.
func (c *Client) Fork(ctx context.Context) (*Client, error) { return Dial(ctx, c.cfg) }

func validateServers(servers []string) error {
	if len(servers) == 0 {
		return errors.New("zkclient: no ZooKeeper server given")
	}
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("zkclient: ZooKeeper server %q is not host:port", s)
		}
	}
	return nil
}

func aclFor(auth string) ([]zk.ACL, error) {
	if auth == "" {
		return zk.WorldACL(zk.PermAll), nil
	}
	user, pass, ok := strings.Cut(auth, ":")
	if !ok || user == "" || pass == "" {
		return nil, errors.New("zkclient: ZooKeeper auth must be user:password")
	}
	// Anyone may read; only this identity may change what it creates.
	return append(zk.DigestACL(zk.PermAll, user, pass), zk.WorldACL(zk.PermRead)...), nil
}

// dial waits for Dial to have stored the connection, so that no session event
// can reach onEvent before c.zk is usable, and remembers why dialing failed.
func (c *Client) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	<-c.ready
	conn, err := dialConn(network, addr, timeout, c.cfg.TLS)
	if err != nil {
		c.mu.Lock()
		c.dialErr = err
		c.mu.Unlock()
	}
	return conn, err
}

// dialConn connects (quiet: see quietConn) and, with tlsCfg, completes the
// TLS handshake over that connection within the same timeout, so a server
// that is not speaking TLS, or a certificate that does not verify, fails
// the dial with the reason instead of a silent session timeout.
func dialConn(network, addr string, timeout time.Duration, tlsCfg *tls.Config) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	switch {
	case err != nil && tlsCfg != nil:
		return nil, fmt.Errorf("TLS to %s: %w", addr, err)
	case err != nil:
		return nil, err
	case tlsCfg == nil:
		return quiet(raw), nil
	}
	cfg := tlsCfg.Clone()
	if cfg.ServerName == "" {
		if cfg.ServerName, _, err = net.SplitHostPort(addr); err != nil {
			raw.Close()
			return nil, err
		}
	}
	conn := tls.Client(quiet(raw), cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS to %s: %w", addr, err)
	}
	return conn, nil
}

// onEvent runs on the library's connection goroutine and must not block.
func (c *Client) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		if ev.Type != zk.EventNotWatching {
			c.watchEvents.Add(1)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	prev := c.state
	c.state = ev.State
	switch ev.State {
	case zk.StateHasSession:
		id := c.zk.SessionID()
		if c.sess == nil || c.sess.id != id {
			if c.sess != nil {
				// A new session without an expiry event first: the old
				// one is gone all the same.
				c.expirations.Add(1)
				c.sess.end()
			}
			c.sess = newSession(id)
			c.log.Info("zookeeper session established", zap.String("session", c.sess.String()), zap.String("server", ev.Server))
		} else if prev != zk.StateHasSession {
			c.log.Info("zookeeper session resumed", zap.String("session", c.sess.String()), zap.String("server", ev.Server))
		}
	case zk.StateExpired:
		if c.sess != nil {
			c.log.Warn("zookeeper session expired", zap.String("session", c.sess.String()))
			c.expirations.Add(1)
			c.sess.end()
			c.sess = nil
		}
	case zk.StateDisconnected:
		if prev == zk.StateHasSession {
			c.log.Warn("disconnected from zookeeper", zap.String("server", ev.Server))
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Session returns the live session, waiting for one while there is none.
func (c *Client) Session(ctx context.Context) (*Session, error) {
	for {
		c.mu.Lock()
		s, ch, closed := c.sess, c.changed, c.closed
		c.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if s != nil {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Connected reports whether the client is connected with a live session.
// While it is false a request waits for a reconnection or fails.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == zk.StateHasSession
}

// Changed returns a channel closed at the next session-state change
// (disconnect, reconnect, expiry, new session).
func (c *Client) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// WaitConnected blocks until the client is connected with a session.
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		ok, ch, closed := c.state == zk.StateHasSession, c.changed, c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SessionTimeout is the timeout the server granted (what it will wait for a
// silent client before expiring its session).
func (c *Client) SessionTimeout() time.Duration { return c.cfg.SessionTimeout }

// Close ends the session: the server deletes its ephemeral znodes at once,
// which is what makes a graceful stop fail over immediately. It stops the
// goroutines the client owns (Go) and waits for them.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.sess != nil {
		c.sess.end()
		c.sess = nil
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	c.stopBG()
	// Closing the connection fails every request in flight (ErrClosing),
	// so no goroutine of Go's stays blocked in one.
	c.zk.Close()
	c.bgWG.Wait()
}

// Go runs f on a goroutine the client owns: f's context ends at Close,
// which waits for f to return. It is for clean-up that must outlive the
// caller that started it but not the client: deleting a znode a waiter
// abandoned, releasing a claim whose reply came after its caller gave up.
// (Once the client is closed, its session and so its ephemeral znodes are
// gone anyway.) It reports false, without running f, on a closed client.
func (c *Client) Go(f func(ctx context.Context)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.bgWG.Add(1)
	go func() {
		defer c.bgWG.Done()
		f(c.bg)
	}()
	return true
}

// Conn exposes the library connection for what this package does not wrap.
func (c *Client) Conn() *zk.Conn { return c.zk }

// Logger is the logger the client was configured with, so code built on the
// client (recipes, Paddock's protocol) logs where its owner asked.
func (c *Client) Logger() *zap.Logger { return c.log }

type zkLogger struct{ l *zap.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug("zk: " + fmt.Sprintf(format, args...))
}
