// Command worker is the worker half of the wordcount example: a Paddock
// worker, built on the public worker package, that runs one kind of task,
// "wordcount": it counts the words of the payload (UTF-8 text) and returns
// the counts as JSON.
//
// It is configured by flags, each with an environment variable as its
// default, like Paddock's own binaries:
//
//	PADDOCK_ZK=127.0.0.1:2181 go run ./examples/wordcount/worker
//	go run ./examples/wordcount/worker --zk 127.0.0.1:2181 --root /paddock --id wc-1
//
// SIGINT or SIGTERM stops it gracefully (running tasks finish, up to the
// drain timeout); a second signal ends it at once.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/paddock-zk/paddock/worker"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

func main() {
	host, _ := os.Hostname()
	zk := flag.String("zk", env("PADDOCK_ZK", "127.0.0.1:2181"), "ZooKeeper servers, comma-separated host:port (PADDOCK_ZK)")
	root := flag.String("root", env("PADDOCK_ROOT", worker.DefaultRoot), "znode under which Paddock keeps its tree (PADDOCK_ROOT)")
	id := flag.String("id", env("PADDOCK_ID", fmt.Sprintf("wordcount-%s-%d", cmp.Or(host, "host"), os.Getpid())), "this worker's name (PADDOCK_ID)")
	concurrency := flag.Int("concurrency", envInt("PADDOCK_CONCURRENCY", worker.DefaultConcurrency), "tasks run at once (PADDOCK_CONCURRENCY)")
	flag.Parse()

	log, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w, err := worker.New(worker.Config{
		ZK:          zkclient.Config{Servers: strings.Split(*zk, ",")},
		Root:        *root,
		ID:          *id,
		Concurrency: *concurrency,
		Logger:      log,
	})
	if err != nil {
		log.Fatal("bad configuration", zap.Error(err))
	}
	w.Handle("wordcount", wordcount)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	// After the first signal the default action is back: a second one ends
	// the process at once.
	context.AfterFunc(ctx, stop)
	if err := w.Run(ctx); err != nil {
		log.Fatal("worker stopped", zap.Error(err))
	}
}

// Count is a wordcount task's output.
type Count struct {
	Words    int         `json:"words"`
	Distinct int         `json:"distinct"`
	Top      []WordCount `json:"top"` // the most frequent, at most topN: by count, then alphabetically
}

// WordCount is one word's count.
type WordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

const topN = 10

// wordcount is the handler: words are runs of letters, digits and
// apostrophes, counted case-insensitively. A payload that is not UTF-8
// text fails the task without retries: it will not be text on another
// try either.
func wordcount(_ context.Context, t *worker.Task) ([]byte, error) {
	if !utf8.Valid(t.Payload) {
		return nil, worker.SkipRetry(errors.New("payload is not UTF-8 text"))
	}
	words := strings.FieldsFunc(strings.ToLower(string(t.Payload)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '\''
	})
	counts := make(map[string]int)
	for _, w := range words {
		counts[w]++
	}
	top := make([]WordCount, 0, len(counts))
	for w, n := range counts {
		top = append(top, WordCount{w, n})
	}
	slices.SortFunc(top, func(a, b WordCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Word, b.Word))
	})
	return json.Marshal(Count{Words: len(words), Distinct: len(counts), Top: top[:min(len(top), topN)]})
}

// env is the variable name's value, or def when it is unset or empty.
func env(name, def string) string { return cmp.Or(os.Getenv(name), def) }

// envInt is env for a number; a value that is not one is an error worth
// stopping for.
func envInt(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: not a number\n", name, v)
		os.Exit(2)
	}
	return n
}
