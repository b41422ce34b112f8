package proctest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PrometheusBin is Debian's Prometheus, which `make tools` installs.
const PrometheusBin = "/usr/bin/prometheus"

// MsgServingHTTP is what a daemon logs once its --http-addr listener
// serves; its field addr is the address it bound.
const MsgServingHTTP = "serving http"

// HTTPAddr waits until p (started with --http-addr) serves and returns the
// address it listens on, which tells the port when it was given port 0.
func (p *Proc) HTTPAddr(timeout time.Duration) string {
	p.tb.Helper()
	return p.WaitLog(timeout, Msg(MsgServingHTTP)).Str("addr")
}

// Target is one endpoint Prometheus scrapes, with labels of its own.
type Target struct {
	Addr   string            // host:port serving /metrics
	Labels map[string]string // e.g. {"id": "m1"}
}

// Prometheus is a real Prometheus server scraping an Env's daemons.
type Prometheus struct {
	Proc *Proc
	URL  string // http://127.0.0.1:port
	e    *Env
	http *http.Client
}

// Prometheus starts Prometheus scraping targets every second, with its
// configuration and database in a temporary directory, on a free loopback
// port, and waits until it is ready. The Env's cleanup stops it. It fails
// the test, pointing at `make tools`, when Prometheus is not installed.
func (e *Env) Prometheus(targets ...Target) *Prometheus {
	e.TB.Helper()
	if _, err := os.Stat(PrometheusBin); err != nil {
		e.TB.Fatalf("%s is missing: install Debian's prometheus package with `make tools` (scripts/ensure-deb.sh prometheus prometheus): %v", PrometheusBin, err)
	}
	dir, err := os.MkdirTemp(e.Dir, "prometheus-")
	if err != nil {
		e.TB.Fatal(err)
	}
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: paddock\n    static_configs:\n")
	for _, t := range targets {
		labels, err := json.Marshal(t.Labels) // JSON is YAML
		if err != nil {
			e.TB.Fatal(err)
		}
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels: %s\n", t.Addr, labels)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		e.TB.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		e.TB.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := e.Start("prometheus", "prometheus", "", PrometheusBin, []string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--log.level=warn",
	})
	prom := &Prometheus{Proc: p, URL: "http://" + addr, e: e, http: &http.Client{Timeout: 5 * time.Second}}
	prom.await(StartTimeout, "Prometheus to be ready", func() (bool, string) {
		if p.Exited() {
			e.TB.Fatalf("prometheus exited (%d): %s", p.ExitCode(), p.Tail(20))
		}
		resp, err := prom.http.Get(prom.URL + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return prom
}

// freePort is a loopback port nobody listened on a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// await polls cond until it holds, failing the test after timeout with
// what cond said last.
func (p *Prometheus) await(timeout time.Duration, what string, cond func() (bool, string)) {
	p.e.TB.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.e.TB.Fatalf("timed out after %v waiting for %s (last: %s)", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// api GETs an /api/v1 path and decodes its data.
func (p *Prometheus) api(path string, query url.Values, data any) error {
	resp, err := p.http.Get(p.URL + "/api/v1/" + path + "?" + query.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var out struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("%s: %d %q: %w", path, resp.StatusCode, body, err)
	}
	if out.Status != "success" {
		return fmt.Errorf("%s: %s", path, out.Error)
	}
	return json.Unmarshal(out.Data, data)
}

// WaitTargetsUp waits until Prometheus has scraped every target
// successfully.
func (p *Prometheus) WaitTargetsUp(timeout time.Duration) {
	p.e.TB.Helper()
	p.await(timeout, "every target to be up", func() (bool, string) {
		var data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := p.api("targets", url.Values{"state": {"active"}}, &data); err != nil {
			return false, err.Error()
		}
		var down []string
		for _, t := range data.ActiveTargets {
			if t.Health != "up" {
				down = append(down, fmt.Sprintf("%s %s %s", t.ScrapeURL, t.Health, t.LastError))
			}
		}
		return len(data.ActiveTargets) > 0 && len(down) == 0, strings.Join(down, "; ")
	})
}

// Query evaluates expr now and returns the value of its single sample;
// ok is false when the result is empty.
func (p *Prometheus) Query(expr string) (v float64, ok bool, err error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := p.api("query", url.Values{"query": {expr}}, &data); err != nil {
		return 0, false, err
	}
	switch {
	case data.ResultType != "vector":
		return 0, false, fmt.Errorf("%s: a %s, want a vector", expr, data.ResultType)
	case len(data.Result) == 0:
		return 0, false, nil
	case len(data.Result) > 1:
		return 0, false, fmt.Errorf("%s: %d samples, want one", expr, len(data.Result))
	}
	s, _ := data.Result[0].Value[1].(string)
	v, err = strconv.ParseFloat(s, 64)
	return v, err == nil, err
}

// WaitQuery waits until expr has a value that satisfies cond, and returns
// it.
func (p *Prometheus) WaitQuery(timeout time.Duration, expr string, cond func(float64) bool) float64 {
	p.e.TB.Helper()
	var v float64
	p.await(timeout, "query "+expr, func() (bool, string) {
		got, ok, err := p.Query(expr)
		switch {
		case err != nil:
			return false, err.Error()
		case !ok:
			return false, "no sample"
		}
		v = got
		return cond(got), strconv.FormatFloat(got, 'g', -1, 64)
	})
	return v
}
