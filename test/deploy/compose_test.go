package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// compose runs scripts/compose.sh (Compose v2 or docker-compose 1.29) on
// deploy/compose.yaml for one project.
type compose struct {
	t       *testing.T
	project string
	env     []string
}

func (c *compose) cmd(ctx context.Context, args ...string) *exec.Cmd {
	all := append([]string{"-p", c.project, "-f", "../../deploy/compose.yaml"}, args...)
	cmd := exec.CommandContext(ctx, "../../scripts/compose.sh", all...)
	cmd.Env = append(os.Environ(), c.env...)
	return cmd
}

// run runs a compose command to completion and returns its stdout.
func (c *compose) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := c.cmd(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("compose %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (c *compose) must(timeout time.Duration, args ...string) string {
	c.t.Helper()
	out, err := c.run(timeout, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// status is the part of `client status -o json` the test reads.
type status struct {
	Epoch struct {
		Epoch int64 `json:"epoch"`
	} `json:"epoch"`
	Leader *struct {
		ID string `json:"id"`
	} `json:"leader"`
	Backups []struct {
		ID string `json:"id"`
	} `json:"backups"`
	Workers []struct {
		Name string `json:"name"`
	} `json:"workers"`
	Running int `json:"running"`
}

// status reads the cluster's status with the client in worker1's container
// (the image has every binary; settings come from the environment).
func (c *compose) status() (status, error) {
	out, err := c.run(30*time.Second, "exec", "-T", "worker1", "paddock-client", "status", "-o", "json")
	var st status
	if err == nil {
		err = json.Unmarshal([]byte(out), &st)
	}
	return st, err
}

// waitStatus polls the status until ok holds or the deadline passes.
func (c *compose) waitStatus(what string, timeout time.Duration, ok func(status) bool) status {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last status
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = c.status()
		if lastErr == nil && ok(last) {
			return last
		}
		time.Sleep(500 * time.Millisecond) // polling an external system's state
	}
	c.t.Fatalf("%s: not within %v (last status %+v, error %v)", what, timeout, last, lastErr)
	return last
}

func (c *compose) health(service string) string {
	id := strings.TrimSpace(c.must(30*time.Second, "ps", "-q", service))
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Health.Status}}", id).Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

// TestComposeClusterSurvivesLosingItsLeader builds both images with no
// registry, brings up deploy/compose.yaml (3 ZooKeeper servers, 2 masters,
// 3 workers), runs tasks from a client in a container, kills the leading
// master's container (SIGKILL) in the middle, and checks that the backup
// takes over, every task finishes, the probes report healthy, and that
// tearing down leaves no container, network or volume behind.
func TestComposeClusterSurvivesLosingItsLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and runs a cluster in containers")
	}
	image := script(t, "../../deploy/image.sh")
	zkImage := script(t, "../../deploy/zookeeper-image/ensure.sh")
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	c := &compose{t: t, project: "paddock-deploytest-" + hex.EncodeToString(rnd[:])}
	c.env = []string{"PADDOCK_IMAGE=" + image, "PADDOCK_ZK_IMAGE=" + zkImage,
		"PADDOCK_MASTER1_PORT=" + freePort(t), "PADDOCK_MASTER2_PORT=" + freePort(t)}
	t.Cleanup(func() { c.down() })
	c.must(5*time.Minute, "up", "-d")

	st := c.waitStatus("a leader, a backup and 3 workers", 3*time.Minute, func(s status) bool {
		return s.Leader != nil && s.Epoch.Epoch > 0 && len(s.Backups) == 1 && len(s.Workers) == 3
	})
	leader, backup := st.Leader.ID, st.Backups[0].ID
	t.Logf("leader %s (epoch %d), backup %s", leader, st.Epoch.Epoch, backup)
	for _, svc := range []string{"master1", "master2", "worker1", "worker2", "worker3"} {
		waitHealthy(t, c, svc)
	}

	const tasks = 60
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var runOut, runErr bytes.Buffer
	run := c.cmd(ctx, "exec", "-T", "worker1", "paddock-client", "run", "--tasks", fmt.Sprint(tasks),
		"--concurrency", "6", "--kind", "sleep", "--data", "0.2", "-o", "json")
	run.Stdout, run.Stderr = &runOut, &runErr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("tasks running", time.Minute, func(s status) bool { return s.Running > 0 })
	killed := time.Now()
	c.must(time.Minute, "kill", leader)
	after := c.waitStatus("the backup leading", time.Minute, func(s status) bool {
		return s.Leader != nil && s.Leader.ID == backup && s.Epoch.Epoch > st.Epoch.Epoch
	})
	t.Logf("%s took over (epoch %d) %v after the kill", backup, after.Epoch.Epoch, time.Since(killed).Round(100*time.Millisecond))

	if err := run.Wait(); err != nil {
		t.Fatalf("client run: %v\nstdout %s\nstderr %s", err, runOut.String(), runErr.String())
	}
	var sum struct {
		Tasks, Succeeded, Lost int
	}
	if err := json.Unmarshal(runOut.Bytes(), &sum); err != nil || sum.Tasks != tasks || sum.Succeeded != tasks || sum.Lost != 0 {
		t.Fatalf("client run summary %+v (%v): %s", sum, err, runOut.String())
	}
	waitHealthy(t, c, backup)
}

// waitHealthy waits for a container's health check (paddock-client probe
// on /readyz) to pass.
func waitHealthy(t *testing.T, c *compose, service string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	h := ""
	for time.Now().Before(deadline) {
		if h = c.health(service); h == "healthy" {
			return
		}
		time.Sleep(time.Second) // the engine runs the check every 5 s
	}
	t.Fatalf("%s: health %q after 2 minutes", service, h)
}

// down removes everything and checks that nothing of the project is left.
func (c *compose) down() {
	if _, err := c.run(3*time.Minute, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		c.t.Error(err)
	}
	label := "label=com.docker.compose.project=" + c.project
	for _, kind := range [][]string{{"ps", "-a"}, {"network", "ls"}, {"volume", "ls"}} {
		out, err := exec.Command("docker", append(kind, "-q", "--filter", label)...).Output()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			c.t.Errorf("docker %s after down: %v %q", strings.Join(kind, " "), err, out)
		}
	}
}

func script(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(path).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v\n%s", path, err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
