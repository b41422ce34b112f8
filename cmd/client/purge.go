package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

// purgeShown bounds the dry run's table: the count says the rest, and -o
// json lists everything.
const purgeShown = 100

func newPurgeCommand(g *globals) *cobra.Command {
	var (
		finished, dead, yes bool
		older               ageFlag
	)
	cmd := &cobra.Command{
		Use:   "purge --finished|--dead --older-than D [--yes]",
		Short: "Remove old results or dead letters (a dry run without --yes)",
		Long: `Remove results (--finished) or dead letters (--dead), or both, whose znode was
created more than --older-than ago (by ZooKeeper's clock): what the master's
retention sweep would remove later (--retention, --dead-retention), now.

  --finished  results, with their payloads, as collecting them does; a dead
              result goes alone while its dead letter exists (the dead letter
              keeps the payload for a requeue)
  --dead      dead letters, with their payloads and their dead results

Without --yes nothing is removed: it prints what would go and how many (the
first 100 in the table; -o json lists them all, as one JSON document). With
--yes it removes them, in batched multis, and prints how many went. Pending
and running tasks are never touched.

--older-than takes a Go duration (90m, 36h) or days (7d, 1.5d).`,
		Example: `  client purge --dead --older-than 7d            # dry run: what would go
  client purge --dead --older-than 7d --yes
  client purge --finished --older-than 1h --yes -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !finished && !dead {
				return cli.Usage(fmt.Errorf("say what to purge: --finished, --dead, or both"))
			}
			if !cmd.Flags().Changed("older-than") {
				return cli.Usage(fmt.Errorf("--older-than is required: how old a result or dead letter must be to go (e.g. 7d)"))
			}
			return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
				cutoff := time.Now().Add(-older.d)
				olds, err := c.FindPurgeable(cmd.Context(), paddock.PurgeOptions{Finished: finished, Dead: dead, Before: cutoff})
				if err != nil {
					return err
				}
				rep := purgeReport{DryRun: !yes, OlderThan: older.String(), Cutoff: cutoff.UTC()}
				rep.count(olds)
				if !yes {
					rep.Tasks = olds
					return rep.print(cmd, g.out.JSON())
				}
				done, err := c.Purge(cmd.Context(), olds)
				rep.Removed = &done
				if perr := rep.print(cmd, g.out.JSON()); perr != nil {
					return errors.Join(err, perr)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&finished, "finished", false, "remove old results (with their payloads)")
	cmd.Flags().BoolVar(&dead, "dead", false, "remove old dead letters (with their payloads and dead results)")
	cmd.Flags().Var(&older, "older-than", "only what was created more than this long ago: 90m, 36h, 7d")
	cmd.Flags().BoolVar(&yes, "yes", false, "remove them; without it, only show what would go")
	cli.CommandLineOnly(cmd.Flags(), "yes")
	return cmd
}

// purgeReport is what purge prints: the counts, and the tasks (dry run) or
// what was removed.
type purgeReport struct {
	DryRun      bool                `json:"dry_run"`
	OlderThan   string              `json:"older_than"`
	Cutoff      time.Time           `json:"cutoff"`
	Results     int                 `json:"results"`      // results found old (not counting dead results that go with their dead letters)
	DeadLetters int                 `json:"dead_letters"` // dead letters found old
	Payloads    int                 `json:"payloads"`     // payloads that go with them
	Tasks       []paddock.Purgeable `json:"tasks,omitempty"`
	Removed     *paddock.Purged     `json:"removed,omitempty"`
}

func (r *purgeReport) count(olds []paddock.Purgeable) {
	for _, o := range olds {
		if o.State == paddock.StateDead {
			r.DeadLetters++
		} else {
			r.Results++
		}
		if o.Payload {
			r.Payloads++
		}
	}
}

func (r *purgeReport) print(cmd *cobra.Command, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, r)
	}
	what := fmt.Sprintf("%s and %s older than %s (with %s)", plural(r.Results, "result"), plural(r.DeadLetters, "dead letter"),
		r.OlderThan, plural(r.Payloads, "payload"))
	if r.DryRun {
		if err := printOld(out, r.Tasks, time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(out, "would remove %s; add --yes to remove them\n", what)
		return nil
	}
	fmt.Fprintf(out, "found %s; removed %d\n", what, r.Removed.Removed)
	if r.Removed.Left > 0 {
		fmt.Fprintf(out, "%d changed while being removed (collected, requeued) and were left; run again to look at them\n", r.Removed.Left)
	}
	return nil
}

func printOld(out io.Writer, olds []paddock.Purgeable, now time.Time) error {
	if len(olds) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tWHAT\tAGE\tALONG")
	for _, o := range olds[:min(len(olds), purgeShown)] {
		what, along := "result", []string{}
		if o.State == paddock.StateDead {
			what = "dead letter"
			if o.Result {
				along = append(along, "dead result")
			}
		}
		if o.Payload {
			along = append(along, "payload")
		}
		if o.DeadLetter {
			along = append(along, "(payload kept by its dead letter)")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.ID, what, age(now, o.Created), dash(strings.Join(along, ", ")))
	}
	if len(olds) > purgeShown {
		fmt.Fprintf(w, "... and %d more (-o json lists them all)\n", len(olds)-purgeShown)
	}
	return w.Flush()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// ageFlag is a duration flag that also takes days ("7d"), the unit
// retention is thought in.
type ageFlag struct {
	d    time.Duration
	text string
}

func (a *ageFlag) String() string { return a.text }

func (a *ageFlag) Set(v string) error {
	d, err := parseAge(v)
	if err != nil {
		return err
	}
	a.d, a.text = d, v
	return nil
}

func (a *ageFlag) Type() string { return "duration" }

func parseAge(v string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		if !(n >= 0 && n <= 100*365) { // NaN and Inf parse too
			err = errors.New("out of range")
		}
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 90m, 36h or 7d", v)
	}
	return d, nil
}
