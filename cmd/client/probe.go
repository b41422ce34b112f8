package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

// newProbeCommand is a health check for containers: the image has no shell
// or curl, so compose's healthcheck runs this against a daemon's /readyz.
func newProbeCommand(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "probe URL",
		Short: "Check a master's or worker's probe endpoint (exit 0 when it answers 200)",
		Long: `GET URL (a daemon's /readyz or /livez, served on its --http-addr) and exit 0
when it answers 200 OK, 1 otherwise, printing the answer. It does not talk to
ZooKeeper. Meant for container health checks, where the image has no shell
and no curl.`,
		Example: `  client probe http://127.0.0.1:9100/readyz
  # compose: healthcheck: {test: ["CMD", "paddock-client", "probe", "http://127.0.0.1:9100/readyz"]}`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(args[0])
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return cli.Usage(fmt.Errorf("%q is not an http(s) URL", args[0]))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err != nil {
				return cli.Usage(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			fmt.Fprintf(cmd.OutOrStdout(), "%s", body)
			if resp.StatusCode != http.StatusOK {
				return errors.New(resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}
