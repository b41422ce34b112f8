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

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/zkclient"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// taskFlags describe a task; submit and run share them.
type taskFlags struct {
	kind           string
	data           string
	dataFile       string
	timeout        time.Duration
	maxAttempts    int
	maxPayload     int
	retries        int
	retry          string
	routingTimeout time.Duration
}

func (f *taskFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.kind, "kind", "echo", "task kind: sleep (payload: seconds), echo, fail, exec (payload: JSON argv; workers need --allow-exec)")
	fs.StringVar(&f.data, "data", "", "payload")
	fs.StringVar(&f.dataFile, "data-file", "", "read the payload from this file ('-' for stdin)")
	fs.DurationVar(&f.timeout, "timeout", 0, "execution time limit on the worker (0: none)")
	fs.IntVar(&f.maxAttempts, "max-attempts", paddock.DefaultMaxAttempts, "assignments that may end without a result (its worker died or shut down) before the task is dead-lettered; retries (--retries) do not use them up")
	fs.IntVar(&f.maxPayload, "max-payload", paddock.DefaultMaxPayload, "largest payload accepted, in bytes (ZooKeeper's own limit is about 1 MB)")
	fs.IntVar(&f.retries, "retries", 0, "retry a task whose handler fails (error, panic, timeout) up to N times, with the default backoff (without --retries or --retry: the kind's retry.<kind> setting, else none); distinct from --max-attempts")
	fs.StringVar(&f.retry, "retry", "", "retry policy, as the retry.<kind> setting takes it: max=5,initial=1s,max-delay=5m,multiplier=2,jitter=0.2 (keys left out take their defaults)")
	fs.DurationVar(&f.routingTimeout, "routing-timeout", 0, "fail the task, naming its kind, when no live worker runs that kind within this time (0: wait for one)")
	cmd.MarkFlagsMutuallyExclusive("data", "data-file")
	cmd.MarkFlagsMutuallyExclusive("retries", "retry")
}

// task checks the flags and reads the payload, before anything is written
// (or connected: a bad flag is a usage error, exit 2, even without
// ZooKeeper).
func (f *taskFlags) task(stdin io.Reader, fs *pflag.FlagSet) (paddock.Task, error) {
	switch {
	case !paddock.ValidKind(f.kind):
		return paddock.Task{}, cli.Usage(fmt.Errorf("--kind %q is not a kind name (e.g. sleep, echo, fail, exec)", f.kind))
	case f.timeout < 0:
		return paddock.Task{}, cli.Usage(errors.New("--timeout must not be negative"))
	case f.routingTimeout < 0:
		return paddock.Task{}, cli.Usage(errors.New("--routing-timeout must not be negative"))
	case f.maxAttempts < 1 || f.maxAttempts > paddock.MaxAttemptsLimit:
		return paddock.Task{}, cli.Usage(fmt.Errorf("--max-attempts %d: want 1 to %d", f.maxAttempts, paddock.MaxAttemptsLimit))
	case f.maxPayload < 1 || f.maxPayload > paddock.MaxPayloadLimit:
		return paddock.Task{}, cli.Usage(fmt.Errorf("--max-payload %d: want 1 to %d", f.maxPayload, paddock.MaxPayloadLimit))
	}
	t := paddock.Task{Kind: f.kind, Timeout: f.timeout, MaxAttempts: f.maxAttempts, RoutingTimeout: f.routingTimeout}
	switch {
	case fs.Changed("retries") && (f.retries < 0 || f.retries > paddock.MaxRetriesLimit):
		return paddock.Task{}, cli.Usage(fmt.Errorf("--retries %d: want 0 to %d", f.retries, paddock.MaxRetriesLimit))
	case fs.Changed("retries"):
		t.Retry = &paddock.RetryPolicy{MaxRetries: f.retries}
	case f.retry != "":
		p, err := paddock.ParseRetryPolicy(f.retry)
		if err != nil {
			return paddock.Task{}, cli.Usage(fmt.Errorf("--retry: %w", err))
		}
		t.Retry = &p
	}
	if err := t.Validate(); err != nil { // what the flags' own checks left to the package
		return paddock.Task{}, cli.Usage(err)
	}
	payload, err := f.payload(stdin)
	if err != nil {
		return paddock.Task{}, err
	}
	t.Payload = payload
	return t, nil
}

// payload reads --data or --data-file, refusing more than --max-payload
// bytes without reading further.
func (f *taskFlags) payload(stdin io.Reader) ([]byte, error) {
	payload := []byte(f.data)
	if f.dataFile != "" {
		var err error
		if f.dataFile == "-" {
			payload, err = io.ReadAll(io.LimitReader(stdin, int64(f.maxPayload)+1))
		} else {
			payload, err = readLimited(f.dataFile, f.maxPayload)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(payload) > f.maxPayload {
		return nil, fmt.Errorf("%w: more than %d bytes (--max-payload); nothing was submitted", paddock.ErrPayloadTooLarge, f.maxPayload)
	}
	return payload, nil
}

func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

// notBefore reads --at and --in: when the task may start (zero: at once).
func notBefore(at string, in time.Duration) (time.Time, error) {
	switch {
	case in < 0:
		return time.Time{}, cli.Usage(errors.New("--in must not be negative"))
	case in > 0:
		return time.Now().Add(in), nil
	case at == "":
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return time.Time{}, cli.Usage(fmt.Errorf("--at %q: want an RFC 3339 time, e.g. 2026-11-27T18:00:00Z or 2026-11-27T19:00:00+01:00", at))
	}
	return t, nil
}

func newSubmitCommand(g *globals) *cobra.Command {
	var (
		tf          taskFlags
		wait        bool
		waitTimeout time.Duration
		keep        bool
		count       int
		at, key     string
		in          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Submit a task and print its id (or, with --wait, its result)",
		Long: `Submit a task: its payload goes to <root>/data and the task to <root>/tasks, in
one ZooKeeper multi. The task id is printed at once. With --wait the command
then waits (watch-driven) for the result, prints it, removes it from ZooKeeper
(unless --keep), and exits 0 only when the task succeeded.

A task that fails is retried with --retries N (or a whole policy with
--retry), after a delay that grows exponentially with jitter; without either,
the kind's retry.<kind> setting applies ('client config'), else none. While it
waits for a retry the task is pending; its result lists every attempt's error.
Retries and --max-attempts are distinct: a retry follows a failure the
handler reported (the worker puts the task back); --max-attempts bounds the
assignments lost with their workers (crash, kill -9, partition), after which
the master dead-letters the task. A task with --max-attempts 3 --retries 5
runs at most 8 times. --at or
--in schedule it: the master assigns it no earlier. --routing-timeout fails it
when no live worker runs its kind in time. --key makes the submit idempotent:
within the master's result retention (--retention, 24h by default) after a
task was submitted with that key, submitting again with it prints that
task's id and writes nothing, even once the task has finished.

Payloads over --max-payload are refused before anything is written. --count
submits that many identical tasks at once (package paddock's SubmitMany).`,
		Example: `  client submit --kind sleep --data 2 --wait
  client submit --kind echo --data hello -o json
  client submit --kind exec --data '["uname","-a"]' --timeout 10s --wait
  client submit --kind fail --retry max=3,initial=500ms --wait
  client submit --kind echo --data later --in 10m
  client submit --kind echo --data once --key order-17`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := tf.task(cmd.InOrStdin(), cmd.Flags())
			if err != nil {
				return err
			}
			if count < 1 {
				return cli.Usage(errors.New("--count must be at least 1"))
			}
			if key != "" && count > 1 {
				return cli.Usage(errors.New("--key names one task: it cannot go with --count"))
			}
			if t.NotBefore, err = notBefore(at, in); err != nil {
				return err
			}
			t.Key = key
			return g.withClient(cmd, tf.maxPayload, func(env *cli.Env, c *paddock.Client) error {
				if count > 1 {
					return submitMany(cmd, c, t, count, wait, keep, g.out.JSON())
				}
				id, err := c.Submit(cmd.Context(), t)
				if err != nil {
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
				r, err := c.Wait(ctx, id)
				if err != nil {
					return waitError(id, err)
				}
				if !keep {
					if err := c.Collect(cmd.Context(), r); err != nil {
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
	cmd.Flags().IntVar(&count, "count", 1, "submit this many identical tasks at once; prints one id per line")
	cmd.Flags().StringVar(&at, "at", "", "run the task no earlier than this RFC 3339 time (e.g. 2026-11-27T18:00:00Z)")
	cmd.Flags().DurationVar(&in, "in", 0, "run the task no earlier than this long from now")
	cmd.Flags().StringVar(&key, "key", "", "idempotency key: within the result retention after a task was submitted with it, print that task's id and submit nothing")
	cmd.MarkFlagsMutuallyExclusive("at", "in")
	// A key or a start time belongs to one submission: inherited from an
	// exported variable, a key would turn every later submit into a no-op
	// that prints the first task's id.
	cli.CommandLineOnly(cmd.Flags(), "key", "at", "in")
	return cmd
}

// submitChunk is how many tasks one SubmitMany call of 'submit --count'
// carries: the progress line moves between calls, and an interrupt stops
// the submission at the next one.
const submitChunk = 1000

// submitMany submits count copies of a task, printing ids in submission
// order; with wait, it then prints one line per result and fails unless
// all succeeded. Interrupted, it prints the ids that were submitted, one
// summary line, and exits 130.
func submitMany(cmd *cobra.Command, c *paddock.Client, t paddock.Task, count int, wait, keep, asJSON bool) error {
	ctx := cmd.Context()
	ids, errs := submitChunks(ctx, cmd.ErrOrStderr(), c, t, count, !asJSON)
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
	return waitMany(cmd, c, ids, errs, failed, keep, asJSON)
}

// submitChunks submits count copies of t, submitChunk per SubmitMany,
// showing the progress; errs[i] is nil for each task submitted.
func submitChunks(ctx context.Context, stderr io.Writer, c *paddock.Client, t paddock.Task, count int, progress bool) ([]paddock.ID, []error) {
	tasks := make([]paddock.Task, min(count, submitChunk))
	for i := range tasks {
		tasks[i] = t
	}
	ids, errs := make([]paddock.ID, count), make([]error, count)
	var submitted atomic.Int64
	bar := cli.StartProgress(stderr, progress, func() string {
		return fmt.Sprintf("submitted %d/%d", submitted.Load(), count)
	})
	defer bar.Stop()
	for lo := 0; lo < count; lo += submitChunk {
		hi := min(lo+submitChunk, count)
		if err := ctx.Err(); err != nil {
			for i := lo; i < count; i++ {
				errs[i] = err
			}
			break
		}
		got, err := c.SubmitMany(ctx, tasks[:hi-lo])
		copy(ids[lo:hi], got)
		var partial *paddock.SubmitManyError
		for i := lo; i < hi; i++ {
			switch {
			case errors.As(err, &partial):
				errs[i] = partial.Errs[i-lo]
			case err != nil:
				errs[i] = err // refused as a whole: nothing was written
			}
			if errs[i] == nil {
				submitted.Add(1)
			}
		}
	}
	return ids, errs
}

// waitMany waits for the tasks submitted (errs[i] == nil), printing one
// line per result; failed tasks were not submitted.
func waitMany(cmd *cobra.Command, c *paddock.Client, ids []paddock.ID, errs []error, failed int, keep, asJSON bool) error {
	ctx, out, count := cmd.Context(), cmd.OutOrStdout(), len(ids)
	var collected atomic.Int64
	results := make([]paddock.Result, count)
	werrs := make([]error, count)
	bar := cli.StartProgress(cmd.ErrOrStderr(), !asJSON, func() string {
		return fmt.Sprintf("results %d/%d", collected.Load(), count-failed)
	})
	_ = zkclient.Pipeline(count, func(i int) error {
		if errs[i] != nil {
			return nil
		}
		results[i], werrs[i] = c.Wait(ctx, ids[i])
		if werrs[i] == nil && !keep {
			_ = c.Collect(ctx, results[i])
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
		if werrs[i] == nil && errs[i] == nil && r.Status != paddock.Succeeded {
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

func waitError(id paddock.ID, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("gave up waiting for %s; it keeps running: 'client result %s --wait' picks it up", id, id)
	case errors.Is(err, context.Canceled):
		return cli.Exit(cli.ExitInterrupted, fmt.Errorf("interrupted; %s keeps running: 'client result %s --wait' picks it up", id, id))
	case errors.Is(err, paddock.ErrUnknownTask):
		return fmt.Errorf("task %s vanished without a result (deleted by hand?)", id)
	}
	return err
}
