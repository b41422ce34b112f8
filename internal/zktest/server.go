// Package zktest runs real Apache ZooKeeper servers for Paddock's tests and
// benchmarks: a standalone server ([Start], [Launch]), a multi-node ensemble
// on one host ([StartEnsemble], [LaunchEnsemble]), and a TCP [Proxy] that a
// test controls to cut a client off from ZooKeeper or to partition it.
//
// Every server is a plain JVM process (QuorumPeerMain) with its own
// directory holding zoo.cfg, the data directory and zookeeper.log (the
// process's stdout and stderr). Nothing is shared with a system-wide
// ZooKeeper installation except the jar.
//
// Requirements: the ZooKeeper server jar and a Java runtime. On Debian or
// Ubuntu, scripts/ensure-zookeeper.sh installs them (package "zookeeper").
// Environment overrides:
//
//	PADDOCK_ZK_JAR  the ZooKeeper jar (default /usr/share/java/zookeeper.jar),
//	                or a directory of jars, such as the lib/ directory of an
//	                Apache ZooKeeper release tarball
//	JAVA            the java binary (default: java on PATH)
//
// Session timeouts: the server negotiates a client's requested session
// timeout into [2×tickTime, 20×tickTime] (0.5 s to 5 s with the default
// tickTime of 250 ms) unless minSessionTimeout/maxSessionTimeout are set
// with [WithConfig].
package zktest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultJar is where Debian's zookeeper package installs the server jar.
const DefaultJar = "/usr/share/java/zookeeper.jar"

// ErrNotInstalled is returned (wrapped) by [Launch] and [LaunchEnsemble]
// when the ZooKeeper jar or the Java runtime cannot be found.
var ErrNotInstalled = errors.New("zktest: ZooKeeper is not installed (run scripts/ensure-zookeeper.sh, or set PADDOCK_ZK_JAR / JAVA)")

// ErrNotServing is returned by [Server.Mode] and [Server.Zxid] when the
// server answers but is not serving requests (for example an ensemble
// member without quorum, or a server still starting up).
var ErrNotServing = errors.New("zktest: ZooKeeper instance is not currently serving requests")

// ErrNotRunning is returned when an operation needs the server process but
// it has been stopped (or has exited).
var ErrNotRunning = errors.New("zktest: ZooKeeper process is not running")

// smallJVM keeps each JVM small and quick to start on a small machine:
// right for tests, not for measuring ZooKeeper (see WithShippedJVM).
var smallJVM = []string{
	"-Xmx256m",
	"-XX:+UseSerialGC",
	"-XX:TieredStopAtLevel=1",
	"-XX:-UsePerfData",
}

// jvmFlags are given to every JVM.
var jvmFlags = []string{
	"-Djava.net.preferIPv4Stack=true",
	"-Dzookeeper.admin.enableServer=false",
	// Used when slf4j-simple is on the class path (see classpath).
	"-Dorg.slf4j.simpleLogger.showDateTime=true",
	"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
}

const (
	defaultTickTime     = 250 * time.Millisecond
	defaultStartTimeout = 30 * time.Second
	stopTimeout         = 10 * time.Second
	pollInterval        = 25 * time.Millisecond
	fourLetterTimeout   = 2 * time.Second
	logTailLines        = 50
	logFileName         = "zookeeper.log"
)

// Option configures a server or an ensemble.
type Option func(*options)

type options struct {
	tickTime     time.Duration
	startTimeout time.Duration
	extra        [][2]string
	shippedJVM   bool
	heap         string // -Xmx of the small JVM; "": smallJVM's
	tls          bool
}

func buildOptions(opts []Option) options {
	o := options{tickTime: defaultTickTime, startTimeout: defaultStartTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithTickTime sets ZooKeeper's tickTime (default 250ms). It bounds the
// negotiable session timeout to [2×tickTime, 20×tickTime] and sets the
// granularity of session expiry.
func WithTickTime(d time.Duration) Option {
	return func(o *options) { o.tickTime = d }
}

// WithConfig adds a zoo.cfg line key=value, replacing the harness's own
// value for the same key (for example WithConfig("forceSync", "no") or
// WithConfig("maxSessionTimeout", "60000")). Do not override clientPort,
// clientPortAddress, dataDir or server.N: the harness relies on them.
func WithConfig(key, value string) Option {
	return func(o *options) { o.extra = append(o.extra, [2]string{key, value}) }
}

// WithShippedJVM runs the JVM with the defaults ZooKeeper's own scripts
// use (the full JIT, the default collector, a 1 GB heap) instead of the
// small, quick-starting JVM tests want: for benchmarks.
func WithShippedJVM() Option {
	return func(o *options) { o.shippedJVM = true }
}

// WithHeap gives the small JVM the heap size (as -Xmx takes it: "1g")
// instead of its 256 MB: for a benchmark that builds a tree larger than
// tests do (100,000 pending tasks are 200,000 znodes), and measures
// ZooKeeper given the heap that tree needs, not one short of it.
func WithHeap(size string) Option {
	return func(o *options) { o.heap = size }
}

// WithStartTimeout bounds how long starting (or restarting) waits for the
// server to serve requests (default 30s).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// Server is one ZooKeeper server process. Its methods are safe for
// concurrent use.
type Server struct {
	dir     string
	port    int
	opts    options
	cfgPath string
	logPath string
	java    string
	cp      string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error         // valid after exited is closed
	paused  bool
	logFrom int64 // size of the log file when the current process started

	tlsFiles *TLSFiles   // set with WithTLS
	probeTLS *tls.Config // how the harness's probes connect, with WithTLS
}

// Launch starts a standalone ZooKeeper server whose zoo.cfg, data
// directory and log live in dir (created if missing; an existing data
// directory is reused), listening on 127.0.0.1:port, and waits until it
// serves requests. With port 0 a free port is chosen (and another one tried
// if the chosen port is taken before the server binds it). It does not use
// the testing package; the caller must call [Server.Close].
func Launch(dir string, port int, opts ...Option) (*Server, error) {
	o := buildOptions(opts)
	java, cp, err := findZooKeeper()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p := port
		if p == 0 {
			ports, err := freePorts(1)
			if err != nil {
				return nil, err
			}
			p = ports[0]
		}
		s := newServer(dir, p, o, java, cp)
		if o.tls {
			if err := s.setupTLS(); err != nil {
				return nil, err
			}
		}
		if err := s.writeConfig(nil, 0); err != nil {
			return nil, err
		}
		if err := s.start(); err != nil {
			return nil, err
		}
		err := s.waitReady(o.startTimeout)
		if err == nil {
			return s, nil
		}
		s.Close()
		if port == 0 && attempt < attempts && s.portInUse() {
			continue
		}
		return nil, err
	}
}

func newServer(dir string, port int, o options, java, cp string) *Server {
	return &Server{
		dir:     dir,
		port:    port,
		opts:    o,
		cfgPath: filepath.Join(dir, "zoo.cfg"),
		logPath: filepath.Join(dir, logFileName),
		java:    java,
		cp:      dir + string(os.PathListSeparator) + cp,
	}
}

// Addr returns the client address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the client port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's directory (zoo.cfg, data/, zookeeper.log).
func (s *Server) Dir() string { return s.dir }

// LogPath returns the path of the file receiving the server's stdout and
// stderr.
func (s *Server) LogPath() string { return s.logPath }

// PID returns the process id of the running JVM, or 0 when it is not
// running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runningLocked() {
		return s.cmd.Process.Pid
	}
	return 0
}

// Running reports whether the JVM process is running (it may be paused).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningLocked()
}

func (s *Server) runningLocked() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// writeConfig writes zoo.cfg. For an ensemble member, quorum holds the
// server.N lines and myid the member's id.
func (s *Server) writeConfig(quorum [][2]string, myid int) error {
	dataDir := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	if myid > 0 {
		if err := os.WriteFile(filepath.Join(dataDir, "myid"), []byte(strconv.Itoa(myid)+"\n"), 0o644); err != nil {
			return fmt.Errorf("zktest: %w", err)
		}
	}
	kv := [][2]string{
		{"tickTime", strconv.FormatInt(s.opts.tickTime.Milliseconds(), 10)},
		{"initLimit", "10"},
		{"syncLimit", "5"},
		{"dataDir", dataDir},
		{"clientPort", strconv.Itoa(s.port)},
		{"clientPortAddress", "127.0.0.1"},
		{"admin.enableServer", "false"},
		{"4lw.commands.whitelist", "*"},
		{"maxClientCnxns", "0"},
	}
	if s.tlsFiles != nil {
		// Only the TLS port: a plain clientPort would let clients around it.
		kv = slices.DeleteFunc(kv, func(e [2]string) bool { return e[0] == "clientPort" || e[0] == "clientPortAddress" })
		kv = append(kv, s.tlsFiles.tlsConfig(s.port)...)
	}
	kv = append(kv, quorum...)
	for _, e := range s.opts.extra {
		replaced := false
		for i := range kv {
			if kv[i][0] == e[0] {
				kv[i][1] = e[1]
				replaced = true
			}
		}
		if !replaced {
			kv = append(kv, e)
		}
	}
	var b strings.Builder
	b.WriteString("# written by paddock internal/zktest\n")
	for _, e := range kv {
		// zoo.cfg is a java.util.Properties file: escape backslashes.
		fmt.Fprintf(&b, "%s=%s\n", e[0], strings.ReplaceAll(e[1], `\`, `\\`))
	}
	if err := os.WriteFile(s.cfgPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	// The directory is first on the class path: an Apache release (which
	// logs through logback) picks this up instead of logging at DEBUG.
	if err := os.WriteFile(filepath.Join(s.dir, "logback.xml"), []byte(logbackXML), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}

const logbackXML = `<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="CONSOLE"/></root>
</configuration>
`

// setupTLS makes (or reuses) the server's certificates and the harness's
// client configuration.
func (s *Server) setupTLS() error {
	f, err := makeTLSFiles(s.dir)
	if err != nil {
		return fmt.Errorf("zktest: TLS files: %w", err)
	}
	cfg, err := f.ClientTLS()
	if err != nil {
		return fmt.Errorf("zktest: TLS files: %w", err)
	}
	s.tlsFiles, s.probeTLS = f, cfg
	return nil
}

// start launches the JVM without waiting for readiness.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runningLocked() {
		return nil
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	if st, err := logFile.Stat(); err == nil {
		s.logFrom = st.Size()
	}
	fmt.Fprintf(logFile, "=== zktest: starting ZooKeeper on %s at %s\n", s.Addr(), time.Now().Format(time.RFC3339Nano))

	args := []string{"-Xmx1000m"} // zkEnv.sh's ZK_SERVER_HEAP
	if !s.opts.shippedJVM {
		args = append([]string{}, smallJVM...)
		if s.opts.heap != "" {
			args = slices.DeleteFunc(args, func(a string) bool { return strings.HasPrefix(a, "-Xmx") })
			args = append(args, "-Xmx"+s.opts.heap)
		}
	}
	args = append(args, jvmFlags...)
	args = append(args, "-cp", s.cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfgPath)
	cmd := exec.Command(s.java, args...)
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("zktest: starting %s: %w", s.java, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.paused = cmd, exited, false
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		if s.exited == exited {
			s.waitErr = err
		}
		s.mu.Unlock()
		close(exited)
	}()
	return nil
}

// waitReady polls srvr until the server reports a Mode (standalone, or
// leader/follower/observer in an ensemble), the process exits, or the
// timeout passes.
func (s *Server) waitReady(timeout time.Duration) error {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return ErrNotRunning
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		mode, err := s.Mode()
		if err == nil && mode != "" {
			return nil
		}
		lastErr = err
		select {
		case <-exited:
			s.mu.Lock()
			werr := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("zktest: ZooKeeper on %s exited during startup (%v); last %d lines of %s:\n%s",
				s.Addr(), werr, logTailLines, s.logPath, s.LogTail(logTailLines))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zktest: ZooKeeper on %s not ready after %v (last probe: %v); last %d lines of %s:\n%s",
				s.Addr(), timeout, lastErr, logTailLines, s.logPath, s.LogTail(logTailLines))
		}
		time.Sleep(pollInterval)
	}
}

// WaitReady waits (up to the start timeout) until the server serves
// requests: srvr reports a Mode.
func (s *Server) WaitReady() error { return s.waitReady(s.opts.startTimeout) }

// stop sends sig (SIGTERM or SIGKILL), resumes a paused JVM so that it can
// act on it, and waits for exit, escalating to SIGKILL after stopTimeout.
func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	if !s.runningLocked() {
		s.mu.Unlock()
		return nil
	}
	proc, exited := s.cmd.Process, s.exited
	_ = proc.Signal(sig)
	if sig != syscall.SIGKILL {
		_ = proc.Signal(syscall.SIGCONT)
	}
	s.paused = false
	s.mu.Unlock()

	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = proc.Signal(syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("zktest: ZooKeeper pid %d on %s did not exit after SIGKILL", proc.Pid, s.Addr())
	}
}

// Stop sends SIGTERM and waits for the process to exit (SIGKILL after
// 10s). It is idempotent; the data directory is kept, so [Server.Restart]
// can bring the server back.
func (s *Server) Stop() { _ = s.stop(syscall.SIGTERM) }

// Kill sends SIGKILL and waits for the process to exit. It is idempotent.
func (s *Server) Kill() { _ = s.stop(syscall.SIGKILL) }

// Pause freezes the JVM with SIGSTOP: it keeps its sockets open but
// answers nothing, like a hung machine. Clients time out; the server's
// own view of time jumps forward when it is resumed.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runningLocked() && !s.paused {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
		s.paused = true
		// The signal is delivered asynchronously: a thread that is running
		// on another core may still answer a request. Return once the
		// kernel says every thread has stopped, so callers that pause to
		// make the server silent can rely on it.
		waitStopped(s.cmd.Process.Pid)
	}
}

// Resume undoes [Server.Pause] with SIGCONT.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runningLocked() && s.paused {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		s.paused = false
	}
}

// Relaunch starts the server again (same port, configuration and data
// directory) after Stop or Kill, stopping it first if it is running, and
// waits until it serves requests. An ensemble member is ready once it has
// rejoined as leader or follower, which needs a quorum.
func (s *Server) Relaunch() error {
	if err := s.stop(syscall.SIGTERM); err != nil {
		return err
	}
	if err := s.start(); err != nil {
		return err
	}
	return s.waitReady(s.opts.startTimeout)
}

// Close stops the server (SIGTERM, then SIGKILL after 10s) and waits for
// it. It keeps the directory. It is idempotent.
func (s *Server) Close() error { return s.stop(syscall.SIGTERM) }

// FourLetter sends a four-letter-word command (ruok, srvr, stat, mntr,
// cons, dump, ...) to the client port and returns the whole answer.
func (s *Server) FourLetter(cmd string) (string, error) {
	return fourLetter(s.Addr(), cmd, fourLetterTimeout, s.probeTLS)
}

func fourLetter(addr, cmd string, timeout time.Duration, tlsConfig *tls.Config) (string, error) {
	if len(cmd) != 4 {
		return "", fmt.Errorf("zktest: four-letter word %q is not four letters", cmd)
	}
	var c net.Conn
	var err error
	if tlsConfig != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, tlsConfig)
	} else {
		c, err = net.DialTimeout("tcp", addr, timeout)
	}
	if err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return string(b), fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	return string(b), nil
}

// srvrField returns the value of "name: value" in a srvr answer.
func (s *Server) srvrField(name string) (string, error) {
	out, err := s.FourLetter("srvr")
	if err != nil {
		return "", err
	}
	if strings.Contains(out, "not currently serving requests") {
		return "", ErrNotServing
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+": "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("zktest: no %q in srvr answer from %s: %q", name, s.Addr(), out)
}

// Mode returns the server's mode from srvr: "standalone", "leader",
// "follower" or "observer". It returns [ErrNotServing] while the server
// is not serving (still starting, or an ensemble member without quorum).
func (s *Server) Mode() (string, error) { return s.srvrField("Mode") }

// Zxid returns the last zxid the server has processed, from srvr.
func (s *Server) Zxid() (int64, error) {
	v, err := s.srvrField("Zxid")
	if err != nil {
		return 0, err
	}
	z, err := strconv.ParseUint(v, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("zktest: bad Zxid %q from %s: %w", v, s.Addr(), err)
	}
	return int64(z), nil
}

// Sessions returns the ids of the sessions the server knows, from the dump
// four-letter word: a standalone server's or leader's session tracker, or
// a follower's list of global sessions (updated as the leader's session
// transactions are applied).
func (s *Server) Sessions() ([]int64, error) {
	out, err := s.FourLetter("dump")
	if err != nil {
		return nil, err
	}
	if strings.Contains(out, "not currently serving requests") {
		return nil, ErrNotServing
	}
	// The session tracker part comes first, one session per line:
	// "\t0x<id>" (standalone, leader) or "0x<id>\t<timeout>ms" (follower).
	// It ends where the ephemeral nodes dump starts.
	head, _, _ := strings.Cut(out, "ephemeral nodes dump")
	seen := map[int64]bool{}
	var ids []int64
	sc := bufio.NewScanner(strings.NewReader(head))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || len(f) > 2 || !strings.HasPrefix(f[0], "0x") ||
			(len(f) == 2 && !strings.HasSuffix(f[1], "ms")) {
			continue
		}
		id, err := strconv.ParseUint(f[0], 0, 64)
		if err != nil || seen[int64(id)] {
			continue
		}
		seen[int64(id)] = true
		ids = append(ids, int64(id))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// HasSession reports whether the server still tracks session id (see
// [Server.Sessions]).
func (s *Server) HasSession(id int64) (bool, error) {
	ids, err := s.Sessions()
	if err != nil {
		return false, err
	}
	for _, x := range ids {
		if x == id {
			return true, nil
		}
	}
	return false, nil
}

// LogTail returns up to the last n lines of the server's log file.
func (s *Server) LogTail(n int) string { return tailFile(s.logPath, n) }

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const maxTail = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxTail {
		_, _ = f.Seek(st.Size()-maxTail, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// portInUse reports whether the latest start failed to bind a port.
func (s *Server) portInUse() bool {
	s.mu.Lock()
	from := s.logFrom
	s.mu.Unlock()
	b, err := os.ReadFile(s.logPath)
	if err != nil || int64(len(b)) < from {
		return false
	}
	return bytes.Contains(b[from:], []byte("Address already in use"))
}

// findZooKeeper returns the java binary and the class path for the
// ZooKeeper jar, or an error wrapping ErrNotInstalled.
func findZooKeeper() (java, cp string, err error) {
	jar := os.Getenv("PADDOCK_ZK_JAR")
	if jar == "" {
		jar = DefaultJar
	}
	st, err := os.Stat(jar)
	if err != nil {
		return "", "", fmt.Errorf("%w: no ZooKeeper jar at %s", ErrNotInstalled, jar)
	}
	if st.IsDir() {
		cp = filepath.Join(jar, "*") // e.g. an Apache release's lib/
	} else {
		cp = jar
		// Debian's jar lists its dependencies in its manifest but no SLF4J
		// binding, so the server would log nothing. slf4j-simple (from
		// libslf4j-java, a dependency) sends INFO logs to stderr.
		// Its manifest also leaves out Netty jars that TLS (the Netty
		// connection factory's SSL handler) needs at run time.
		for _, extra := range []string{"slf4j-simple.jar", "netty-codec.jar", "netty-resolver.jar", "netty-transport-native-unix-common.jar"} {
			if p := filepath.Join(filepath.Dir(jar), extra); fileExists(p) {
				cp += string(os.PathListSeparator) + p
			}
		}
	}
	java = os.Getenv("JAVA")
	if java == "" {
		java = "java"
	}
	path, err := exec.LookPath(java)
	if err != nil {
		return "", "", fmt.Errorf("%w: no Java runtime (%s): %v", ErrNotInstalled, java, err)
	}
	return path, cp, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago (listen on :0, note the port, close). All listeners are held open
// until every port is chosen, so the ports differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("zktest: finding a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
