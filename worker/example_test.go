package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strings"

	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
)

// A worker with one handler runs a task end to end.
func Example() {
	cluster := startCluster() // a ZooKeeper and a master; yours run elsewhere
	defer cluster.stop()

	w, err := worker.New(worker.Config{
		ZK:   zkclient.Config{Servers: cluster.servers},
		Root: cluster.root,
		ID:   "greeter-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	w.Handle("greet", func(ctx context.Context, t *worker.Task) ([]byte, error) {
		return []byte("hello, " + string(t.Payload)), nil
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	r := cluster.run("greet", "world") // a client submits, and waits for the result
	fmt.Println(r.Status, r.Output, "from", r.Worker)

	stop() // as on SIGTERM: drain, then return
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output: succeeded hello, world from greeter-1
}

// A payload that cannot be parsed will not parse on a retry either.
func ExampleSkipRetry() {
	cluster := startCluster()
	defer cluster.stop()

	w, err := worker.New(worker.Config{ZK: zkclient.Config{Servers: cluster.servers}, Root: cluster.root, ID: "resizer-1"})
	if err != nil {
		log.Fatal(err)
	}
	w.Handle("resize", func(ctx context.Context, t *worker.Task) ([]byte, error) {
		var req struct{ Width, Height int }
		if err := json.Unmarshal(t.Payload, &req); err != nil {
			return nil, worker.SkipRetry(fmt.Errorf("payload: %w", err))
		}
		return fmt.Appendf(nil, "%dx%d", req.Width/2, req.Height/2), nil
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	for _, payload := range []string{`{"width":640,"height":480}`, `640x480`} {
		r := cluster.run("resize", payload)
		fmt.Println(r.Status, r.Output+r.Error)
	}

	stop()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// succeeded 320x240
	// failed payload: invalid character 'x' after top-level value
}

// Middleware wraps every kind's handler: here, it logs each task and
// upper-cases what it returns.
func ExampleWorker_Use() {
	cluster := startCluster()
	defer cluster.stop()

	w, err := worker.New(worker.Config{ZK: zkclient.Config{Servers: cluster.servers}, Root: cluster.root, ID: "shouter-1"})
	if err != nil {
		log.Fatal(err)
	}
	logged := func(next worker.HandlerFunc) worker.HandlerFunc {
		return func(ctx context.Context, t *worker.Task) ([]byte, error) {
			fmt.Printf("start %s (attempt %d)\n", t.Kind, t.Attempt)
			out, err := next(ctx, t)
			fmt.Printf("end %s: error %v\n", t.Kind, err)
			return out, err
		}
	}
	upper := func(next worker.HandlerFunc) worker.HandlerFunc {
		return func(ctx context.Context, t *worker.Task) ([]byte, error) {
			out, err := next(ctx, t)
			return []byte(strings.ToUpper(string(out))), err
		}
	}
	w.Use(logged, upper) // logged runs first, and sees upper's output
	w.HandleBuiltins()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	r := cluster.run("echo", "quiet please")
	fmt.Println(r.Status, r.Output)

	stop()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// start echo (attempt 1)
	// end echo: error <nil>
	// succeeded QUIET PLEASE
}
