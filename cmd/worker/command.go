package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/worker"
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
array) when started with --allow-exec. This command is the worker package
(github.com/paddock-zk/paddock/worker) with those kinds registered; a program
of your own can run its own kinds the same way.

With --roles the worker also applies for roles (long-lived jobs added with
'client role add', kept under <root>/roles): it waits in the applicants queue
and, at its front, claims an open role with an ephemeral <root>/roles/holders/
<name>. While it holds the role it runs the role's command (its data, a JSON
argv array, run like an exec task), restarting it when it exits (after 1 s,
doubling up to 30 s; back to 1 s after a run of a minute or more). It stops
the command (kills its process group) when it loses the role or exits; a
role command does not outlive its worker, even a worker killed with kill -9.
If the worker dies, the next applicant takes the role within the session
timeout.

If its session expires the worker registers again and carries on with what is
still assigned to it. On SIGINT or SIGTERM it stops taking work, lets running
tasks finish for up to --drain-timeout, then exits; the master reassigns what
was left. A second signal exits at once.

With --http-addr it serves Prometheus metrics (/metrics), health probes
(/livez, /readyz: ready while connected, registered and not draining) and
Go's profiles (/debug/pprof/); see docs/OPERATING.md.`,
		Example: `  worker --zk 127.0.0.1:2181 --id w1 --concurrency 8 --http-addr 127.0.0.1:9401
  worker --allow-exec --drain-timeout 0`,
		Args:    cobra.NoArgs,
		Version: cli.BuildVersion(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFlags(cfg, allowExec); err != nil {
				return err
			}
			env, err := opts.Open(cmd.Context(), "worker")
			if err != nil {
				return err
			}
			defer env.Close()
			w, err := newWorker(cmd.Context(), env, cfg, allowExec)
			if err != nil {
				return err
			}
			env.HTTP.Start()
			return w.Run(cmd.Context())
		},
	}
	opts.AddFlags(cmd.Flags(), "info")
	opts.AddHTTPFlag(cmd.Flags())
	cmd.Flags().StringVar(&cfg.ID, "id", cli.DefaultName(), "this worker's name (its znode under <root>/workers)")
	cmd.Flags().IntVar(&cfg.Concurrency, "concurrency", worker.DefaultConcurrency, "tasks run at once")
	cmd.Flags().BoolVar(&allowExec, "allow-exec", false, "run exec tasks (arbitrary commands from whoever can submit)")
	cmd.Flags().DurationVar(&cfg.DrainTimeout, "drain-timeout", worker.DefaultDrainTimeout, "on shutdown, how long running tasks may finish before they are abandoned to another worker")
	cmd.Flags().BoolVar(&cfg.Roles, "roles", false, "also hold roles (client role add): run a role's command while holding it; needs --allow-exec")
	cmd.AddCommand(newGuardCommand())
	// The hidden guard is the only subcommand: no help or completion
	// commands to advertise.
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetHelpCommand(&cobra.Command{Hidden: true})
	return cmd
}

// checkFlags refuses bad flags before anything connects (exit 2).
func checkFlags(cfg worker.Config, allowExec bool) error {
	if err := cli.CheckName("id", cfg.ID); err != nil {
		return err
	}
	if cfg.Concurrency < 1 || cfg.Concurrency > worker.MaxConcurrency {
		return cli.Usage(fmt.Errorf("--concurrency %d: want 1 to %d", cfg.Concurrency, worker.MaxConcurrency))
	}
	if cfg.DrainTimeout < 0 {
		return cli.Usage(fmt.Errorf("--drain-timeout must not be negative"))
	}
	if cfg.Roles && !allowExec {
		return cli.Usage(errors.New("--roles needs --allow-exec: a role's data is a command the worker runs while it holds the role"))
	}
	return nil
}

// newWorker is the worker of the flags (cfg) on env's connection, with the
// built-in kinds, its metrics and probes on env's listener.
func newWorker(ctx context.Context, env *cli.Env, cfg worker.Config, allowExec bool) (*worker.Worker, error) {
	cfg.Client, cfg.Root = env.Client, env.Layout.Root()
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = worker.NoDrain // --drain-timeout 0: none, not the default
	}
	cfg.Version = cli.BuildVersion()
	cfg.Logger = env.Log.With(cli.ID(cfg.ID))
	cfg.Loop = env.MainLoop("worker")
	cfg.Metrics = worker.NewMetrics()
	env.HTTP.MustRegister(cfg.Metrics)
	env.HTTP.Ready("registration", cfg.Metrics.Ready)
	cfg.Metrics.OnReady(env.ServiceManager(ctx))
	w, err := worker.New(cfg)
	if err != nil {
		return nil, err
	}
	w.HandleBuiltins()
	if allowExec {
		// Commands (tasks and roles) must not outlive the worker.
		w.Handle("exec", worker.Exec(guarded))
	}
	return w, nil
}

// guard is the hidden subcommand commands (exec tasks, role commands) run
// under.
const guard = "guard"

// guarded puts the guard in front of a command's argv: the worker binary
// itself, told the worker's pid.
func guarded(argv []string) []string {
	return append([]string{selfExe(), guard, strconv.Itoa(os.Getpid()), "--"}, argv...)
}

// newGuardCommand is the guard. The exec kind starts it as the leader of a
// new process group (so that cancelling a task or losing a role kills the
// group); it runs the command as its child, in that group, and kills the
// whole group when the worker dies, which the worker cannot do after
// kill -9: without the guard the command would run on, an orphan, while
// another worker runs the task (or holds the role) again.
func newGuardCommand() *cobra.Command {
	return &cobra.Command{
		Use:                guard + " WORKER-PID -- COMMAND [ARG...]",
		Short:              "Run a command, killing its process group when the worker dies (internal)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 || args[1] != "--" {
				return cli.Usage(errors.New(guard + ": want WORKER-PID -- COMMAND [ARG...]"))
			}
			parent, err := strconv.Atoi(args[0])
			if err != nil || parent <= 1 {
				return cli.Usage(fmt.Errorf("%s: bad worker pid %q", guard, args[0]))
			}
			return runGuarded(cmd.Context(), parent, args[2:])
		},
	}
}

func runGuarded(ctx context.Context, parent int, argv []string) error {
	// On Linux the kernel signals the guard (SIGTERM, which ends ctx) when
	// the worker dies; elsewhere parentGone closes when it notices.
	parentGone := watchParent(parent)
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := c.Start(); err != nil {
		return cli.Exit(127, err)
	}
	waited := make(chan struct{})
	go func() {
		_ = c.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		code := c.ProcessState.ExitCode()
		if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		if code == 0 {
			return nil
		}
		return cli.Exit(code, nil)
	case <-ctx.Done():
	case <-parentGone:
	}
	// The worker is gone or wants the command stopped: everything in the
	// group goes, the guard included. A guard that does not lead its group
	// (started by hand) kills only its child.
	if syscall.Getpgrp() == os.Getpid() {
		_ = syscall.Kill(0, syscall.SIGKILL)
	}
	_ = c.Process.Kill()
	<-waited
	return cli.Exit(128+int(syscall.SIGKILL), nil)
}

// pollParent closes the returned channel once the guard's parent pid is
// no longer its parent (it died and the guard was reparented), looking
// every 200ms: the fallback where the kernel cannot signal it.
func pollParent(parent int) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for os.Getppid() == parent {
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return gone
}
