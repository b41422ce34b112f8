package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Config says how to listen.
type Config struct {
	Addr    string // host:port; port 0 picks a free one (Server.Addr tells which)
	Version string // this build's version, for paddock_build_info
	Logger  *zap.Logger
}

// Server is a daemon's operations listener. Listen binds it; the daemon
// then registers its collectors and checks (and others mount their pages),
// and Start serves. Every method is safe on a nil *Server and then does
// nothing, so a daemon started without --http-addr needs no branches.
type Server struct {
	ln  net.Listener
	log *zap.Logger
	reg *prometheus.Registry
	mux *http.ServeMux
	srv *http.Server

	mu      sync.Mutex
	started bool
	live    checks
	ready   checks
	served  chan struct{} // closed when Serve has returned
}

// Listen binds cfg.Addr before the daemon starts its work, so that a bad or
// busy address fails the start instead of a running daemon.
func Listen(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, log: cfg.Logger, reg: NewRegistry(cfg.Version), mux: http.NewServeMux(), served: make(chan struct{})}
	s.mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		Registry:          s.reg, // counts its own errors (promhttp_metric_handler_errors_total)
		ErrorLog:          zap.NewStdLog(cfg.Logger),
		EnableOpenMetrics: true,
	}))
	s.mux.HandleFunc("/livez", s.live.handler)
	s.mux.HandleFunc("/readyz", s.ready.handler)
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second, // a silent client must not hold a connection forever
		ErrorLog:          zap.NewStdLog(cfg.Logger),
	}
	return s, nil
}

// Addr is the address the server listens on ("" on a nil Server).
func (s *Server) Addr() string {
	if s == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Registry is the process's metrics registry, served on /metrics (nil on a
// nil Server).
func (s *Server) Registry() *prometheus.Registry {
	if s == nil {
		return nil
	}
	return s.reg
}

// MustRegister registers collectors on the registry; it panics when one
// clashes with a registered one (a programming error).
func (s *Server) MustRegister(cs ...prometheus.Collector) {
	if s != nil {
		s.reg.MustRegister(cs...)
	}
}

// Handle mounts h at pattern (http.ServeMux syntax), beside the endpoints
// the Server serves itself; "/" catches every path they do not. It must be
// called before Start: a page that appeared while the listener already
// answered would be served to some requests and not others. It panics
// after Start, and when pattern clashes with a mounted one.
func (s *Server) Handle(pattern string, h http.Handler) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic(fmt.Sprintf("ops: Handle(%q) after Start", pattern))
	}
	s.mux.Handle(pattern, h)
}

// OnShutdown runs f when Close begins, before it waits for requests in
// progress: long-lived responses (a page's event stream) end then, instead
// of holding the shutdown until its deadline.
func (s *Server) OnShutdown(f func()) {
	if s != nil {
		s.srv.RegisterOnShutdown(f)
	}
}

// Live adds a liveness check to /livez: a check that fails means the
// process is wedged and should be restarted. It may be called at any time.
func (s *Server) Live(name string, check func() error) {
	if s != nil {
		s.live.add(name, check)
	}
}

// Ready adds a readiness check to /readyz: a check that fails means the
// process cannot do its job now (and may again later, by itself). It may
// be called at any time.
func (s *Server) Ready(name string, check func() error) {
	if s != nil {
		s.ready.add(name, check)
	}
}

// Start serves on a goroutine of the Server's own until Close.
func (s *Server) Start() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	s.log.Info("serving http", zap.String("addr", s.Addr()),
		zap.Strings("paths", []string{"/metrics", "/livez", "/readyz", "/debug/pprof/"}))
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http listener failed", zap.Error(err))
		}
	}()
}

// Close stops serving: requests in progress get until ctx is done to
// finish (a scrape does at once; a CPU profile may not), then their
// connections are closed. It returns once the serving goroutine has ended.
func (s *Server) Close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	started := s.started
	s.started = true // no Start after Close
	s.mu.Unlock()
	if !started {
		return s.ln.Close()
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.served
	return err
}
