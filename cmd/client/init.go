package main

import (
	"fmt"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/coord"
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
			return g.withEnv(cmd, func(env *cli.Env) error {
				if err := coord.EnsureLayout(cmd.Context(), env.Client, env.Layout); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "initialized %s\n", env.Layout.Root())
				return nil
			})
		},
	}
}
