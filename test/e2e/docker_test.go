package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mnet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

// Labels on every container and network the suite creates: the run's id
// lets the watchdog remove exactly this run's leftovers, the pid lets a
// later run tell a dead run's leftovers from a live one's.
const (
	labelE2E = "org.paddock.e2e"
	labelRun = "org.paddock.e2e.run"
	labelPID = "org.paddock.e2e.pid"
)

const (
	zkPort       = "2181/tcp"
	zkTick       = 250 * time.Millisecond // sessions of 0.5 s to 5 s
	zkStartLimit = 60 * time.Second
)

var (
	runID     string            // this run's id (labels, container names)
	runLabels map[string]string // labels of everything this run creates
	zkImage   string            // the ZooKeeper image
	docker    *testcontainers.DockerClient
	startSh   []byte // deploy/zookeeper-image/start-zookeeper.sh
)

// zkNode is one ZooKeeper server in a container. Its client port is
// published on 127.0.0.1 at a fixed host port, so that a stopped and
// restarted server comes back at the address the processes were given.
type zkNode struct {
	Name string // container name suffix and network alias: zk, zk1, zk2, ...
	MyID int    // 0 for a standalone server
	Port int    // host port
	c    *testcontainers.DockerContainer
}

// Addr is the host address of the server's client port.
func (n *zkNode) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port)) }

// zooCfg is the server's configuration: short ticks so that the tests'
// 1.5 s sessions are granted (2 to 20 ticks) and expire quickly.
func zooCfg(servers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by paddock test/e2e\ntickTime=%d\ninitLimit=20\nsyncLimit=8\n", zkTick.Milliseconds())
	b.WriteString("dataDir=/paddock-zk/data\nclientPort=2181\nadmin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n")
	if len(servers) > 0 {
		// Listen on every interface of the container, whatever its alias
		// resolves to after a restart.
		b.WriteString("quorumListenOnAllIPs=true\n")
		for i, s := range servers {
			fmt.Fprintf(&b, "server.%d=%s:2888:3888;2181\n", i+1, s)
		}
	}
	return b.String()
}

// freePort is a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startNode creates and starts a ZooKeeper container (it does not wait for
// it to serve: see waitServing). With nw, the container joins that network
// under alias name and servers lists the ensemble.
func startNode(ctx context.Context, name string, myid int, servers []string, nw *testcontainers.DockerNetwork) (*zkNode, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		n := &zkNode{Name: name, MyID: myid, Port: port}
		env := map[string]string{"ZK_CONF": "/paddock-zk/zoo.cfg"}
		if myid > 0 {
			env["ZK_MYID"] = strconv.Itoa(myid)
		}
		opts := []testcontainers.ContainerCustomizer{
			testcontainers.WithName(fmt.Sprintf("paddock-e2e-%s-%s", runID, name)),
			testcontainers.WithLabels(runLabels),
			// Our own start script and zoo.cfg, whatever the image's
			// conventions (the official image's entrypoint wants ZOO_*
			// variables and writes /conf/zoo.cfg).
			testcontainers.WithEntrypoint("/bin/sh", "/paddock-zk/start.sh"),
			testcontainers.WithCmd(),
			testcontainers.WithEnv(env),
			testcontainers.WithFiles(
				testcontainers.ContainerFile{Reader: bytes.NewReader(startSh), ContainerFilePath: "/paddock-zk/start.sh", FileMode: 0o755},
				testcontainers.ContainerFile{Reader: strings.NewReader(zooCfg(servers)), ContainerFilePath: "/paddock-zk/zoo.cfg", FileMode: 0o644},
			),
			testcontainers.WithExposedPorts(zkPort),
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
				hc.PortBindings = mnet.PortMap{
					mnet.MustParsePort(zkPort): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(port)}},
				}
			}),
		}
		if nw != nil {
			opts = append(opts, network.WithNetwork([]string{name}, nw))
		}
		c, err := testcontainers.Run(ctx, zkImage, opts...)
		if err == nil {
			n.c = c
			return n, nil
		}
		lastErr = err
		if c != nil {
			_ = c.Terminate(context.Background())
		}
		if !strings.Contains(err.Error(), "already allocated") && !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("start ZooKeeper container %s (image %s): %w", name, zkImage, lastErr)
}

// fourLetter sends a four-letter word to addr and returns the answer.
func fourLetter(addr, cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil && len(b) == 0 {
		return "", err
	}
	return string(b), nil
}

// srvr is what `srvr` tells of a server.
type srvr struct {
	Mode       string // standalone, leader, follower
	Zxid       int64
	LatencyAvg float64 // ms
}

var errNotServing = errors.New("not serving requests")

// Srvr asks the server for its mode.
func (n *zkNode) Srvr() (srvr, error) {
	out, err := fourLetter(n.Addr(), "srvr")
	if err != nil {
		return srvr{}, err
	}
	if strings.Contains(out, "not currently serving") {
		return srvr{}, errNotServing
	}
	var s srvr
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Mode":
			s.Mode = v
		case "Zxid":
			s.Zxid, _ = strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64)
		case "Latency min/avg/max":
			if f := strings.Split(v, "/"); len(f) == 3 {
				s.LatencyAvg, _ = strconv.ParseFloat(f[1], 64)
			}
		}
	}
	if s.Mode == "" {
		return s, fmt.Errorf("no Mode in %q", out)
	}
	return s, nil
}

// waitServing polls until every node serves requests (has a Mode).
func waitServing(timeout time.Duration, nodes ...*zkNode) error {
	deadline := time.Now().Add(timeout)
	for _, n := range nodes {
		for {
			_, err := n.Srvr()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("ZooKeeper %s (%s) not serving after %v: %v\n%s", n.Name, n.Addr(), timeout, err, n.LogTail(30))
			}
			if st, serr := n.c.State(context.Background()); serr == nil && !st.Running {
				return fmt.Errorf("ZooKeeper container %s exited (code %d) before serving\n%s", n.Name, st.ExitCode, n.LogTail(30))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Stop stops the container at once (docker stop -t 0: the JVM is killed);
// the container is kept and can be started again.
func (n *zkNode) Stop(ctx context.Context) error {
	zero := time.Duration(0)
	return n.c.Stop(ctx, &zero)
}

// Start starts a stopped container again (same host port).
func (n *zkNode) Start(ctx context.Context) error { return n.c.Start(ctx) }

// Terminate removes the container.
func (n *zkNode) Terminate() error {
	if n == nil || n.c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.c.Terminate(ctx)
}

// LogTail is the last lines of the container's output.
func (n *zkNode) LogTail(lines int) string {
	if n == nil || n.c == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := n.c.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("--- container %s (%s), last %d lines:\n%s\n", n.Name, n.c.GetContainerID()[:12], len(all), strings.Join(all, "\n"))
}

// saveLogs writes the container's whole output to dir/zookeeper-<name>.log.
func (n *zkNode) saveLogs(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := n.c.Logs(ctx)
	if err != nil {
		return
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	_ = os.WriteFile(filepath.Join(dir, "zookeeper-"+n.Name+".log"), b, 0o644)
}

// ensemble is n ZooKeeper containers on a network of their own.
type ensemble struct {
	Nodes []*zkNode
	nw    *testcontainers.DockerNetwork
}

// ConnString is every server's host address.
func (e *ensemble) ConnString() string {
	var a []string
	for _, n := range e.Nodes {
		a = append(a, n.Addr())
	}
	return strings.Join(a, ",")
}

// Leader is the node that reports Mode leader.
func (e *ensemble) Leader() (*zkNode, error) {
	for _, n := range e.Nodes {
		if s, err := n.Srvr(); err == nil && s.Mode == "leader" {
			return n, nil
		}
	}
	return nil, errors.New("no leader")
}

// startEnsemble starts n servers on a new network and waits until each
// serves (a leader was elected and every follower synced). Everything is
// removed when the test ends, passed or not; if it failed, the servers'
// last log lines are logged. Their whole logs go to logDir.
func startEnsemble(t *testing.T, n int, logDir string) *ensemble {
	t.Helper()
	ctx := context.Background()
	nw, err := network.New(ctx, network.WithLabels(runLabels))
	if err != nil {
		t.Fatalf("create a network for the ensemble: %v", err)
	}
	e := &ensemble{nw: nw}
	t.Cleanup(func() {
		for _, n := range e.Nodes {
			if t.Failed() {
				t.Log(n.LogTail(40))
			}
			if logDir != "" {
				n.saveLogs(logDir)
			}
			if err := n.Terminate(); err != nil {
				t.Errorf("remove container %s: %v", n.Name, err)
			}
		}
		if err := nw.Remove(context.Background()); err != nil {
			t.Errorf("remove network %s: %v", nw.Name, err)
		}
	})
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("zk%d", i+1)
	}
	nodes := make([]*zkNode, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = startNode(ctx, names[i], i+1, names, nw)
		}()
	}
	wg.Wait()
	for i, nd := range nodes {
		if nd != nil {
			e.Nodes = append(e.Nodes, nd)
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	if err := waitServing(zkStartLimit, e.Nodes...); err != nil {
		t.Fatal(err)
	}
	return e
}

var standaloneZK struct {
	once sync.Once
	node *zkNode
	err  error
}

// standalone is the one standalone ZooKeeper container the standalone
// scenarios share (each under its own --root), started on first use and
// removed by TestMain.
func standalone(t *testing.T) *zkNode {
	t.Helper()
	standaloneZK.once.Do(func() {
		n, err := startNode(context.Background(), "zk", 0, nil, nil)
		if err == nil {
			err = waitServing(zkStartLimit, n)
		}
		standaloneZK.node, standaloneZK.err = n, err
	})
	if standaloneZK.err != nil {
		t.Fatal(standaloneZK.err)
	}
	n := standaloneZK.node
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(n.LogTail(30))
		}
	})
	return n
}

// sweep removes what earlier runs left behind (a panic, a killed test
// binary): containers and networks labelled by this suite whose test
// process is gone. A run that is still going (another `go test` on the
// same engine) is left alone.
func sweep(ctx context.Context) (removed int) {
	f := make(client.Filters).Add("label", labelE2E)
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0
	}
	for _, c := range cs.Items {
		if alive(c.Labels[labelPID]) {
			continue
		}
		if _, err := docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err == nil {
			removed++
		}
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return removed
	}
	for _, n := range ns.Items {
		if alive(n.Labels[labelPID]) {
			continue
		}
		if _, err := docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err == nil {
			removed++
		}
	}
	return removed
}

func alive(pid string) bool {
	p, err := strconv.Atoi(pid)
	if err != nil || p <= 0 {
		return false
	}
	err = syscall.Kill(p, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// startWatchdog starts a detached shell that waits for this test process to
// end, however it ends (a panic, go test's -timeout, SIGKILL), and then
// removes every container and network of this run: the job of
// testcontainers' Ryuk, which is itself an image and cannot run without a
// registry. Normally it finds nothing left. Needs the docker CLI; without
// it, the next run's sweep removes the leftovers.
func startWatchdog() {
	docker, err := exec.LookPath("docker")
	if err != nil {
		return
	}
	const script = `pid=$1 run=$2 docker=$3
while kill -0 "$pid" 2>/dev/null; do sleep 1; done
ids=$("$docker" ps -aq --filter "label=` + labelRun + `=$run")
[ -z "$ids" ] || "$docker" rm -f -v $ids >/dev/null 2>&1
nets=$("$docker" network ls -q --filter "label=` + labelRun + `=$run")
[ -z "$nets" ] || "$docker" network rm $nets >/dev/null 2>&1
exit 0`
	cmd := exec.Command("/bin/sh", "-c", script, "paddock-e2e-watchdog", strconv.Itoa(os.Getpid()), runID, docker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		_ = cmd.Process.Release()
	}
}
