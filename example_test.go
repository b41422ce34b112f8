package paddock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/paddock-zk/paddock"
)

// The Examples run against the test ZooKeeper (servers), where a master
// and a worker serve paddock.DefaultRoot; a program passes its ensemble's
// addresses instead.

func Example() {
	ctx := context.Background()
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers})
	if err != nil {
		log.Fatal(err) // paddock.ErrUnreachable: no session within the connect timeout
	}
	defer c.Close()

	id, err := c.Submit(ctx, paddock.Task{Kind: "echo", Payload: []byte("hello, paddock"), Timeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	// The task runs even if this program dies now: any client can wait
	// for it by its id.
	res, err := c.Wait(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, res.Output)
	// Results are kept until collected (or expired by the master).
	if err := c.Collect(ctx, res); err != nil {
		log.Fatal(err)
	}
	// Output: succeeded hello, paddock
}

func ExampleClient_SubmitMany() {
	ctx := context.Background()
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var tasks []paddock.Task
	for _, word := range []string{"one", "two", "three"} {
		tasks = append(tasks, paddock.Task{Kind: "echo", Payload: []byte(word)})
	}
	ids, err := c.SubmitMany(ctx, tasks)
	var partial *paddock.SubmitManyError
	switch {
	case errors.As(err, &partial):
		for _, i := range partial.Failed() {
			log.Printf("task %d was not submitted: %v", i, partial.Errs[i])
		}
		log.Fatal("some tasks were not submitted")
	case err != nil:
		log.Fatal(err) // e.g. paddock.ErrBadTask: nothing was written
	}
	for _, id := range ids {
		res, err := c.Wait(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Output)
		_ = c.Collect(ctx, res)
	}
	// Output:
	// one
	// two
	// three
}

func ExampleClient_SubmitAndWait() {
	ctx := context.Background()
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A task that fails is not an error of the call: its Result says so.
	_, res, err := c.SubmitAndWait(ctx, paddock.Task{Kind: "fail"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status+":", res.Error)
	_ = c.Collect(ctx, res)
	// Output: failed: failed on purpose (kind "fail")
}

func ExampleClient_Cancel() {
	ctx := context.Background()
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	id, err := c.Submit(ctx, paddock.Task{Kind: "sleep", Payload: []byte("60")})
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Cancel(ctx, id) // pending or running: its worker stops it
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status)
	if _, err := c.Cancel(ctx, id); errors.Is(err, paddock.ErrFinished) {
		fmt.Println("already finished")
	}
	_ = c.Collect(ctx, res)
	// Output:
	// cancelled
	// already finished
}

func ExampleClient_Status() {
	ctx := context.Background()
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	st, err := c.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if st.Leader != nil {
		fmt.Println("leader:", st.Leader.ID)
	}
	for _, w := range st.Workers {
		fmt.Println("worker:", w.Name, w.Kinds)
	}
	// Output:
	// leader: m1
	// worker: w1 [echo fail sleep]
}

// A caller that may itself run twice (a retried request, a restarted
// job) gives its task a key: the second Submit returns the first task's
// id and writes nothing.
func ExampleTask_key() {
	ctx := context.Background()
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	order := paddock.Task{Kind: "echo", Payload: []byte("ship order 17"), Key: "order-17"}
	first, err := c.Submit(ctx, order)
	if err != nil {
		log.Fatal(err)
	}
	again, err := c.Submit(ctx, order) // say, after a crash before the id was saved
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first == again)
	// Output: true
}

func ExampleParseRetryPolicy() {
	p, err := paddock.ParseRetryPolicy("max=5,initial=1s,max-delay=5m,multiplier=3")
	if err != nil {
		log.Fatal(err)
	}
	// r = 0.5 draws no jitter: the delays before the first three retries.
	fmt.Println(p.MaxRetries, p.Delay(1, 0.5), p.Delay(2, 0.5), p.Delay(3, 0.5))
	fmt.Println(p)
	// Output:
	// 5 1s 3s 9s
	// max=5,initial=1s,max-delay=5m0s,multiplier=3
}
