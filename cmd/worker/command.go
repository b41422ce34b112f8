package main

import (
	"fmt"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/worker"
	"github.com/spf13/cobra"
)

func newCommand() *cobra.Command {
	var (
		opts      cli.Options
		cfg       worker.Config
		allowExec bool
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a Paddock worker",
		Long: `Run a Paddock worker.

The worker registers an ephemeral znode under <root>/workers (its name, host,
pid, concurrency and the kinds it runs) and watches <root>/assign/<id> for the
tasks the master gives it. It runs up to --concurrency tasks at once and
completes each with one multi that is applied only if the assignment is still
its own, so a task reassigned meanwhile gets exactly one result.

Kinds: sleep (payload: seconds), echo, fail, and exec (payload: a JSON argv
array) when started with --allow-exec.

If its session expires the worker registers again and carries on with what is
still assigned to it. On SIGINT or SIGTERM it stops taking work, lets running
tasks finish for up to --drain-timeout, then exits; the master reassigns what
was left. A second signal exits at once.`,
		Example: `  worker --zk 127.0.0.1:2181 --id w1 --concurrency 8
  worker --allow-exec --drain-timeout 0`,
		Args:    cobra.NoArgs,
		Version: cli.Version,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckName("id", cfg.ID); err != nil {
				return err
			}
			if cfg.Concurrency < 1 || cfg.Concurrency > 10000 {
				return cli.Usage(fmt.Errorf("--concurrency %d: want 1 to 10000", cfg.Concurrency))
			}
			if cfg.DrainTimeout < 0 {
				return cli.Usage(fmt.Errorf("--drain-timeout must not be negative"))
			}
			env, err := opts.Open(cmd.Context(), "worker")
			if err != nil {
				return err
			}
			defer env.Close()
			if err := coord.EnsureLayout(cmd.Context(), env.Client, env.Layout); err != nil {
				return fmt.Errorf("prepare the tree under %s: %w", env.Layout.Root(), err)
			}
			cfg.Kinds = task.Builtin(allowExec)
			cfg.Version = cli.Version
			cfg.Logger = env.Log.With(cli.ID(cfg.ID))
			return worker.Run(cmd.Context(), env.Client, env.Layout, cfg)
		},
	}
	opts.AddFlags(cmd.Flags(), "info")
	cmd.Flags().StringVar(&cfg.ID, "id", cli.DefaultName(), "this worker's name (its znode under <root>/workers)")
	cmd.Flags().IntVar(&cfg.Concurrency, "concurrency", worker.DefaultConcurrency, "tasks run at once")
	cmd.Flags().BoolVar(&allowExec, "allow-exec", false, "run exec tasks (arbitrary commands from whoever can submit)")
	cmd.Flags().DurationVar(&cfg.DrainTimeout, "drain-timeout", worker.DefaultDrainTimeout, "on shutdown, how long running tasks may finish before they are abandoned to another worker")
	return cmd
}
