// Package e2e replays Paddock's fault scenarios end to end with ZooKeeper in
// Docker containers (testcontainers-go) and Paddock's four binaries as host
// processes the tests kill, stop and resume (internal/proctest): 1/1/1
// through 2/2/2, a lagging master, a master cut off from ZooKeeper, a
// 3-server ensemble losing one server and then its quorum, and the
// election alone. Each scenario ends with proctest's history checker and,
// when PADDOCK_E2E_EVIDENCE names a directory, leaves its evidence there
// as JSON (test/e2e/evidence); `make scenarios` turns it into
// docs/SCENARIOS.md.
//
// The ZooKeeper image is PADDOCK_ZK_IMAGE (default zookeeper:3.8, the
// official image). When the engine does not have it and cannot pull it,
// deploy/zookeeper-image/ensure.sh builds one from the ZooKeeper installed
// on the host, with no registry. The tests run either image the same way:
// they copy in their own zoo.cfg and start script and make that the
// entrypoint.
//
// Ryuk (testcontainers' reaper, itself an image) is disabled; every
// container and network is labelled and removed by the test that made it
// (t.Cleanup), by TestMain, by a watchdog process if the test binary dies,
// and, failing all that, by the next run's sweep.
//
// The suite needs a Docker engine: without one it fails, saying so.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/test/e2e/evidence"
)

var (
	bins        proctest.Bins
	evidenceDir string // PADDOCK_E2E_EVIDENCE, or ""
	runInfo     evidence.RunInfo
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "test/e2e: "+format+"\n", args...)
	return 1
}

func run(m *testing.M) int {
	started := time.Now()
	// Ryuk is an image: with no registry it cannot start. This suite
	// removes what it creates itself.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if os.Getenv("PADDOCK_E2E_DOCKER_LOG") == "" {
		tclog.SetDefault(tclog.NewNoopLogger())
	}
	evidenceDir = os.Getenv(evidence.DirEnv)
	if evidenceDir != "" && os.Getenv(proctest.LogDirEnv) == "" {
		// Keep every process's output next to the evidence.
		os.Setenv(proctest.LogDirEnv, filepath.Join(evidenceDir, "logs"))
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	runID = hex.EncodeToString(rnd[:])
	runLabels = map[string]string{labelE2E: "true", labelRun: runID, labelPID: strconv.Itoa(os.Getpid())}

	ctx := context.Background()
	var err error
	docker, err = testcontainers.NewDockerClientWithOpts(ctx)
	var info client.SystemInfoResult
	if err == nil {
		info, err = docker.Info(ctx, client.InfoOptions{})
	}
	if err != nil {
		return fail("these tests run ZooKeeper in Docker containers and need a Docker engine, "+
			"but none is reachable: %v\n"+
			"Install and start Docker (Debian: apt-get install docker.io), or point DOCKER_HOST at an engine. "+
			"If DOCKER_API_VERSION is set, unset it so that the client negotiates the engine's version.", err)
	}
	runInfo = evidence.RunInfo{
		Started: started, DockerServer: info.Info.ServerVersion, DockerAPI: docker.ClientVersion(),
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Kernel: info.Info.KernelVersion,
		Host: info.Info.OperatingSystem, Testcontainer: "v0.44.0",
	}
	if n := sweep(ctx); n > 0 {
		fmt.Fprintf(os.Stderr, "test/e2e: removed %d containers/networks left by earlier runs\n", n)
	}
	startWatchdog()

	root, err := proctest.ModuleRoot()
	if err != nil {
		return fail("%v", err)
	}
	if startSh, err = os.ReadFile(filepath.Join(root, "deploy", "zookeeper-image", "start-zookeeper.sh")); err != nil {
		return fail("%v", err)
	}
	tmp, err := os.MkdirTemp("", "paddock-e2e-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)

	// The image (built on demand from the host's ZooKeeper) and the
	// binaries, at once.
	var wg sync.WaitGroup
	var imgErr, buildErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		t0 := time.Now()
		zkImage, runInfo.ImageSource, imgErr = ensureImage(root)
		runInfo.ImageSeconds = time.Since(t0).Seconds()
		runInfo.Image = zkImage
	}()
	go func() {
		defer wg.Done()
		bins, buildErr = proctest.BuildIn(filepath.Join(tmp, "bin"))
	}()
	wg.Wait()
	if imgErr != nil {
		return fail("no ZooKeeper image: %v", imgErr)
	}
	if buildErr != nil {
		return fail("%v", buildErr)
	}
	fmt.Fprintf(os.Stderr, "test/e2e: ZooKeeper image %s (%s); Docker %s, API %s\n", zkImage, runInfo.ImageSource, runInfo.DockerServer, runInfo.DockerAPI)

	code := m.Run()

	if n := standaloneZK.node; n != nil {
		if evidenceDir != "" {
			n.saveLogs(evidenceDir)
		}
		if err := n.Terminate(); err != nil {
			fmt.Fprintf(os.Stderr, "test/e2e: remove the standalone ZooKeeper: %v\n", err)
			code = 1
		}
	}
	if n := sweepRun(ctx); n > 0 {
		fmt.Fprintf(os.Stderr, "test/e2e: %d containers/networks of this run were left and are now removed\n", n)
		code = 1
	}
	if evidenceDir != "" {
		runInfo.Seconds = time.Since(started).Seconds()
		runInfo.Passed = code == 0
		if err := evidence.Write(evidenceDir, evidence.RunFile, runInfo); err != nil {
			fmt.Fprintf(os.Stderr, "test/e2e: %v\n", err)
		}
	}
	return code
}

// ensureImage runs deploy/zookeeper-image/ensure.sh, which prints the image
// to use (present, pulled, or built from the host's ZooKeeper).
func ensureImage(root string) (image, source string, err error) {
	cmd := exec.Command(filepath.Join(root, "deploy", "zookeeper-image", "ensure.sh"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("deploy/zookeeper-image/ensure.sh: %v\n%s", err, stderr.String())
	}
	image = strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(image, '\n'); i >= 0 {
		image = image[i+1:]
	}
	switch msg := stderr.String(); {
	case strings.Contains(msg, "building"):
		source = "built now from the host's ZooKeeper (no registry)"
	case strings.Contains(msg, "using"):
		source = "built earlier from the host's ZooKeeper (no registry), cached"
	case strings.Contains(msg, "trying to pull") && !strings.Contains(msg, "cannot pull"):
		source = "pulled now"
	default:
		source = "present in the engine"
	}
	return image, source, nil
}

// sweepRun removes whatever of this run is still there; it returns how
// much it removed (0 when every test cleaned up after itself).
func sweepRun(ctx context.Context) int {
	f := make(client.Filters).Add("label", labelRun+"="+runID)
	n := 0
	if cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs.Items {
			if _, err := docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err == nil {
				n++
			}
		}
	}
	if ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
		for _, nw := range ns.Items {
			if _, err := docker.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err == nil {
				n++
			}
		}
	}
	return n
}
