package main

import (
	"errors"
	"fmt"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

func parseID(s string) (paddock.ID, error) {
	id, err := paddock.ParseID(s)
	if err != nil {
		return "", cli.Usage(err)
	}
	return id, nil
}

func newResultCommand(g *globals) *cobra.Command {
	var wait, collect bool
	cmd := &cobra.Command{
		Use:   "result ID",
		Short: "Print a task's result (works from any client)",
		Long: `Print the result of task ID. Any client can read it, not only the one that
submitted it: a result stays in ZooKeeper until a client collects it or the
master's retention removes it. Exits 0 when the task succeeded, 3 when it
failed, was cancelled or was dead-lettered, 1 when it has not finished (without
--wait) or is unknown.`,
		Example: `  client result 0193f0c2a1b4d5e6f7a8 --wait
  client result 0193f0c2a1b4d5e6f7a8 -o json --collect`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
				var r paddock.Result
				if wait {
					r, err = c.Wait(cmd.Context(), id)
					if err != nil {
						return waitError(id, err)
					}
				} else {
					r, err = c.Result(cmd.Context(), id)
					switch {
					case errors.Is(err, paddock.ErrNotFinished):
						return fmt.Errorf("task %s has not finished yet (add --wait to wait for it)", id)
					case errors.Is(err, paddock.ErrUnknownTask):
						return fmt.Errorf("no task %s: never submitted, or its result was collected or expired", id)
					case errors.Is(err, paddock.ErrMalformed):
						return fmt.Errorf("the result of %s is unreadable (written by another tool?): %w", id, err)
					case err != nil:
						return err
					}
				}
				if collect {
					if err := c.Collect(cmd.Context(), r); err != nil {
						return fmt.Errorf("read the result but could not remove it: %w", err)
					}
				}
				return printResult(cmd.OutOrStdout(), r, g.out.JSON())
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the task has a result")
	cmd.Flags().BoolVar(&collect, "collect", false, "remove the result (and payload) from ZooKeeper after printing it")
	return cmd
}
