package zktest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// waitTimeout bounds every condition wait in these tests.
const waitTimeout = 30 * time.Second

// waitFor polls cond (every 10ms) until it returns nil, failing t with the
// last error after waitTimeout.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", waitTimeout, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sessionEvents records a go-zookeeper client's session events.
type sessionEvents struct {
	mu      sync.Mutex
	events  []zk.Event
	changed chan struct{}
}

func (r *sessionEvents) record(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// mark returns a position in the event history to wait from.
func (r *sessionEvents) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitState waits for an event with the given state at or after position
// from, and returns the position just after it.
func (r *sessionEvents) waitState(t testing.TB, from int, state zk.State) int {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if r.events[i].State == state {
				r.mu.Unlock()
				return i + 1
			}
		}
		changed := r.changed
		var seen []string
		for _, ev := range r.events[from:] {
			seen = append(seen, ev.State.String())
		}
		r.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for session state %v; saw %v", waitTimeout, state, seen)
		}
	}
}

// tbLogger sends go-zookeeper's log to t.Logf until the test is over.
type tbLogger struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *tbLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("zk client: "+format, args...)
	}
}

// connect opens a go-zookeeper client, waits for its session and registers
// a cleanup that closes it.
func connect(t testing.TB, addrs []string, sessionTimeout time.Duration) (*zk.Conn, *sessionEvents) {
	t.Helper()
	ev := &sessionEvents{changed: make(chan struct{})}
	logger := &tbLogger{t: t}
	conn, ch, err := zk.Connect(addrs, sessionTimeout, zk.WithEventCallback(ev.record), zk.WithLogger(logger))
	if err != nil {
		t.Fatalf("zk.Connect(%v): %v", addrs, err)
	}
	drained := make(chan struct{})
	go func() {
		for range ch { // closed when the client's goroutines are done
		}
		close(drained)
	}()
	t.Cleanup(func() {
		conn.Close()
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			t.Errorf("zk client did not shut down")
		}
		logger.mu.Lock()
		logger.done = true
		logger.mu.Unlock()
	})
	ev.waitState(t, 0, zk.StateHasSession)
	return conn, ev
}

func TestStandalone(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	srv := Start(t)
	t.Logf("standalone server ready in %v", time.Since(t0))

	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q", srv.Addr())
	}
	if got, err := srv.FourLetter("ruok"); err != nil || got != "imok" {
		t.Fatalf("ruok = %q, %v; want imok", got, err)
	}
	if mode, err := srv.Mode(); err != nil || mode != "standalone" {
		t.Fatalf("Mode() = %q, %v; want standalone", mode, err)
	}
	if out, err := srv.FourLetter("mntr"); err != nil || !strings.Contains(out, "zk_server_state\tstandalone") {
		t.Errorf("mntr = %q, %v", out, err)
	}
	before, err := srv.Zxid()
	if err != nil {
		t.Fatal(err)
	}

	conn, _ := connect(t, []string{srv.Addr()}, 4*time.Second)
	if _, err := conn.Create("/zktest", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	after, err := srv.Zxid()
	if err != nil {
		t.Fatal(err)
	}
	// Both the session creation and the create are transactions.
	if after <= before {
		t.Errorf("Zxid after create = %#x, want > %#x", after, before)
	}
	ids, err := srv.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != conn.SessionID() {
		t.Errorf("Sessions() = %x, want [%x]", ids, conn.SessionID())
	}
	t.Logf("zxid %#x -> %#x", before, after)
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	srv := Start(t, WithConfig("forceSync", "no"))
	addr := srv.Addr()
	conn, ev := connect(t, []string{addr}, 5*time.Second)
	if _, err := conn.Create("/kept", []byte("data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	zxid, err := srv.Zxid()
	if err != nil {
		t.Fatal(err)
	}

	m := ev.mark()
	t0 := time.Now()
	srv.Restart(t)
	t.Logf("restart took %v", time.Since(t0))
	if srv.Addr() != addr {
		t.Fatalf("address changed on restart: %s -> %s", addr, srv.Addr())
	}
	// The client notices, reconnects to the same address and keeps its
	// session (the restart is shorter than the session timeout).
	ev.waitState(t, ev.waitState(t, m, zk.StateDisconnected), zk.StateHasSession)
	got, _, err := conn.Get("/kept")
	if err != nil || string(got) != "data" {
		t.Fatalf("Get(/kept) after restart = %q, %v", got, err)
	}
	if z, err := srv.Zxid(); err != nil || z < zxid {
		t.Errorf("Zxid after restart = %#x, %v; want >= %#x", z, err, zxid)
	}

	// The client is done: close it while its server runs. go-zookeeper's
	// Close asks the server to end the session and waits a second for the
	// answer; closed during the kills and restart below, the client could
	// be in the middle of a handshake with the restarted server, whose read
	// deadline is ten times its receive timeout (33 s here), and outlive
	// the cleanup's wait (CI, on a busy machine).
	conn.Close()

	// Stop and Kill are idempotent; Restart works after Kill too.
	srv.Kill()
	srv.Kill()
	srv.Stop()
	if srv.Running() {
		t.Fatal("still running after Kill")
	}
	if _, err := srv.FourLetter("ruok"); err == nil {
		t.Fatal("ruok answered after Kill")
	}
	srv.Restart(t)
	if got, err := srv.FourLetter("ruok"); err != nil || got != "imok" {
		t.Fatalf("ruok after second restart = %q, %v", got, err)
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	srv.Pause()
	if out, err := fourLetter(srv.Addr(), "ruok", 300*time.Millisecond, nil); err == nil {
		t.Fatalf("paused server answered ruok: %q", out)
	}
	srv.Resume()
	waitFor(t, "ruok after Resume", func() error {
		out, err := srv.FourLetter("ruok")
		if err == nil && out != "imok" {
			err = fmt.Errorf("ruok = %q", out)
		}
		return err
	})
	// Stop works on a paused server.
	srv.Pause()
	srv.Stop()
	if srv.Running() {
		t.Fatal("paused server still running after Stop")
	}
}

// create creates path, retrying while the client is between servers.
func createRetry(t *testing.T, conn *zk.Conn, path string) {
	t.Helper()
	waitFor(t, "create "+path, func() error {
		_, err := conn.Create(path, nil, 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			return nil // an earlier attempt succeeded, but its answer was lost
		}
		return err
	})
}

func TestEnsemble(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	e := StartEnsemble(t, 3)
	t.Logf("3-node ensemble ready in %v", time.Since(t0))

	if got := len(strings.Split(e.ConnString(), ",")); got != 3 {
		t.Fatalf("ConnString() = %q", e.ConnString())
	}
	leader, err := e.Leader()
	if err != nil {
		t.Fatal(err)
	}
	followers := 0
	for _, s := range e.Servers {
		mode, err := s.Mode()
		if err != nil {
			t.Fatal(err)
		}
		if mode == "follower" {
			followers++
		}
	}
	if followers != 2 {
		t.Fatalf("%d followers, want 2", followers)
	}

	conn, _ := connect(t, e.Addrs(), 4*time.Second)
	createRetry(t, conn, "/a")
	for _, s := range e.Servers {
		waitFor(t, "session listed by "+s.Addr(), func() error {
			if ok, err := s.HasSession(conn.SessionID()); !ok {
				return fmt.Errorf("session %#x not in dump: %v", conn.SessionID(), err)
			}
			return nil
		})
	}

	// Kill the leader: the other two elect a new one and the client,
	// which knows all three addresses, carries on.
	t1 := time.Now()
	leader.Kill()
	newLeader := e.WaitLeader(t)
	t.Logf("new leader after %v", time.Since(t1))
	if newLeader == leader {
		t.Fatal("killed server is still leader")
	}
	createRetry(t, conn, "/b")
	t.Logf("create through the 2-node quorum done %v after the kill", time.Since(t1))

	// With two of three down there is no quorum.
	newLeader.Stop()
	var last *Server
	for _, s := range e.Servers {
		if s.Running() {
			last = s
		}
	}
	waitFor(t, "surviving server to stop serving", func() error {
		if mode, err := last.Mode(); !errors.Is(err, ErrNotServing) {
			return fmt.Errorf("Mode() = %q, %v", mode, err)
		}
		return nil
	})
	if _, err := e.Leader(); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("Leader() without quorum: %v", err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := conn.Create("/c", nil, 0, zk.WorldACL(zk.PermAll))
		res <- err
	}()
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("create succeeded without quorum")
		}
		t.Logf("create without quorum: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("create without quorum did not return")
	}

	// Restarting one node restores the quorum; the data survived.
	t2 := time.Now()
	leader.Restart(t)
	l := e.WaitLeader(t)
	t.Logf("quorum back %v after restarting a node (leader %s)", time.Since(t2), l.Addr())
	createRetry(t, conn, "/d")
	for _, p := range []string{"/a", "/b", "/d"} {
		if ok, _, err := conn.Exists(p); err != nil || !ok {
			t.Errorf("Exists(%s) = %v, %v", p, ok, err)
		}
	}
}

func TestProxyCut(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	p := NewProxy(t, srv.Addr())
	conn, ev := connect(t, []string{p.Addr()}, 4*time.Second)
	id := conn.SessionID()
	if _, err := conn.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	m := ev.mark()
	t0 := time.Now()
	p.Cut()
	m = ev.waitState(t, m, zk.StateDisconnected)
	t.Logf("client disconnected %v after Cut", time.Since(t0))

	// While cut, new connections are accepted and closed at once.
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a cut proxy", n)
	} else if isTimeout(err) {
		t.Fatalf("cut proxy held a new connection open: %v", err)
	}
	c.Close()

	p.Restore()
	ev.waitState(t, m, zk.StateHasSession)
	t.Logf("client has its session back %v after Cut", time.Since(t0))
	if got := conn.SessionID(); got != id {
		t.Fatalf("session changed from %#x to %#x", id, got)
	}
	if ok, _, err := conn.Exists("/eph"); err != nil || !ok {
		t.Fatalf("ephemeral node after reconnect: %v, %v", ok, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyBlackholeHoldsData(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	p := NewProxy(t, srv.Addr())
	p.Blackhole()
	// A connection made during the partition gets no answer...
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "ruok"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 4)); !isTimeout(err) {
		t.Fatalf("blackholed read = %d, %v; want a timeout", n, err)
	}
	// ...until the partition heals, when the held request goes through.
	p.Restore()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "imok" {
		t.Fatalf("after Restore: %q, %v; want imok", got, err)
	}
}

func TestBlackholeExpiresSession(t *testing.T) {
	t.Parallel()
	const sessionTimeout = time.Second
	srv := Start(t, WithTickTime(250*time.Millisecond))
	p := NewProxy(t, srv.Addr())
	conn, ev := connect(t, []string{p.Addr()}, sessionTimeout)
	id := conn.SessionID()
	if _, err := conn.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	m := ev.mark()
	t0 := time.Now()
	p.Blackhole()
	srv.WaitSessionGone(t, id)
	gone := time.Since(t0)
	p.Restore()
	m = ev.waitState(t, m, zk.StateExpired)
	expired := time.Since(t0)
	ev.waitState(t, m, zk.StateHasSession)
	t.Logf("session timeout %v: server expired the session %v after Blackhole; client saw StateExpired after %v and a new session after %v",
		sessionTimeout, gone, expired, time.Since(t0))

	if got := conn.SessionID(); got == id || got == 0 {
		t.Fatalf("session id after expiry = %#x (old %#x)", got, id)
	}
	if ok, _, err := conn.Exists("/eph"); err != nil || ok {
		t.Fatalf("ephemeral node of the expired session: exists=%v, %v", ok, err)
	}
}

func TestLaunchWithoutZooKeeper(t *testing.T) {
	// Not parallel: t.Setenv.
	t.Setenv("PADDOCK_ZK_JAR", t.TempDir()+"/missing.jar")
	_, err := Launch(t.TempDir(), 0)
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Launch without a jar: %v", err)
	}
}

func TestTLSOnlyServer(t *testing.T) {
	srv, err := Launch(t.TempDir(), 0, WithTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.TLS() == nil {
		t.Fatal("no TLS files")
	}
	if mode, err := srv.Mode(); err != nil || mode != "standalone" {
		t.Fatalf("srvr over TLS: %q, %v", mode, err)
	}
	// Plain TCP on the port gets nothing useful: it is TLS only.
	if out, err := fourLetter(srv.Addr(), "srvr", time.Second, nil); err == nil && strings.Contains(out, "Mode") {
		t.Fatalf("plain srvr answered on the TLS port: %q", out)
	}
}
