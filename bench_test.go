package paddock_test

import (
	"fmt"
	"testing"

	"github.com/paddock-zk/paddock"
)

// BenchmarkSubmit compares SubmitMany of n tasks with n Submit calls one
// after the other, as a program that knows no better would make them
// (each waits for its reply before the next). No master runs: only the
// submissions are measured. tasks/s is the figure to compare; BENCHMARKS.md
// has it (go test -run '^$' -bench Submit .).
func BenchmarkSubmit(b *testing.B) {
	for _, n := range []int{100, 1000} {
		tasks := make([]paddock.Task, n)
		for i := range tasks {
			tasks[i] = paddock.Task{Kind: "echo", Payload: []byte("benchmark payload")}
		}
		b.Run(fmt.Sprintf("one-by-one/%d", n), func(b *testing.B) {
			c := benchClient(b)
			for b.Loop() {
				for _, t := range tasks {
					if _, err := c.Submit(ctxT(b), t); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tasks/s")
		})
		b.Run(fmt.Sprintf("many/%d", n), func(b *testing.B) {
			c := benchClient(b)
			for b.Loop() {
				if _, err := c.SubmitMany(ctxT(b), tasks); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}

// benchClient is a client of a fresh tree, which the benchmark fills.
func benchClient(b *testing.B) *paddock.Client {
	c := newClient(b, rootFor(b))
	if err := c.Init(ctxT(b)); err != nil {
		b.Fatal(err)
	}
	return c
}
