// Package evidence is what the end-to-end scenarios (test/e2e) leave
// behind: one JSON file per scenario, in the directory named by
// PADDOCK_E2E_EVIDENCE, telling its setup, what was done when, what was
// measured and the history checker's verdict; and run.json about the run
// as a whole. test/e2e/scenariosdoc turns a directory of them into
// docs/SCENARIOS.md.
package evidence

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/paddock-zk/paddock/internal/proctest"
)

// DirEnv names the directory the scenarios write their evidence to. Unset,
// they write none.
const DirEnv = "PADDOCK_E2E_EVIDENCE"

// RunFile is the name of the file about the whole run.
const RunFile = "run.json"

// Scenario is one scenario's evidence.
type Scenario struct {
	Name     string            `json:"name"`  // the Go test, e.g. TestLeaderKilled
	Title    string            `json:"title"` // e.g. "2/2/2: the leader is killed (kill -9)"
	About    string            `json:"about"` // what it does and expects, a paragraph
	Setup    Setup             `json:"setup"`
	Started  time.Time         `json:"started"`
	Seconds  float64           `json:"seconds"` // how long the test took
	Passed   bool              `json:"passed"`  // the Go test passed
	Events   []Event           `json:"events"`  // what was done and seen, in time order
	Measures []Measure         `json:"measures"`
	Runs     []Run             `json:"runs,omitempty"` // client run summaries
	Verdict  *proctest.Verdict `json:"verdict,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Facts    map[string]string `json:"facts,omitempty"` // observations the report quotes, by key
}

// Setup is the deployment a scenario ran.
type Setup struct {
	ZooKeeper      string `json:"zookeeper"` // e.g. "standalone, 1 container"
	Image          string `json:"image"`
	TickTime       string `json:"tick_time"`
	SessionTimeout string `json:"session_timeout"` // given to masters, workers, election processes
	Masters        int    `json:"masters"`
	Workers        string `json:"workers"` // e.g. "2 (concurrency 4)"
	Clients        string `json:"clients"` // e.g. "2 × client run (120 tasks, 4 loops)"
	Tasks          string `json:"tasks"`   // e.g. "sleep 0.1 s"
}

// Event is something the test did or saw, At seconds after the scenario
// started.
type Event struct {
	At   float64 `json:"at_s"`
	What string  `json:"what"`
}

// Measure is a measured value, with the bound the test holds it to (0: none).
type Measure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // "ms", "s", "tasks/s", "" ...
	Bound float64 `json:"bound,omitempty"`
	OK    bool    `json:"ok"`
}

// Run is the summary of a `client run --json`.
type Run struct {
	Label string `json:"label"`
	Code  int    `json:"exit_code"`
	proctest.RunSummary
}

// RunInfo is about the run as a whole.
type RunInfo struct {
	Started       time.Time `json:"started"`
	Seconds       float64   `json:"seconds"`
	Image         string    `json:"image"`
	ImageSource   string    `json:"image_source"` // how the image was obtained
	ImageSeconds  float64   `json:"image_seconds"`
	DockerServer  string    `json:"docker_server"`
	DockerAPI     string    `json:"docker_api"`
	GoVersion     string    `json:"go_version"`
	CPUs          int       `json:"cpus"`
	Kernel        string    `json:"kernel,omitempty"`
	Host          string    `json:"host,omitempty"`
	Testcontainer string    `json:"testcontainers"`
	Passed        bool      `json:"passed"`
}

// Measure returns the measure named name, if any.
func (s *Scenario) Measure(name string) (Measure, bool) {
	for _, m := range s.Measures {
		if m.Name == name {
			return m, true
		}
	}
	return Measure{}, false
}

// Run returns the run labelled label, if any.
func (s *Scenario) Run(label string) (Run, bool) {
	for _, r := range s.Runs {
		if r.Label == label {
			return r, true
		}
	}
	return Run{}, false
}

// FileName is where a scenario's evidence goes in the directory.
func FileName(name string) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(name) + ".json"
}

// Write writes v as indented JSON to dir/file.
func Write(dir, file string, v any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, file), append(b, '\n'), 0o644)
}

// Read reads a directory: the run info (zero if absent) and every
// scenario, by name.
func Read(dir string) (RunInfo, map[string]*Scenario, error) {
	var info RunInfo
	if b, err := os.ReadFile(filepath.Join(dir, RunFile)); err == nil {
		if err := json.Unmarshal(b, &info); err != nil {
			return info, nil, fmt.Errorf("%s: %w", RunFile, err)
		}
	} else if !os.IsNotExist(err) {
		return info, nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return info, nil, err
	}
	sort.Strings(files)
	out := map[string]*Scenario{}
	for _, f := range files {
		if filepath.Base(f) == RunFile {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return info, nil, err
		}
		var s Scenario
		if err := json.Unmarshal(b, &s); err != nil {
			return info, nil, fmt.Errorf("%s: %w", f, err)
		}
		out[s.Name] = &s
	}
	return info, out, nil
}
