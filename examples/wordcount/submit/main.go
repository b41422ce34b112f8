// Command submit is the client half of the wordcount example: it submits
// one wordcount task per file (or per argument with -text) through the
// public paddock package, waits for every result, and prints each file's
// count and the total.
//
//	PADDOCK_ZK=127.0.0.1:2181 go run ./examples/wordcount/submit README.md docs/*.md
//	go run ./examples/wordcount/submit --zk 127.0.0.1:2181 -text "the cat and the hat"
//
// Tasks go in with one multi (SubmitMany) and come back as they finish; the
// results are collected (removed from ZooKeeper) once printed. Exit status:
// 0 when every task succeeded, 3 when one did not, 1 on an error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/paddock-zk/paddock"
)

// count is the wordcount handler's output (see ../worker).
type count struct {
	Words    int `json:"words"`
	Distinct int `json:"distinct"`
}

func main() {
	zk := flag.String("zk", env("PADDOCK_ZK", "127.0.0.1:2181"), "ZooKeeper servers, comma-separated host:port (PADDOCK_ZK)")
	root := flag.String("root", env("PADDOCK_ROOT", "/paddock"), "znode under which Paddock keeps its tree (PADDOCK_ROOT)")
	text := flag.Bool("text", false, "the arguments are texts to count, not files")
	retries := flag.Int("retries", 2, "retries of a task that fails")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: submit [flags] FILE... (or -text TEXT...)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, strings.Split(*zk, ","), *root, flag.Args(), *text, *retries)
	if err != nil {
		fmt.Fprintln(os.Stderr, "submit:", err)
		code = 1
	}
	os.Exit(code)
}

func run(ctx context.Context, servers []string, root string, args []string, text bool, retries int) (int, error) {
	tasks := make([]paddock.Task, len(args))
	for i, a := range args {
		payload := []byte(a)
		if !text {
			b, err := os.ReadFile(a)
			if err != nil {
				return 1, err
			}
			payload = b
		}
		tasks[i] = paddock.Task{Kind: "wordcount", Payload: payload, Timeout: time.Minute,
			Retry: &paddock.RetryPolicy{MaxRetries: retries}}
	}
	c, err := paddock.Dial(ctx, paddock.Config{Servers: servers, Root: root})
	if err != nil {
		return 1, err
	}
	defer c.Close()
	ids, err := c.SubmitMany(ctx, tasks)
	if err != nil {
		return 1, err
	}
	code, total := 0, count{}
	for i, id := range ids {
		r, err := c.Wait(ctx, id)
		if err != nil {
			return 1, fmt.Errorf("%s (%s): %w", args[i], id, err)
		}
		if r.Status != paddock.Succeeded {
			fmt.Printf("%s: %s: %s\n", args[i], r.Status, r.Error)
			code = 3
		} else {
			var n count
			if err := json.Unmarshal([]byte(r.Output), &n); err != nil {
				return 1, fmt.Errorf("%s: output %q: %w", args[i], r.Output, err)
			}
			fmt.Printf("%s: %d words, %d distinct\n", args[i], n.Words, n.Distinct)
			total.Words += n.Words
		}
		if err := c.Collect(ctx, r); err != nil {
			return 1, err
		}
	}
	fmt.Printf("total: %d words in %d tasks\n", total.Words, len(ids))
	return code, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
