package main

import (
	"fmt"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

func newInitCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create Paddock's znodes under --root (idempotent)",
		Long: `Create every persistent znode of Paddock's tree under --root: master, epoch,
workers, assign, and the 256 shards of tasks, data, results and dead. Running
it again changes nothing. Masters and workers also do this when they start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withClient(cmd, 0, func(_ *cli.Env, c *paddock.Client) error {
				if err := c.Init(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "initialized %s\n", c.Root())
				return nil
			})
		},
	}
}
