package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/dashboard"
	"github.com/spf13/cobra"
)

// shutdownTimeout bounds how long a stopping dashboard waits for requests
// in flight (event streams end at once).
const shutdownTimeout = 5 * time.Second

func newDashboardCommand(g *globals) *cobra.Command {
	var (
		addr     string
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the live status page on a machine that runs no master",
		Long: `Serve Paddock's live status page, the one every master serves on its HTTP
listener: the leader and the backups in line with the epoch, the workers with
their load, the task counts, the oldest pending task's age (from a leading
master only), the throughput over the last minute, the newest dead letters and
the roles. It updates itself every --interval while someone looks, and reads
ZooKeeper only then (once per interval however many people look).

It prints the page's URL on stdout and serves until Ctrl-C (or SIGTERM), then
exits 0: stopping is how a server ends. GET /api/status is the JSON that
'client status -o json' prints; GET /api/events streams it.`,
		Example: `  client dashboard                          # http://127.0.0.1:8080/
  client dashboard --http-addr :8080        # from other machines too
  client dashboard --http-addr 127.0.0.1:0  # any free port (the URL says which)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return cli.Usage(fmt.Errorf("--http-addr %q: want host:port (e.g. 127.0.0.1:8080 or :8080)", addr))
			}
			if interval <= 0 {
				return cli.Usage(errors.New("--interval must be positive"))
			}
			return g.withEnv(cmd, func(env *cli.Env) error {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("--http-addr %s: %w", addr, err)
				}
				h := dashboard.New(env.Client, env.Layout, dashboard.Options{Interval: interval, Log: env.Log})
				defer h.Close()
				srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
				srv.RegisterOnShutdown(h.Close)
				fmt.Fprintf(cmd.OutOrStdout(), "status page: %s\n", pageURL(ln.Addr()))
				return serveUntilDone(cmd.Context(), srv, ln)
			})
		},
	}
	cmd.Flags().StringVar(&addr, "http-addr", "127.0.0.1:8080", "serve the page on this host:port (port 0: any free port)")
	cmd.Flags().DurationVar(&interval, "interval", dashboard.DefaultInterval, "how often the page updates (and ZooKeeper is read) while someone looks")
	return cmd
}

// serveUntilDone serves until ctx ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// pageURL is where a browser on this machine finds the page: a listener on
// every interface is reached through loopback.
func pageURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String() + "/"
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(tcp.Port)) + "/"
}
