package main

import (
	"fmt"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/dashboard"
	"github.com/paddock-zk/paddock/internal/master"
	"github.com/spf13/cobra"
)

func newCommand() *cobra.Command {
	var (
		opts cli.Options
		cfg  master.Config
	)
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Run a Paddock master (elected leader or hot backup)",
		Long: `Run a Paddock master.

Masters stand in a herd-free election under <root>/master. The leader assigns
submitted tasks to registered workers, returns the tasks of lost workers to
pending, dead-letters tasks that cannot run, removes results nobody
collected after --retention and dead letters nobody requeued or purged after
--dead-retention. The others wait as hot backups; each watches only
the candidate ahead of it.

Every write the leader makes is fenced: it is applied only if the leader's
candidacy still exists and the epoch has not moved, so a master that was paused
past its session timeout wakes up unable to write, steps down and stands again.

SIGINT or SIGTERM resigns at once (the next backup takes over immediately);
kill -9 leaves the takeover to the session timeout.

With --http-addr it serves Prometheus metrics (/metrics), health probes
(/livez, /readyz: ready while connected and standing in the election, as
leader or backup) and Go's profiles (/debug/pprof/); see docs/OPERATING.md.`,
		Example: `  master --zk 127.0.0.1:2181 --id m1 --http-addr 127.0.0.1:9400
  PADDOCK_ZK=zk1:2181,zk2:2181,zk3:2181 master --log-format json`,
		Args:    cobra.NoArgs,
		Version: cli.BuildVersion(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckName("id", cfg.ID); err != nil {
				return err
			}
			if cfg.Retention <= 0 || cfg.DeadRetention <= 0 || cfg.Batch <= 0 {
				return cli.Usage(fmt.Errorf("--retention, --dead-retention and --batch must be positive"))
			}
			env, err := opts.Open(cmd.Context(), "master")
			if err != nil {
				return err
			}
			defer env.Close()
			if err := coord.EnsureLayout(cmd.Context(), env.Client, env.Layout); err != nil {
				return fmt.Errorf("prepare the tree under %s: %w", env.Layout.Root(), err)
			}
			cfg.Logger = env.Log.With(cli.ID(cfg.ID))
			cfg.Loop = env.MainLoop("master")
			cfg.Metrics = master.NewMetrics()
			env.HTTP.MustRegister(cfg.Metrics)
			env.HTTP.Ready("election", cfg.Metrics.Ready)
			cfg.Metrics.OnReady(env.ServiceManager(cmd.Context()))
			mountStatusPage(env, cfg.Metrics)
			env.HTTP.Start()
			return master.Run(cmd.Context(), env.Client, env.Layout, cfg)
		},
	}
	opts.AddFlags(cmd.Flags(), "info")
	opts.AddHTTPFlag(cmd.Flags())
	cmd.Flags().StringVar(&cfg.ID, "id", cli.DefaultName(), "this master's name, shown by 'client status'")
	cmd.Flags().DurationVar(&cfg.Retention, "retention", master.DefaultRetention, "remove results nobody collected after this long")
	cmd.Flags().DurationVar(&cfg.DeadRetention, "dead-retention", master.DefaultDeadRetention, "remove dead letters (and their payloads) nobody requeued or purged after this long")
	cmd.Flags().IntVar(&cfg.Batch, "batch", master.DefaultBatch, "most tasks assigned in one ZooKeeper multi")
	return cmd
}

// mountStatusPage serves the live status page at "/" on the master's
// listener. Every master serves it; the leader adds what only it knows (the
// age of the oldest pending task).
func mountStatusPage(env *cli.Env, m *master.Metrics) {
	if env.HTTP == nil {
		return
	}
	page := dashboard.New(env.Client, env.Layout, dashboard.Options{
		Log: env.Log.Named("status-page"),
		Extra: func(st *coord.Status) {
			if age, ok := m.OldestPending(); ok {
				secs := age.Seconds()
				st.OldestPendingSeconds = &secs
			}
			if scheduled, byKind, ok := m.Waiting(); ok {
				st.Scheduled, st.WaitingForKind = &scheduled, byKind
			}
		},
	})
	env.HTTP.Handle("/", page)
	env.HTTP.OnShutdown(page.Close)
}
