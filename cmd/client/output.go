package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printResult shows a result and turns its status into the exit code.
func printResult(w io.Writer, r paddock.Result, asJSON bool) error {
	if asJSON {
		if err := printJSON(w, r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "id:       %s\n", r.ID)
		fmt.Fprintf(w, "kind:     %s\n", r.Kind)
		fmt.Fprintf(w, "status:   %s\n", r.Status)
		if r.Worker != "" {
			fmt.Fprintf(w, "worker:   %s (attempt %d)\n", r.Worker, r.Attempts)
		}
		if r.ExitCode != nil {
			fmt.Fprintf(w, "exit:     %d\n", *r.ExitCode)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "error:    %s\n", r.Error)
		}
		if !r.StartedAt.IsZero() {
			fmt.Fprintf(w, "ran:      %s\n", roundDuration(r.FinishedAt.Sub(r.StartedAt)))
		}
		fmt.Fprintf(w, "output:   %s\n", indent(r.Output))
		if r.Stderr != "" {
			fmt.Fprintf(w, "stderr:   %s\n", indent(r.Stderr))
		}
	}
	if r.Status != paddock.Succeeded {
		return cli.Exit(cli.ExitNotSuccess, nil)
	}
	return nil
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n          ")
}

// roundDuration keeps three significant figures: "412µs", "1.5ms", "2.01s".
func roundDuration(d time.Duration) time.Duration {
	for unit := time.Nanosecond; unit < time.Second; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(10 * time.Millisecond)
}
