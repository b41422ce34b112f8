// Package proctest runs Paddock's four binaries (master, worker, client,
// election) as real processes for process-level fault tests: it builds them,
// starts them with their output captured, signals them (SIGKILL, SIGTERM,
// SIGSTOP, SIGCONT), waits on their JSON log lines, reads the ZooKeeper tree
// they share, and checks the history they leave (every task exactly one
// result, no assignment by a deposed master, ...).
//
// Nothing here starts ZooKeeper or assumes how it was started: every entry
// point takes the connect string ("host:port,host:port"), so the same
// scenarios run against a ZooKeeper the test launched as a JVM
// (internal/zktest) or one in containers.
package proctest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Bins are the paths of the built binaries.
type Bins struct {
	Dir      string // the directory holding them
	Master   string
	Worker   string
	Client   string
	Election string
}

// ModuleRoot walks up from the working directory (a test runs in its
// package's directory) to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("proctest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// goTool finds the go command: on PATH, else under $GOROOT (go test sets
// it for the test binary), else by name and let exec report it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// BinsEnv names a directory of binaries built beforehand (master, worker,
// client; election if a test needs it) that [Build] uses instead of
// building: for running the benchmarks' test binary on a host with no Go
// toolchain (a larger host lent for a measurement).
const BinsEnv = "PADDOCK_BINS"

// BinsIn returns the binaries in dir, as `go build -o dir/ ./cmd/...`
// leaves them; an error names the first one missing (the election binary
// may be, for a bundle that does not need it).
func BinsIn(dir string) (Bins, error) {
	b := Bins{
		Dir:      dir,
		Master:   filepath.Join(dir, "master"),
		Worker:   filepath.Join(dir, "worker"),
		Client:   filepath.Join(dir, "client"),
		Election: filepath.Join(dir, "election"),
	}
	for _, p := range []string{b.Master, b.Worker, b.Client} {
		if _, err := os.Stat(p); err != nil {
			return Bins{}, fmt.Errorf("proctest: no binary %s: %w", p, err)
		}
	}
	return b, nil
}

// BuildIn builds ./cmd/... of the module into dir (created if missing) with
// `go build -o dir/ ./cmd/...`. It does not use the testing package, so a
// TestMain can call it once for every test of the package.
func BuildIn(dir string) (Bins, error) {
	root, err := ModuleRoot()
	if err != nil {
		return Bins{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Bins{}, fmt.Errorf("proctest: %w", err)
	}
	cmd := exec.Command(goTool(), "build", "-o", dir+string(filepath.Separator), "./cmd/...")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Bins{}, fmt.Errorf("proctest: go build ./cmd/... in %s: %v\n%s", root, err, out)
	}
	b, err := BinsIn(dir)
	if err == nil {
		_, err = os.Stat(b.Election)
	}
	if err != nil {
		return Bins{}, fmt.Errorf("proctest: go build did not produce every binary: %w", err)
	}
	return b, nil
}

var built struct {
	once sync.Once
	bins Bins
	err  error
}

// Build builds the binaries once per test binary run (the first call
// builds, later calls return the same paths) into a temporary directory,
// failing tb if the build fails. Call [RemoveBuilt] from TestMain after
// m.Run to delete that directory. With [BinsEnv] set it builds nothing and
// returns the binaries there.
func Build(tb testing.TB) Bins {
	tb.Helper()
	if dir := os.Getenv(BinsEnv); dir != "" {
		b, err := BinsIn(dir)
		if err != nil {
			tb.Fatalf("%s: %v", BinsEnv, err)
		}
		return b
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "paddock-bins-")
		if err != nil {
			built.err = err
			return
		}
		built.bins, built.err = BuildIn(dir)
		if built.err != nil {
			os.RemoveAll(dir)
		}
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.bins
}

// RemoveBuilt deletes the directory [Build] built into, if it did.
func RemoveBuilt() {
	if built.bins.Dir != "" {
		os.RemoveAll(built.bins.Dir)
	}
}
