package main

import (
	"errors"
	"fmt"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

func newCancelCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an unfinished task (a running one is killed)",
		Long: `Cancel task ID. A pending task will not run; a running one is killed by its
worker. Its result, with status cancelled, can then be read like any other.
Cancelling a finished task is an error that names its status.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
				r, err := c.Cancel(cmd.Context(), id)
				switch {
				case errors.Is(err, paddock.ErrFinished):
					return fmt.Errorf("task %s already finished: %s", id, r.Status)
				case errors.Is(err, paddock.ErrUnknownTask):
					return fmt.Errorf("no task %s: never submitted, or its result was collected or expired", id)
				case err != nil:
					return err
				}
				if g.out.JSON() {
					return printJSON(cmd.OutOrStdout(), r)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cancelled %s\n", id)
				return nil
			})
		},
	}
	return cmd
}
