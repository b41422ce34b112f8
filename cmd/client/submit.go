package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
	"github.com/spf13/cobra"
)

// taskFlags describe a task; submit and run share them.
type taskFlags struct {
	kind        string
	data        string
	dataFile    string
	timeout     time.Duration
	maxAttempts int
	maxPayload  int
}

func (f *taskFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.kind, "kind", "echo", "task kind: sleep (payload: seconds), echo, fail, exec (payload: JSON argv; workers need --allow-exec)")
	fs.StringVar(&f.data, "data", "", "payload")
	fs.StringVar(&f.dataFile, "data-file", "", "read the payload from this file ('-' for stdin)")
	fs.DurationVar(&f.timeout, "timeout", 0, "execution time limit on the worker (0: none)")
	fs.IntVar(&f.maxAttempts, "max-attempts", task.DefaultMaxAttempts, "assignments allowed before the task is dead-lettered (a task whose workers keep dying)")
	fs.IntVar(&f.maxPayload, "max-payload", task.DefaultMaxPayload, "largest payload accepted, in bytes (ZooKeeper's own limit is about 1 MB)")
	cmd.MarkFlagsMutuallyExclusive("data", "data-file")
}

// spec checks the flags and reads the payload, before anything is written.
func (f *taskFlags) spec(stdin io.Reader) (task.Spec, []byte, error) {
	if !task.ValidKind(f.kind) {
		return task.Spec{}, nil, cli.Usage(fmt.Errorf("--kind %q is not a kind name (e.g. sleep, echo, fail, exec)", f.kind))
	}
	if f.timeout < 0 {
		return task.Spec{}, nil, cli.Usage(errors.New("--timeout must not be negative"))
	}
	if f.maxAttempts < 1 || f.maxAttempts > 1000 {
		return task.Spec{}, nil, cli.Usage(fmt.Errorf("--max-attempts %d: want 1 to 1000", f.maxAttempts))
	}
	if f.maxPayload < 1 || f.maxPayload > task.MaxRecord {
		return task.Spec{}, nil, cli.Usage(fmt.Errorf("--max-payload %d: want 1 to %d", f.maxPayload, task.MaxRecord))
	}
	payload := []byte(f.data)
	if f.dataFile != "" {
		var err error
		if f.dataFile == "-" {
			payload, err = io.ReadAll(io.LimitReader(stdin, int64(f.maxPayload)+1))
		} else {
			payload, err = readLimited(f.dataFile, f.maxPayload)
		}
		if err != nil {
			return task.Spec{}, nil, err
		}
	}
	if len(payload) > f.maxPayload {
		return task.Spec{}, nil, fmt.Errorf("%w: more than %d bytes (--max-payload); nothing was submitted", coord.ErrPayloadTooLarge, f.maxPayload)
	}
	spec := task.Spec{
		Kind:        f.kind,
		TimeoutMS:   f.timeout.Milliseconds(),
		MaxAttempts: f.maxAttempts,
		SubmittedAt: time.Now().UTC(),
		Client:      clientName(),
	}
	return spec, payload, nil
}

func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

func clientName() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", h, os.Getpid())
}

func newSubmitCommand(g *globals) *cobra.Command {
	var (
		tf          taskFlags
		wait        bool
		waitTimeout time.Duration
		keep        bool
		count       int
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Submit a task and print its id (or, with --wait, its result)",
		Long: `Submit a task: its payload goes to <root>/data and the task to <root>/tasks, in
one ZooKeeper multi. The task id is printed at once. With --wait the command
then waits (watch-driven) for the result, prints it, removes it from ZooKeeper
(unless --keep), and exits 0 only when the task succeeded.

Payloads over --max-payload are refused before anything is written.`,
		Example: `  client submit --kind sleep --data 2 --wait
  client submit --kind echo --data hello -o json
  client submit --kind exec --data '["uname","-a"]' --timeout 10s --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, payload, err := tf.spec(cmd.InOrStdin())
			if err != nil {
				return err
			}
			if count < 1 {
				return cli.Usage(errors.New("--count must be at least 1"))
			}
			return g.withEnv(cmd, func(env *cli.Env) error {
				q := coord.NewQueue(env.Client, env.Layout, tf.maxPayload)
				if count > 1 {
					return submitMany(cmd, q, spec, payload, count, wait, keep, g.out.JSON())
				}
				id := task.NewID(time.Now())
				if err := q.Submit(cmd.Context(), id, spec, payload); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if !wait {
					if g.out.JSON() {
						return printJSON(out, map[string]string{"id": string(id)})
					}
					fmt.Fprintln(out, id)
					return nil
				}
				if !g.out.JSON() {
					fmt.Fprintf(cmd.ErrOrStderr(), "submitted %s; waiting for its result\n", id)
				}
				ctx := cmd.Context()
				if waitTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, waitTimeout)
					defer cancel()
				}
				r, err := q.Wait(ctx, id)
				if err != nil {
					return waitError(id, err)
				}
				if !keep {
					if err := q.Collect(cmd.Context(), id, r.Status); err != nil {
						env.Log.Warn("could not remove the result; the master expires it later")
					}
				}
				return printResult(out, r, g.out.JSON())
			})
		},
	}
	tf.add(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the result and print it")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 0, "with --wait, give up after this long (0: wait forever); the task keeps running")
	cmd.Flags().BoolVar(&keep, "keep", false, "with --wait, leave the result in ZooKeeper for others to read")
	cmd.Flags().IntVar(&count, "count", 1, "submit this many identical tasks, pipelined; prints one id per line")
	return cmd
}

// submitMany submits count copies of a task with many requests in flight,
// printing ids in submission order; with wait, it then prints one line per
// result and fails unless all succeeded. Interrupted, it prints the ids
// that were submitted, one summary line, and exits 130.
func submitMany(cmd *cobra.Command, q *coord.Queue, spec task.Spec, payload []byte, count int, wait, keep, asJSON bool) error {
	ctx := cmd.Context()
	ids := make([]task.ID, count)
	for i := range ids {
		ids[i] = task.NewID(time.Now())
	}
	var submitted, collected atomic.Int64
	errs := make([]error, count)
	bar := cli.StartProgress(cmd.ErrOrStderr(), !asJSON, func() string {
		return fmt.Sprintf("submitted %d/%d", submitted.Load(), count)
	})
	_ = zkclient.Pipeline(count, func(i int) error {
		if errs[i] = ctx.Err(); errs[i] == nil {
			if errs[i] = q.Submit(ctx, ids[i], spec, payload); errs[i] == nil {
				submitted.Add(1)
			}
		}
		return nil
	})
	bar.Stop()
	out := cmd.OutOrStdout()
	failed, unsent := 0, 0
	for i, id := range ids {
		switch {
		case errs[i] != nil && ctx.Err() != nil:
			unsent++ // interrupted: not a failure to report one by one
		case errs[i] != nil:
			failed++
			fmt.Fprintf(cmd.ErrOrStderr(), "submit %d of %d: %v\n", i+1, count, errs[i])
		case !wait && asJSON:
			_ = printJSON(out, map[string]string{"id": string(id)})
		case !wait:
			fmt.Fprintln(out, id)
		}
	}
	if ctx.Err() != nil {
		what := "ids above"
		if wait {
			what = "not waited for; 'client ls --state pending' finds them"
		}
		return cli.Exit(cli.ExitInterrupted, fmt.Errorf("interrupted: submitted %d of %d tasks (%s); %d were not submitted (the few in flight at the interrupt may have been)", count-failed-unsent, count, what, unsent))
	}
	if failed > 0 && !wait {
		return fmt.Errorf("%d of %d submissions failed", failed, count)
	}
	if !wait {
		return nil
	}
	results := make([]task.Result, count)
	werrs := make([]error, count)
	bar = cli.StartProgress(cmd.ErrOrStderr(), !asJSON, func() string {
		return fmt.Sprintf("results %d/%d", collected.Load(), count-failed)
	})
	_ = zkclient.Pipeline(count, func(i int) error {
		if errs[i] != nil {
			return nil
		}
		results[i], werrs[i] = q.Wait(ctx, ids[i])
		if werrs[i] == nil && !keep {
			_ = q.Collect(ctx, ids[i], results[i].Status)
		}
		if werrs[i] == nil {
			collected.Add(1)
		}
		return nil
	})
	bar.Stop()
	bad := failed
	for i, r := range results {
		switch {
		case errs[i] != nil:
		case werrs[i] != nil && ctx.Err() != nil:
		case werrs[i] != nil:
			bad++
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", ids[i], waitError(ids[i], werrs[i]))
		case asJSON:
			_ = printJSON(out, r)
		default:
			line, _, _ := strings.Cut(r.Output, "\n")
			if r.Error != "" {
				line = r.Error
			}
			fmt.Fprintf(out, "%s  %-9s  %s\n", r.ID, r.Status, line)
		}
		if werrs[i] == nil && errs[i] == nil && r.Status != task.Succeeded {
			bad++
		}
	}
	if ctx.Err() != nil {
		return cli.Exit(cli.ExitInterrupted, fmt.Errorf("interrupted: %d of %d results received (above); the other tasks keep running", collected.Load(), count-failed))
	}
	if bad > 0 {
		return cli.Exit(cli.ExitNotSuccess, fmt.Errorf("%d of %d tasks did not succeed", bad, count))
	}
	return nil
}

func waitError(id task.ID, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("gave up waiting for %s; it keeps running: 'client result %s --wait' picks it up", id, id)
	case errors.Is(err, context.Canceled):
		return cli.Exit(cli.ExitInterrupted, fmt.Errorf("interrupted; %s keeps running: 'client result %s --wait' picks it up", id, id))
	case errors.Is(err, coord.ErrUnknownTask):
		return fmt.Errorf("task %s vanished without a result (deleted by hand?)", id)
	}
	return err
}
