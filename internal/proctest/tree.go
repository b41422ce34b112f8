package proctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The records below are written from docs/PROTOCOL.md, not imported from
// the product, so that the checks do not share its bugs.

// Result is a results/<shard>/<id> record.
type Result struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Status      string    `json:"status"` // succeeded, failed, cancelled or dead
	Output      string    `json:"output"`
	Error       string    `json:"error"`
	ExitCode    *int      `json:"exit_code"`
	Stderr      string    `json:"stderr"`
	Worker      string    `json:"worker"`
	Attempts    int       `json:"attempts"`
	Epoch       int64     `json:"epoch"`
	SubmittedAt time.Time `json:"submitted_at"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
}

// DeadLetter is a dead/<shard>/<id> record.
type DeadLetter struct {
	ID         string    `json:"id"`
	Reason     string    `json:"reason"` // malformed or max-attempts
	Detail     string    `json:"detail"`
	Attempts   int       `json:"attempts"`
	LastWorker string    `json:"last_worker"`
	At         time.Time `json:"at"`
	Spec       string    `json:"spec"`
}

// Epoch is the epoch znode's record.
type Epoch struct {
	Epoch  int64     `json:"epoch"`
	Leader string    `json:"leader"`
	Since  time.Time `json:"since"`
}

// Shard is the shard of a task id: its last two hex digits.
func Shard(id string) string {
	if len(id) < 2 {
		return id
	}
	return id[len(id)-2:]
}

// Shards are the 256 shard names, "00" to "ff".
func Shards() []string {
	out := make([]string, 256)
	for i := range out {
		out[i] = fmt.Sprintf("%02x", i)
	}
	return out
}

// TaskPath is <root>/<kind>/<shard>/<id> for kind tasks, data, results or
// dead.
func TaskPath(root, kind, id string) string { return path.Join(root, kind, Shard(id), id) }

// Tree is a snapshot of a Paddock tree, read with go-zookeeper directly.
type Tree struct {
	Root       string
	Epoch      Epoch
	Candidates []string            // master/ children, sorted
	Workers    []string            // workers/ children, sorted
	Assign     map[string][]string // assign/<w> -> task ids
	Tasks      map[string]string   // tasks/*/<id> -> data
	Data       map[string]bool     // data/*/<id>
	Results    map[string]Result   // results/*/<id>, parsed
	RawResults map[string]string
	Dead       map[string]DeadLetter
}

// Assigned counts the assignments under assign/.
func (t *Tree) Assigned() int {
	n := 0
	for _, ids := range t.Assign {
		n += len(ids)
	}
	return n
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// DialZK connects go-zookeeper to connect ("host:port,...") and waits up to
// timeout for a session.
func DialZK(connect string, timeout time.Duration) (*zk.Conn, error) {
	servers := strings.Split(connect, ",")
	conn, events, err := zk.Connect(servers, 10*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() { // keep the channel drained
					for range events {
					}
				}()
				return conn, nil
			}
		case <-deadline:
			conn.Close()
			return nil, fmt.Errorf("proctest: no ZooKeeper session at %s within %v", connect, timeout)
		}
	}
}

// ConnectZK is DialZK for a test: it fails tb on error and closes the
// connection in cleanup.
func ConnectZK(tb testing.TB, connect string) *zk.Conn {
	tb.Helper()
	conn, err := DialZK(connect, 15*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(conn.Close)
	return conn
}

// ReadTree reads every part of the tree under root.
func ReadTree(conn *zk.Conn, root string) (*Tree, error) {
	t := &Tree{
		Root: root, Assign: map[string][]string{}, Tasks: map[string]string{}, Data: map[string]bool{},
		Results: map[string]Result{}, RawResults: map[string]string{}, Dead: map[string]DeadLetter{},
	}
	if data, _, err := conn.Get(path.Join(root, "epoch")); err == nil {
		_ = json.Unmarshal(data, &t.Epoch)
	} else if !errors.Is(err, zk.ErrNoNode) {
		return nil, err
	}
	var err error
	if t.Candidates, err = children(conn, path.Join(root, "master")); err != nil {
		return nil, err
	}
	if t.Workers, err = children(conn, path.Join(root, "workers")); err != nil {
		return nil, err
	}
	dirs, err := children(conn, path.Join(root, "assign"))
	if err != nil {
		return nil, err
	}
	for _, w := range dirs {
		ids, err := children(conn, path.Join(root, "assign", w))
		if err != nil {
			return nil, err
		}
		t.Assign[w] = ids
	}

	var mu sync.Mutex
	var firstErr error
	for _, kind := range []string{"tasks", "data", "results", "dead"} {
		shards := Shards()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for _, s := range shards {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				err := readShard(conn, root, kind, s, t, &mu)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	return t, firstErr
}

func readShard(conn *zk.Conn, root, kind, shard string, t *Tree, mu *sync.Mutex) error {
	ids, err := children(conn, path.Join(root, kind, shard))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if kind == "data" {
			mu.Lock()
			t.Data[id] = true
			mu.Unlock()
			continue
		}
		data, _, err := conn.Get(path.Join(root, kind, shard, id))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return err
		}
		mu.Lock()
		switch kind {
		case "tasks":
			t.Tasks[id] = string(data)
		case "results":
			var r Result
			_ = json.Unmarshal(data, &r)
			t.Results[id] = r
			t.RawResults[id] = string(data)
		case "dead":
			var d DeadLetter
			_ = json.Unmarshal(data, &d)
			t.Dead[id] = d
		}
		mu.Unlock()
	}
	return nil
}

func children(conn *zk.Conn, p string) ([]string, error) {
	names, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	sort.Strings(names)
	return names, err
}

// CountChildren sums the children of <root>/<kind>/<shard> over all shards
// (one Exists each), as a cheap "did anything get written" probe.
func CountChildren(conn *zk.Conn, root, kind string) (int, error) {
	total := 0
	for _, s := range Shards() {
		ok, st, err := conn.Exists(path.Join(root, kind, s))
		if err != nil {
			return 0, err
		}
		if ok && st != nil {
			total += int(st.NumChildren)
		}
	}
	return total, nil
}
