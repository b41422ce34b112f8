package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

func newInspectCommand(g *globals) *cobra.Command {
	var preview int
	cmd := &cobra.Command{
		Use:   "inspect ID",
		Short: "Show everything about one task, finished or not",
		Long: `Show what ZooKeeper holds about task ID, wherever it is: its state (pending,
running, finished, dead), kind, attempts (of its maximum), the worker running
it or that ran it, the last worker it was taken back from, the epoch and the
master that assigned it, when it was submitted, assigned, started, finished
or dead-lettered, its result (status, error, output) or its dead letter
(reason and detail), and its payload's size with a printable preview (invalid
UTF-8 replaced, cut at --preview bytes). Records another tool wrote are
reported under "problems". It only reads.

With -o json it prints one JSON object: the summary fields, the payload
{size, preview}, and the records as stored (spec, assignment, result,
dead_letter). Exits 1 when nothing of the task is left.`,
		Example: `  client inspect 0193f0c2a1b4d5e6f7a8
  client inspect 0193f0c2a1b4d5e6f7a8 --preview 4096 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			if preview < 0 {
				return cli.Usage(fmt.Errorf("--preview %d: want 0 or more bytes", preview))
			}
			return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
				in, err := c.Inspect(cmd.Context(), id, preview)
				switch {
				case errors.Is(err, paddock.ErrUnknownTask):
					return fmt.Errorf("no task %s: never submitted, or its result was collected, or it was purged or expired", id)
				case err != nil:
					return err
				}
				if g.out.JSON() {
					return printJSON(cmd.OutOrStdout(), in)
				}
				return printInspection(cmd.OutOrStdout(), in, time.Now())
			})
		},
	}
	cmd.Flags().IntVar(&preview, "preview", 256, "show at most this many bytes of the payload")
	return cmd
}

func printInspection(out io.Writer, in paddock.Inspection, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(w, "%s:\t%s\n", k, fmt.Sprintf(format, a...)) }
	when := func(k string, t time.Time) {
		if !t.IsZero() {
			line(k, "%s (%s ago)", t.UTC().Format(time.RFC3339Nano), age(now, t))
		}
	}
	line("id", "%s", in.ID)
	line("state", "%s", in.State)
	line("kind", "%s", dash(in.Kind))
	if in.MaxAttempts > 0 {
		line("attempts", "%d of %d", in.Attempts, in.MaxAttempts)
	} else {
		line("attempts", "%d", in.Attempts)
	}
	if in.Worker != "" {
		line("worker", "%s", in.Worker)
	}
	if in.LastWorker != "" {
		line("last worker", "%s (taken back from it)", in.LastWorker)
	}
	if in.Epoch != 0 {
		by := ""
		if in.Master != "" {
			by = ", master " + in.Master
		}
		line("epoch", "%d%s", in.Epoch, by)
	}
	when("submitted", in.SubmittedAt)
	when("assigned", in.AssignedAt)
	when("started", in.StartedAt)
	when("finished", in.FinishedAt)
	when("dead-lettered", in.DeadAt)
	if d := in.DeadLetter; d != nil {
		line("dead letter", "%s: %s", d.Reason, d.Detail)
		if in.Spec == nil {
			line("spec (as stored)", "%s", indentTab(d.Spec))
		}
	}
	if r := in.Result; r != nil {
		line("result", "%s", r.Status)
		if r.ExitCode != nil {
			line("exit", "%d", *r.ExitCode)
		}
		if r.Error != "" {
			line("error", "%s", indentTab(r.Error))
		}
		if r.Output != "" {
			line("output", "%s", indentTab(r.Output))
		}
		if r.Stderr != "" {
			line("stderr", "%s", indentTab(r.Stderr))
		}
	}
	switch p := in.Payload; {
	case p == nil:
		line("payload", "none (collected with the result, or never written)")
	case p.Preview == "":
		line("payload", "%d bytes", p.Size)
	default:
		line("payload", "%d bytes: %s", p.Size, indentTab(p.Preview))
	}
	for _, p := range in.Problems {
		line("problem", "%s", p)
	}
	return w.Flush()
}

// indentTab keeps a multi-line value under its column.
func indentTab(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}
