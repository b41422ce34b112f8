package main

import (
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

// globals are the flags every client subcommand shares.
type globals struct {
	opts cli.Options
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "client",
		Short: "Submit tasks to Paddock and collect their results",
		Long: `Submit tasks to Paddock, collect their results, and inspect a deployment.

A task is a kind (sleep, echo, fail, exec) and a payload. 'submit' writes it
to ZooKeeper and prints its id; the elected master assigns it to a worker; the
worker writes the result; 'result' (from any client) reads it. Exit codes:
0 success, 1 error (e.g. ZooKeeper unreachable), 2 bad usage, 3 a task did
not succeed.`,
		Version: cli.Version,
		Args:    cobra.NoArgs,
	}
	g.opts.AddFlags(root.PersistentFlags(), "warn")
	root.AddCommand(
		newInitCommand(g),
		newSubmitCommand(g),
		newResultCommand(g),
		newCancelCommand(g),
		newStatusCommand(g),
		newRunCommand(g),
		newConfigCommand(g),
		newRoleCommand(g),
	)
	return root
}
