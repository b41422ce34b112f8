package main

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

func newRequeueCommand(g *globals) *cobra.Command {
	var (
		dead   bool
		reason string
	)
	cmd := &cobra.Command{
		Use:   "requeue ID | requeue --dead [--reason R]",
		Short: "Put dead letters back to pending, attempts reset",
		Long: `Put a dead-lettered task back to pending, as it was submitted, with its
attempts reset to 0: the master assigns it again (it is old, so it goes
first) and it runs with its original kind, payload and limits. Its dead
letter and its dead result go in the same ZooKeeper multi that recreates the
task, so a requeue is all or nothing.

'requeue ID' requeues one task; a task that is not dead is an error that
names its state (exit 1). 'requeue --dead' requeues every dead letter, or
those with --reason (max-attempts, malformed), in batches, and prints how
many went.

A dead letter cannot be requeued, and is left as it is (exit 1), when its
task's spec is malformed (it could never run: submit a new task), or when
its payload is gone because a client older than this version collected its
dead result.`,
		Example: `  client requeue 0193f0c2a1b4d5e6f7a8
  client requeue --dead --reason max-attempts
  client ls --state dead && client requeue --dead`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case reason != "" && !dead:
				return cli.Usage(fmt.Errorf("--reason selects dead letters for --dead"))
			case dead && len(args) == 1:
				return cli.Usage(fmt.Errorf("give a task ID or --dead, not both"))
			case !dead && len(args) == 0:
				return cli.Usage(fmt.Errorf("give a task ID, or --dead to requeue every dead letter"))
			}
			if !dead {
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
					if err := c.Requeue(cmd.Context(), id); err != nil {
						return err
					}
					if g.out.JSON() {
						return printJSON(cmd.OutOrStdout(), paddock.Requeued{Requeued: []paddock.ID{id}, Matched: 1})
					}
					fmt.Fprintf(cmd.OutOrStdout(), "requeued %s: pending again, attempts reset\n", id)
					return nil
				})
			}
			return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
				var done atomic.Int64
				bar := cli.StartProgress(cmd.ErrOrStderr(), true, func() string {
					return fmt.Sprintf("requeued %d", done.Load())
				})
				got, err := c.RequeueDead(cmd.Context(), reason, func(n int) { done.Store(int64(n)) })
				bar.Stop()
				if err != nil {
					return fmt.Errorf("%w (requeued %d before that)", err, len(got.Requeued))
				}
				return printRequeued(cmd, g, got, reason)
			})
		},
	}
	cmd.Flags().BoolVar(&dead, "dead", false, "requeue every dead letter (or those with --reason)")
	cmd.Flags().StringVar(&reason, "reason", "", "with --dead: only dead letters with this reason (max-attempts, malformed)")
	return cmd
}

func printRequeued(cmd *cobra.Command, g *globals, got paddock.Requeued, reason string) error {
	if g.out.JSON() {
		if err := printJSON(cmd.OutOrStdout(), got); err != nil {
			return err
		}
	} else {
		which := "dead letters"
		if reason != "" {
			which += " with reason " + reason
		}
		fmt.Fprintf(cmd.OutOrStdout(), "requeued %d of %d %s\n", len(got.Requeued), got.Matched, which)
		ids := make([]string, 0, len(got.Failed))
		for id := range got.Failed {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			fmt.Fprintf(cmd.ErrOrStderr(), "left %s: %s\n", id, got.Failed[id])
		}
	}
	if len(got.Failed) > 0 {
		err := fmt.Errorf("%d dead letters could not be requeued", len(got.Failed))
		for _, why := range got.Failed {
			// Failed keeps messages only: NoAuth is told by its text, so
			// that the exit carries the --zk-auth hint.
			if strings.Contains(why, paddock.ErrNoAuth.Error()) {
				err = fmt.Errorf("%w: %w", err, paddock.ErrNoAuth)
				break
			}
		}
		return cli.Exit(cli.ExitFailure, err)
	}
	return nil
}
