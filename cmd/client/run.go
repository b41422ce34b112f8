package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/spf13/cobra"
)

// runSummary is what 'client run' reports.
type runSummary struct {
	Tasks       int            `json:"tasks"`
	Succeeded   int            `json:"succeeded"`
	Failed      int            `json:"failed"` // finished with another status
	Lost        int            `json:"lost"`   // no result could be had
	ByStatus    map[string]int `json:"by_status"`
	Concurrency int            `json:"concurrency"`
	Rate        float64        `json:"rate,omitempty"` // requested start rate, tasks/s
	Seconds     float64        `json:"seconds"`
	TasksPerSec float64        `json:"tasks_per_sec"`
	LatencyP50  float64        `json:"latency_p50_ms"`
	LatencyP99  float64        `json:"latency_p99_ms"`
	LatencyMax  float64        `json:"latency_max_ms"`
	Errors      []string       `json:"errors,omitempty"` // first few
	// noAuth is the first error that was ZooKeeper's NoAuth: the tree
	// belongs to another identity, which the exit reports with its hint.
	noAuth error
}

func newRunCommand(g *globals) *cobra.Command {
	var (
		tf          taskFlags
		n, inFlight int
		rate        float64
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the seed's client loop: submit, wait, fetch, clean up, repeat",
		Long: `Run --tasks tasks through Paddock with --concurrency loops in flight. Each loop
submits a task, waits (watch-driven) for its result, reads it, removes it, and
starts the next. Prints a summary: tasks, failures, tasks per second and
submit-to-result latency (p50, p99). Exits 0 only when every task succeeded; 3
when some failed or were lost.`,
		Example: `  client run --tasks 1000 --concurrency 32
  client run --tasks 20 --concurrency 2 --kind sleep --data 0.5 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 || inFlight < 1 {
				return cli.Usage(errors.New("--tasks and --concurrency must be at least 1"))
			}
			if rate < 0 {
				return cli.Usage(errors.New("--rate must not be negative"))
			}
			t, err := tf.task(cmd.InOrStdin(), cmd.Flags())
			if err != nil {
				return err
			}
			return g.withClient(cmd, tf.maxPayload, func(_ *cli.Env, c *paddock.Client) error {
				s := runLoops(cmd.Context(), c, t, n, inFlight, rate, cmd.ErrOrStderr(), !g.out.JSON())
				if g.out.JSON() {
					if err := printJSON(cmd.OutOrStdout(), s); err != nil {
						return err
					}
				}
				if cmd.Context().Err() != nil {
					return cli.Exit(cli.ExitInterrupted, fmt.Errorf("interrupted after %d of %d tasks: %s", s.Tasks, n, s.line()))
				}
				if !g.out.JSON() {
					printSummary(cmd.OutOrStdout(), s)
				}
				if s.noAuth != nil {
					return cli.Exit(cli.ExitNotSuccess, s.noAuth)
				}
				if s.Succeeded != s.Tasks {
					return cli.Exit(cli.ExitNotSuccess, nil)
				}
				return nil
			})
		},
	}
	tf.add(cmd)
	cmd.Flags().IntVar(&n, "tasks", 100, "tasks to run in all")
	cmd.Flags().IntVar(&inFlight, "concurrency", 8, "client loops in flight")
	cmd.Flags().Float64Var(&rate, "rate", 0, "start tasks at this many per second at most (0: as fast as the loops go); latency is then measured at a steady load")
	return cmd
}

// line is the summary in one line: the progress line, and what an
// interrupted run prints.
func (s runSummary) line() string {
	return fmt.Sprintf("succeeded %d, failed %d, lost %d; %.1f tasks/s", s.Succeeded, s.Failed, s.Lost, s.TasksPerSec)
}

func runLoops(ctx context.Context, c *paddock.Client, t paddock.Task, n, inFlight int, rate float64, stderr io.Writer, progress bool) runSummary {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		s         = runSummary{ByStatus: map[string]int{}, Concurrency: inFlight, Rate: rate}
		next      = make(chan struct{})
		wg        sync.WaitGroup
	)
	record := func(status string, lat time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		s.Tasks++
		switch {
		case err != nil:
			s.Lost++
			if s.noAuth == nil && errors.Is(err, paddock.ErrNoAuth) {
				s.noAuth = err
			}
			if len(s.Errors) < 5 {
				s.Errors = append(s.Errors, err.Error())
			}
		case status == string(paddock.Succeeded):
			s.Succeeded++
		default:
			s.Failed++
		}
		if err == nil {
			s.ByStatus[status]++
			latencies = append(latencies, lat)
		}
	}
	start := time.Now()
	bar := cli.StartProgress(stderr, progress, func() string {
		mu.Lock()
		defer mu.Unlock()
		p := s
		if el := time.Since(start).Seconds(); el > 0 {
			p.TasksPerSec = float64(p.Succeeded+p.Failed) / el
		}
		return fmt.Sprintf("tasks %d/%d: %s", p.Tasks, n, p.line())
	})
	for range min(inFlight, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t0 := time.Now()
				id, r, err := c.SubmitAndWait(ctx, t)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil && id == "":
					record("", 0, fmt.Errorf("submit: %w", err))
					continue
				case err != nil:
					record("", 0, fmt.Errorf("task %s: %w", id, err))
					continue
				}
				lat := time.Since(t0)
				if err := c.Collect(ctx, r); err != nil && ctx.Err() == nil {
					record("", 0, fmt.Errorf("collect %s: %w", id, err))
					continue
				}
				record(string(r.Status), lat, nil)
			}
		}()
	}
	var pace <-chan time.Time
	if rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		pace = tick.C
	}
feed:
	for range n {
		if pace != nil {
			select {
			case <-pace:
			case <-ctx.Done():
				break feed
			}
		}
		select {
		case next <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	bar.Stop()
	elapsed := time.Since(start)
	s.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		s.TasksPerSec = float64(s.Succeeded+s.Failed) / elapsed.Seconds()
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	s.LatencyP50 = ms(percentile(latencies, 0.50))
	s.LatencyP99 = ms(percentile(latencies, 0.99))
	if len(latencies) > 0 {
		s.LatencyMax = ms(latencies[len(latencies)-1])
	}
	return s
}

// percentile of sorted durations, nearest-rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printSummary(w io.Writer, s runSummary) {
	fmt.Fprintf(w, "tasks:      %d (succeeded %d, failed %d, lost %d)\n", s.Tasks, s.Succeeded, s.Failed, s.Lost)
	fmt.Fprintf(w, "throughput: %.1f tasks/s over %.2fs with %d loops\n", s.TasksPerSec, s.Seconds, s.Concurrency)
	fmt.Fprintf(w, "latency:    p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", s.LatencyP50, s.LatencyP99, s.LatencyMax)
	for _, e := range s.Errors {
		fmt.Fprintf(w, "error:      %s\n", e)
	}
}
