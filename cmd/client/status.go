package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/spf13/cobra"
)

func newStatusCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the leader, backups, workers and task counts",
		Long: `Show who leads (and the epoch, the fencing token it writes with), the backup
masters in line order, every registered worker with its load, and how many
tasks are pending, running, finished (results not yet collected) and
dead-lettered. It only reads.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withEnv(cmd, func(env *cli.Env) error {
				st, err := coord.ReadStatus(cmd.Context(), env.Client, env.Layout)
				if err != nil {
					return err
				}
				if g.out.JSON() {
					return printJSON(cmd.OutOrStdout(), st)
				}
				printStatus(cmd.OutOrStdout(), st)
				return nil
			})
		},
	}
	return cmd
}

func printStatus(out io.Writer, st coord.Status) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "root:\t%s\n", st.Root)
	switch {
	case st.Leader != nil && st.TakingOver:
		fmt.Fprintf(w, "leader:\t%s (%s, pid %d), taking over (epoch %d was %s's)\n", st.Leader.ID, st.Leader.Host, st.Leader.PID, st.Epoch.Epoch, st.Epoch.Leader)
	case st.Leader != nil:
		fmt.Fprintf(w, "leader:\t%s (%s, pid %d), epoch %d\n", st.Leader.ID, st.Leader.Host, st.Leader.PID, st.Epoch.Epoch)
	default:
		fmt.Fprintf(w, "leader:\tnone (no master running)\n")
	}
	var backups []string
	for _, b := range st.Backups {
		backups = append(backups, b.ID)
	}
	if len(backups) == 0 {
		backups = []string{"none"}
	}
	fmt.Fprintf(w, "backups:\t%s\n", strings.Join(backups, ", "))
	fmt.Fprintf(w, "tasks:\tpending %d, running %d, finished %d, dead-letter %d\n", st.Pending, st.Running, st.Finished, st.Dead)
	fmt.Fprintf(w, "workers:\t%d\n", len(st.Workers))
	for _, wk := range st.Workers {
		if !wk.Valid {
			fmt.Fprintf(w, "  %s\tunreadable registration\n", wk.Name)
			continue
		}
		state := ""
		if wk.Draining {
			state = "\tdraining"
		}
		fmt.Fprintf(w, "  %s\t%d/%d running\t%s\t%s pid %d%s\n", wk.Name, wk.Running, wk.Concurrency,
			strings.Join(wk.Kinds, ","), wk.Host, wk.PID, state)
	}
	w.Flush()
}
