package ops

import (
	"encoding/json"
	"net/http"
	"sync"
)

// Report is the JSON body of /livez and /readyz: whether every check
// passed, and each check's verdict in the order they were added.
type Report struct {
	OK     bool          `json:"ok"`
	Checks []CheckResult `json:"checks"`
}

// CheckResult is one check's verdict; Reason says what is wrong when it
// failed.
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

type check struct {
	name string
	f    func() error
}

// checks is one probe endpoint's list; the daemon adds to it while
// requests read it.
type checks struct {
	mu   sync.Mutex
	list []check
}

func (c *checks) add(name string, f func() error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, check{name, f})
}

// run evaluates every check, outside the lock: a check may take the
// daemon's own locks, and must not hold up add.
func (c *checks) run() Report {
	c.mu.Lock()
	list := append([]check(nil), c.list...)
	c.mu.Unlock()
	r := Report{OK: true, Checks: make([]CheckResult, 0, len(list))}
	for _, ch := range list {
		res := CheckResult{Name: ch.name, OK: true}
		if err := ch.f(); err != nil {
			res.OK, res.Reason = false, err.Error()
			r.OK = false
		}
		r.Checks = append(r.Checks, res)
	}
	return r
}

func (c *checks) handler(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r := c.run()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !r.OK {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(r)
}
