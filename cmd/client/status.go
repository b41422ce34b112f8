package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/dashboard"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/spf13/cobra"
)

func newStatusCommand(g *globals) *cobra.Command {
	var (
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the leader, backups, workers, task counts, dead letters and roles",
		Long: `Show who leads (and the epoch, the fencing token it writes with), the backup
masters in line order, every registered worker with its load, how many tasks
are pending, running, finished (results not yet collected) and dead-lettered,
the newest dead letters, and the roles with their holders. It only reads.

With --watch it reads again every --interval until Ctrl-C (exit 0), and adds
the throughput over the last minute once it has two readings. On a terminal it
redraws in place; otherwise it prints one reading per interval (with -o json,
one JSON object per line). If ZooKeeper cannot be read meanwhile it says so
and keeps trying.`,
		Example: `  client status
  client status --watch
  client status --watch -o json | jq -c '{pending, running, throughput}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return cli.Usage(errors.New("--interval must be positive"))
			}
			return g.withClient(cmd, 0, func(env *cli.Env, c *paddock.Client) error {
				if watch {
					return watchStatus(cmd.Context(), cmd, dashboard.NewReader(env.Client, env.Layout, nil), interval, g.out.JSON())
				}
				st, err := c.Status(cmd.Context())
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
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "read again every --interval until Ctrl-C")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often --watch reads")
	return cmd
}

// watchStatus prints a reading every interval until ctx ends. A failed
// reading is reported and the next one tried: a watch outlives a
// ZooKeeper restart. It reads through the status page's reader, which
// keeps the readings of the last minute for the throughput; package
// paddock reads one status at a time.
func watchStatus(ctx context.Context, cmd *cobra.Command, r *dashboard.Reader, interval time.Duration, asJSON bool) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	tty := !asJSON && cli.IsTerminal(out)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last *paddock.ClusterStatus
	for {
		st, err := readStatus(ctx, r)
		switch {
		case ctx.Err() != nil:
			return nil
		case tty:
			if err == nil {
				last = &st
			}
			redraw(out, interval, last, err)
		case err != nil:
			fmt.Fprintf(errOut, "%s %v (retrying every %v)\n", time.Now().Format(time.TimeOnly), err, interval)
		case asJSON:
			if err := printJSON(out, st); err != nil {
				return err
			}
		default:
			printStatus(out, st)
			fmt.Fprintln(out)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// redraw paints one frame over the previous one: cursor home, each line
// cleared to its end, then everything below cleared, in one write so the
// terminal never shows half a frame. With an error it shows the last good
// reading under the error.
func redraw(w io.Writer, interval time.Duration, st *paddock.ClusterStatus, err error) {
	var frame bytes.Buffer
	fmt.Fprintf(&frame, "every %v, %s; Ctrl-C to stop\n", interval, time.Now().Format(time.TimeOnly))
	if err != nil {
		fmt.Fprintf(&frame, "%v (retrying)\n", err)
	}
	fmt.Fprintln(&frame)
	if st != nil {
		printStatus(&frame, *st)
	}
	var b strings.Builder
	b.WriteString("\033[H")
	for _, line := range strings.SplitAfter(frame.String(), "\n") {
		b.WriteString(strings.TrimSuffix(line, "\n"))
		if strings.HasSuffix(line, "\n") {
			b.WriteString("\033[K\n")
		}
	}
	b.WriteString("\033[J")
	_, _ = io.WriteString(w, b.String())
}

// readStatus is one reading of r as package paddock's type, which the
// printers take. ClusterStatus is coord.Status's JSON twin, field for
// field (package paddock's tests hold the two encodings equal), so a
// round trip through JSON converts one into the other.
func readStatus(ctx context.Context, r *dashboard.Reader) (paddock.ClusterStatus, error) {
	var st paddock.ClusterStatus
	read, err := r.Read(ctx)
	if err != nil {
		return st, err
	}
	b, err := json.Marshal(read)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	return st, err
}

func printStatus(out io.Writer, st paddock.ClusterStatus) {
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
	fmt.Fprintf(w, "backups:\t%s\n", memberIDs(st.Backups))
	if line := partitionLeaders(st.Partitions); line != "" {
		fmt.Fprintf(w, "partitions:\t%s\n", line)
	}
	fmt.Fprintf(w, "tasks:\tpending %d, running %d, finished %d, dead-letter %d\n", st.Pending, st.Running, st.Finished, st.Dead)
	if st.Scheduled != nil {
		fmt.Fprintf(w, "scheduled:\t%d (due later; counted as pending)\n", *st.Scheduled)
	}
	for _, k := range slices.Sorted(maps.Keys(st.WaitingForKind)) {
		fmt.Fprintf(w, "waiting for kind:\t%s: %d task(s); no live worker runs it\n", k, st.WaitingForKind[k])
	}
	if st.OldestPendingSeconds != nil {
		fmt.Fprintf(w, "oldest pending:\t%v\n", time.Duration(*st.OldestPendingSeconds*float64(time.Second)).Round(time.Second))
	}
	if tp := st.Throughput; tp != nil {
		fmt.Fprintf(w, "throughput:\t%.1f tasks/s ended, %.1f/s submitted (over %v)\n", tp.EndedPerSecond, tp.SubmittedPerSecond,
			time.Duration(tp.WindowSeconds*float64(time.Second)).Round(time.Second))
	}
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
	if len(st.RecentDead) > 0 {
		fmt.Fprintf(w, "dead letters:\tnewest %d of %d\n", len(st.RecentDead), st.Dead)
		for _, d := range st.RecentDead {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", d.ID, d.Reason, ago(st.At, d.At), oneLine(d.Detail, 80))
		}
	}
	if len(st.Roles) > 0 || len(st.Applicants) > 0 {
		fmt.Fprintf(w, "roles:\t%d\n", len(st.Roles))
		for _, r := range st.Roles {
			if r.Holder == "" {
				fmt.Fprintf(w, "  %s\topen\n", r.Name)
				continue
			}
			fmt.Fprintf(w, "  %s\theld by %s\tsince %s\n", r.Name, r.Holder, ago(st.At, r.Since))
		}
		fmt.Fprintf(w, "applicants:\t%s\n", memberIDs(st.Applicants))
	}
	w.Flush()
}

func memberIDs(ms []recipe.Member) string {
	if len(ms) == 0 {
		return "none"
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return strings.Join(ids, ", ")
}

// ago is how long before now t was, to the second ("?" for no time).
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// oneLine keeps a detail to one line of at most n runes, so the table
// stays a table.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// partitionLeaders says who leads which partitions, when more than one
// master does ("m1 0,2,4,… (epoch 5); m2 1,3,5,… (epoch 6)"); "" with one
// leader, which the leader line already names.
func partitionLeaders(parts []paddock.PartitionStatus) string {
	byLeader := map[string][]string{}
	epoch := map[string]int64{}
	for _, p := range parts {
		byLeader[p.Leader] = append(byLeader[p.Leader], p.Partition)
		epoch[p.Leader] = max(epoch[p.Leader], p.Epoch)
	}
	if len(byLeader) < 2 {
		return ""
	}
	var out []string
	for _, l := range slices.Sorted(maps.Keys(byLeader)) {
		out = append(out, fmt.Sprintf("%s %s (epoch %d)", l, strings.Join(byLeader[l], ","), epoch[l]))
	}
	return strings.Join(out, "; ")
}
