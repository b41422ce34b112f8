package main

import (
	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

// globals are the flags every client subcommand shares.
type globals struct {
	opts cli.Options
	out  cli.Output
}

// withEnv is the one place a client command connects: it opens the
// connection, runs f, and closes it (the session ends at once).
func (g *globals) withEnv(cmd *cobra.Command, f func(env *cli.Env) error) error {
	env, err := g.opts.Open(cmd.Context(), "client")
	if err != nil {
		return err
	}
	defer env.Close()
	return f(env)
}

// withClient is withEnv with the Go client package (paddock) over the
// same connection: every task command goes through it, so that the CLI
// and the SDK cannot drift. maxPayload bounds what Submit accepts (0: the
// default).
func (g *globals) withClient(cmd *cobra.Command, maxPayload int, f func(env *cli.Env, c *paddock.Client) error) error {
	return g.withEnv(cmd, func(env *cli.Env) error {
		c, err := paddock.New(env.Client, paddock.Config{Root: env.Layout.Root(), MaxPayload: maxPayload})
		if err != nil {
			return err
		}
		defer c.Close()
		return f(env, c)
	})
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
not succeed, 130 interrupted.

Every flag can also be set from the environment: --zk from PADDOCK_ZK,
--zk-auth from PADDOCK_ZK_AUTH, and so on (flags win).`,
		Args: cobra.NoArgs,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return g.out.Validate()
		},
	}
	g.opts.AddFlags(root.PersistentFlags(), "warn")
	g.out.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newInitCommand(g),
		newSubmitCommand(g),
		newResultCommand(g),
		newCancelCommand(g),
		newStatusCommand(g),
		newLsCommand(g),
		newInspectCommand(g),
		newRequeueCommand(g),
		newPurgeCommand(g),
		newRunCommand(g),
		newConfigCommand(g),
		newRoleCommand(g),
		newProbeCommand(g),
		newDashboardCommand(g),
	)
	return root
}
