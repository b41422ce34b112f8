package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

// listConns is how many connections a long listing reads over: twice as
// fast as one for 100,000 records on a 2-core host (BENCHMARKS.md).
const listConns = 4

func newLsCommand(g *globals) *cobra.Command {
	var (
		state, kind, reason string
		limit, scan         int
	)
	cmd := &cobra.Command{
		Use:   "ls [--state pending|running|finished|dead]",
		Short: "List tasks in one state, oldest first",
		Long: `List the tasks in one state, oldest first (task ids begin with their submit
time):

  pending   submitted, waiting for a worker
  running   assigned to a worker (also a lost worker's, until the master takes
            them back)
  finished  with a result nobody has collected yet (dead-lettered ones
            included, with status dead)
  dead      dead letters: given up after --max-attempts, or malformed; see
            'client inspect' and 'client requeue'

The 256 shards are listed in parallel and only the records shown are read,
so '--limit 20' stays fast however long the backlog; more than 5,000 records
are read over 4 connections. AGE is the time since
the task entered its state (submitted, assigned, finished, dead-lettered).
A record another tool wrote is listed with a NOTE saying what is wrong with
it. With --kind, at most --scan records of other kinds are read before the
listing stops and says so.

The table goes to stdout and a summary line to stderr. With -o json each
task is one JSON object on its own line (JSON Lines: nothing when none
match), with the fields id, state, kind, since, attempts, worker, epoch,
status, reason and malformed.`,
		Example: `  client ls                                  # the 100 oldest pending tasks
  client ls --state dead
  client ls --state running --kind exec --limit 10
  client ls --state dead --reason max-attempts -o json | jq -r .id
  client ls --state finished --limit 100000 -o json > results.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := paddock.ParseState(state)
			switch {
			case err != nil:
				return cli.Usage(fmt.Errorf("--state: %w", err))
			case limit < 1:
				return cli.Usage(fmt.Errorf("--limit %d: want at least 1", limit))
			case scan < 1:
				return cli.Usage(fmt.Errorf("--scan %d: want at least 1", scan))
			case kind != "" && !paddock.ValidKind(kind):
				return cli.Usage(fmt.Errorf("--kind %q is not a kind name", kind))
			case reason != "" && st != paddock.StateDead:
				return cli.Usage(fmt.Errorf("--reason selects dead letters: use it with --state dead"))
			}
			return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
				start := time.Now()
				ls, err := c.List(cmd.Context(), paddock.ListOptions{
					State: st, Kind: kind, Reason: reason, Limit: limit, MaxScan: scan, Conns: listConns,
				})
				if err != nil {
					return err
				}
				took := time.Since(start)
				if g.out.JSON() {
					for _, r := range ls.Tasks {
						if err := printJSON(cmd.OutOrStdout(), r); err != nil {
							return err
						}
					}
				} else if err := printListing(cmd.OutOrStdout(), ls, time.Now()); err != nil {
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), listingSummary(ls, limit, took))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", string(paddock.StatePending), "pending, running, finished or dead")
	cmd.Flags().StringVar(&kind, "kind", "", "only tasks of this kind")
	cmd.Flags().StringVar(&reason, "reason", "", "with --state dead: only dead letters with this reason (max-attempts, malformed)")
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most this many tasks, the oldest")
	cmd.Flags().IntVar(&scan, "scan", paddock.DefaultMaxScan, "with --kind or --reason: read at most this many records that do not match")
	return cmd
}

// printListing writes the table of a listing: the columns that matter for
// its state, and a NOTE column when a record is malformed.
func printListing(out io.Writer, ls paddock.Listing, now time.Time) error {
	header, row := listColumns(ls.State)
	note := false
	for _, r := range ls.Tasks {
		note = note || r.Malformed != ""
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprint(w, "ID\tKIND\tAGE\t"+header)
	if note {
		fmt.Fprint(w, "\tNOTE")
	}
	fmt.Fprintln(w)
	for _, r := range ls.Tasks {
		kind := r.Kind
		if kind == "" {
			kind = "?"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s", r.ID, kind, age(now, r.Since), row(r))
		if note && r.Malformed != "" {
			fmt.Fprint(w, "\tmalformed: "+r.Malformed)
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}

func listColumns(st paddock.State) (string, func(paddock.ListedTask) string) {
	switch st {
	case paddock.StateRunning:
		return "WORKER\tATTEMPT\tEPOCH", func(r paddock.ListedTask) string {
			return fmt.Sprintf("%s\t%d\t%s", dash(r.Worker), r.Attempts, epoch(r.Epoch))
		}
	case paddock.StateFinished:
		return "STATUS\tWORKER\tATTEMPTS", func(r paddock.ListedTask) string {
			return fmt.Sprintf("%s\t%s\t%d", dash(string(r.Status)), dash(r.Worker), r.Attempts)
		}
	case paddock.StateDead:
		return "REASON\tATTEMPTS\tLAST-WORKER", func(r paddock.ListedTask) string {
			return fmt.Sprintf("%s\t%d\t%s", dash(r.Reason), r.Attempts, dash(r.Worker))
		}
	}
	return "ATTEMPTS\tLAST-WORKER", func(r paddock.ListedTask) string {
		return fmt.Sprintf("%d\t%s", r.Attempts, dash(r.Worker))
	}
}

func listingSummary(ls paddock.Listing, limit int, took time.Duration) string {
	s := fmt.Sprintf("%d of %d %s tasks", len(ls.Tasks), ls.Total, ls.State)
	switch {
	case ls.ScanBound:
		s += fmt.Sprintf("; stopped after %d records that did not match (raise --scan to look further)", ls.Read-len(ls.Tasks))
	case ls.More && len(ls.Tasks) == limit:
		s += fmt.Sprintf(", the oldest (--limit %d)", limit)
	}
	return s + fmt.Sprintf("; listed in %s", roundDuration(took))
}

// age is how long ago t was, in at most two units: "45s", "3m12s",
// "5h4m", "2d7h". "-" for an unknown time.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// epoch shows a master's epoch; 0 is "not known" (a malformed record).
func epoch(e int64) string {
	if e == 0 {
		return "-"
	}
	return strconv.FormatInt(e, 10)
}
