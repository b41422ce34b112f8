package cli

import (
	"net"
	"net/http"
	"net/http/pprof"

	"go.uber.org/zap"
)

// servePprof serves Go's profiles (CPU, heap, goroutines) for operators and
// benchmarks; it listens before returning so a bad address fails the start.
func servePprof(addr string, log *zap.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("serving pprof", zap.String("addr", ln.Addr().String()))
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
