package coord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// These tests hold docs/PROTOCOL.md to what the code does, on a real
// ZooKeeper: a client in another language is written from that document.

// docExample is one ```json block of docs/PROTOCOL.md and the record its
// "<!-- example: RECORD -->" line names.
type docExample struct {
	record string
	body   []byte
	line   int
}

var exampleMarker = regexp.MustCompile(`^<!-- example: (.+) -->$`)

// protocolExamples returns every ```json block of docs/PROTOCOL.md; each
// must be introduced by an example line, so none escapes the checks.
func protocolExamples(t *testing.T) []docExample {
	t.Helper()
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	var out []docExample
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```json" {
			continue
		}
		m := exampleMarker.FindStringSubmatch(lines[max(i-1, 0)])
		if m == nil {
			t.Errorf("docs/PROTOCOL.md:%d: a ```json block without an <!-- example: RECORD --> line above it", i+1)
			continue
		}
		start := i + 1
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		out = append(out, docExample{record: m[1], body: []byte(strings.Join(lines[start:i], "\n")), line: start})
	}
	return out
}

// sameJSON fails unless a and b are the same JSON value.
func sameJSON(t *testing.T, where string, doc, got []byte) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(doc, &x); err != nil {
		t.Errorf("%s: not JSON: %v", where, err)
		return
	}
	if err := json.Unmarshal(got, &y); err != nil {
		t.Errorf("%s: Paddock's encoding %s is not JSON: %v", where, got, err)
		return
	}
	if !reflect.DeepEqual(x, y) {
		t.Errorf("%s: the document shows\n%s\nbut Paddock writes that record as\n%s", where, doc, got)
	}
}

// decodeAndEncode decodes b with Paddock's decoder for record and encodes
// the result again, as Paddock writes it.
func decodeAndEncode(record string, b []byte) (any, []byte, error) {
	var (
		v   any
		err error
	)
	switch record {
	case "Spec":
		v, err = task.DecodeSpec(b)
	case "Assignment":
		v, err = task.DecodeAssignment(b)
	case "Result":
		var r task.Result
		if r, err = task.DecodeResult(b); err != nil {
			return nil, nil, err
		}
		enc, err := task.EncodeResult(r)
		return r, enc, err
	case "DeadLetter":
		v, err = task.DecodeDeadLetter(b)
	case "Member":
		v, err = recipe.DecodeMember(b)
	case "WorkerInfo":
		v, err = coord.DecodeWorkerInfo(b)
	case "Epoch":
		v, err = coord.DecodeEpoch(b)
	case "RoleHolder":
		v, err = recipe.DecodeRoleHolder(b)
	case "PartitionRecord":
		var r coord.PartitionRecord
		err = json.Unmarshal(b, &r)
		v = r
	case "Waiting":
		var w coord.Waiting
		err = json.Unmarshal(b, &w)
		v = w
	default:
		return nil, nil, errors.New("no decoder for this record name")
	}
	if err != nil {
		return nil, nil, err
	}
	enc, err := task.Encode(v)
	return v, enc, err
}

func TestProtocolExamples(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	examples := protocolExamples(t)
	seen := map[string]int{}
	results := map[task.ID]task.Result{}
	deads := map[task.ID]task.DeadLetter{}
	for _, ex := range examples {
		where := "docs/PROTOCOL.md:" + strconv.Itoa(ex.line) + " (" + ex.record + ")"
		seen[ex.record]++
		switch ex.record {
		case "Epoch after init":
			// Exactly the bytes init wrote.
			data, _, err := c.Get(ctx, l.Epoch())
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, ex.body); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			if !bytes.Equal(compact.Bytes(), data) {
				t.Errorf("%s: the document shows %s, init writes %q", where, compact.Bytes(), data)
			}
			continue
		case "role item":
			checkRoleItemExample(t, c, l, where, ex.body)
			continue
		case "config":
			checkConfigExample(t, c, l, where, ex.body)
			continue
		}
		v, enc, err := decodeAndEncode(ex.record, ex.body)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		sameJSON(t, where, ex.body, enc)
		switch r := v.(type) {
		case task.Result:
			results[r.ID] = r
			if _, err := task.ParseID(string(r.ID)); err != nil {
				t.Errorf("%s: %v", where, err)
			} else if !r.SubmittedAt.Equal(r.ID.SubmittedAt()) {
				t.Errorf("%s: submitted_at %v is not the time in the id, %v", where, r.SubmittedAt, r.ID.SubmittedAt().UTC())
			}
		case task.DeadLetter:
			deads[r.ID] = r
			checkDeadLetterExample(t, where, r)
		}
	}
	for _, want := range []string{"Spec", "Assignment", "Result", "DeadLetter", "Member", "WorkerInfo", "Epoch",
		"Epoch after init", "RoleHolder", "role item", "config"} {
		if seen[want] == 0 {
			t.Errorf("docs/PROTOCOL.md has no example of %s", want)
		}
	}
	// A dead result says what its dead letter says, as the master writes both.
	for id, r := range results {
		if r.Status != task.Dead {
			continue
		}
		d, ok := deads[id]
		switch {
		case !ok:
			t.Errorf("the dead result %s has no dead letter example", id)
		case r.Error != d.Reason+": "+d.Detail || r.Worker != d.LastWorker || r.Attempts != d.Attempts || r.StartedAt != (time.Time{}):
			t.Errorf("the dead result %s (error %q, worker %q, attempts %d) does not match its dead letter (%q: %q, %q, %d)",
				id, r.Error, r.Worker, r.Attempts, d.Reason, d.Detail, d.LastWorker, d.Attempts)
		}
	}
}

// checkDeadLetterExample: a malformed task's detail is its decoder's error;
// another's spec is the Spec as Paddock encodes it.
func checkDeadLetterExample(t *testing.T, where string, d task.DeadLetter) {
	t.Helper()
	s, err := task.DecodeSpec([]byte(d.Spec))
	switch d.Reason {
	case task.ReasonMalformed:
		if err == nil || err.Error() != d.Detail || !strings.HasPrefix(d.Detail, "malformed: ") {
			t.Errorf("%s: detail %q; decoding the spec gives %v", where, d.Detail, err)
		}
	case task.ReasonMaxAttempts:
		if err != nil {
			t.Errorf("%s: spec: %v", where, err)
			return
		}
		enc, _ := task.Encode(s)
		if string(enc) != d.Spec || s.Attempts != d.Attempts {
			t.Errorf("%s: spec %q, Paddock encodes it %q", where, d.Spec, enc)
		}
	default:
		t.Errorf("%s: reason %q", where, d.Reason)
	}
}

// checkRoleItemExample adds the example as a bag item and reads it back as
// a role, with the code that the workers and `client role list` use.
func checkRoleItemExample(t *testing.T, c *zkclient.Client, l coord.Layout, where string, body []byte) {
	t.Helper()
	ctx := ctxT(t)
	rm := recipe.NewRoleMatch(c, l.Roles())
	if _, err := rm.Bag().Add(ctx, body, false); err != nil {
		t.Fatal(err)
	}
	roles, err := rm.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 1 {
		t.Errorf("%s: read as %d roles: %+v", where, len(roles), roles)
		return
	}
	enc, _ := json.Marshal(map[string]string{"name": roles[0].Name, "data": roles[0].Data})
	sameJSON(t, where, body, enc)
	if _, err := task.ParseArgv([]byte(roles[0].Data)); err != nil {
		t.Errorf("%s: the role's command: %v", where, err)
	}
}

// checkConfigExample writes the example into the config znode and reads it
// with the distributed config; every key must be one Paddock reads.
func checkConfigExample(t *testing.T, c *zkclient.Client, l coord.Layout, where string, body []byte) {
	t.Helper()
	ctx := ctxT(t)
	cfg := coord.PaddockConfig(c, l)
	// Right after init: empty data, an empty config.
	data, _, err := c.Get(ctx, l.Config())
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 0 {
		t.Errorf("init left %q in %s; the document says it is empty", data, l.Config())
	}
	if vals, err := cfg.Values(ctx, ""); err != nil || len(vals) != 0 {
		t.Errorf("the config right after init: %v, %v", vals, err)
	}
	if _, err := c.Set(ctx, l.Config(), body, -1); err != nil {
		t.Fatal(err)
	}
	vals, err := cfg.Values(ctx, "")
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	enc, _ := json.Marshal(vals)
	sameJSON(t, where, body, enc)
	for k, v := range vals {
		if err := coord.CheckSetting(k, v); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
}

// Submitting before the tree exists fails with NoNode and writes nothing;
// after init the same id goes through.
func TestProtocolSubmitBeforeInit(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := rootFor(t)
	deleteTree(t, c, l.Root())
	q := coord.NewQueue(c, l, 0)
	id := task.NewID(time.Now())
	err := q.Submit(ctx, id, spec("echo"), []byte("hi"))
	if !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("submit before init: %v, want NoNode", err)
	}
	if st, err := c.Exists(ctx, l.Root()); err != nil || st != nil {
		t.Fatalf("submit before init left %s behind (%v)", l.Root(), err)
	}
	if err := coord.EnsureLayout(ctx, c, l); err != nil {
		t.Fatal(err)
	}
	if err := q.Submit(ctx, id, spec("echo"), []byte("hi")); err != nil {
		t.Fatalf("submit after init, same id: %v", err)
	}
}

// waitRace runs Wait (or WaitSubmitted) on a fresh task, calling at(point,
// n, bg) from inside Wait at its n-th visit of each point, and returns what
// Wait returned once what at started with bg is done too.
func waitRace(t *testing.T, c *zkclient.Client, q *coord.Queue, id task.ID, check bool,
	at func(point string, n int, bg func(func()))) (task.Result, error) {
	t.Helper()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithTimeout(ctxT(t), 10*time.Second)
	defer cancel()
	if err := q.Submit(ctx, id, spec("echo"), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	visits := map[string]int{}
	defer coord.SetWaitHook(func(got task.ID, point string) {
		if got != id {
			return
		}
		mu.Lock()
		visits[point]++
		n := visits[point]
		mu.Unlock()
		at(point, n, func(f func()) { wg.Go(f) })
	})()
	if check {
		return q.Wait(ctx, id)
	}
	return q.WaitSubmitted(ctx, id)
}

// finish ends the task as a "complete" multi would: task deleted, result
// created (the assignment is left out: none was made).
func finish(t *testing.T, c *zkclient.Client, l coord.Layout, id task.ID, status task.Status) {
	b, _ := task.EncodeResult(task.Result{ID: id, Kind: "echo", Status: status, SubmittedAt: id.SubmittedAt(), FinishedAt: time.Now()})
	if _, err := c.Multi(ctxT(t), zkclient.DeleteOp(l.Task(id), -1), zkclient.CreateOp(l.Result(id), b, zk.FlagPersistent)); err != nil {
		t.Errorf("finish %s: %v", id, err)
	}
}

// The wait recipe of docs/PROTOCOL.md, step by step, against the races it
// names: coord's Wait must come to the outcome the document gives.
func TestProtocolWaitRaces(t *testing.T) {
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 0)

	t.Run("task finishes between the two exists calls", func(t *testing.T) {
		id := task.NewID(time.Now())
		r, err := waitRace(t, c, q, id, true, func(point string, n int, _ func(func())) {
			if point == "no result" && n == 1 {
				finish(t, c, l, id, task.Succeeded) // after step 1's read, before step 2's
			}
		})
		if err != nil || r.ID != id || r.Status != task.Succeeded {
			t.Fatalf("Wait: %+v, %v; want the result (look at the result once more before saying unknown)", r, err)
		}
	})

	t.Run("result collected between its creation and the get", func(t *testing.T) {
		id := task.NewID(time.Now())
		_, err := waitRace(t, c, q, id, false, func(point string, n int, bg func(func())) {
			switch {
			case point == "no result" && n == 1:
				// The watch is armed: finish from outside Wait.
				bg(func() { finish(t, c, l, id, task.Succeeded) })
			case point == "created" && n == 1:
				if err := q.Collect(ctxT(t), id, task.Succeeded); err != nil {
					t.Error(err)
				}
			}
		})
		if !errors.Is(err, coord.ErrUnknownTask) {
			t.Fatalf("Wait: %v, want ErrUnknownTask (another client collected the result)", err)
		}
	})

	t.Run("dead task requeued between its result's creation and the get", func(t *testing.T) {
		id := task.NewID(time.Now())
		r, err := waitRace(t, c, q, id, false, func(point string, n int, bg func(func())) {
			switch {
			case point == "no result" && n == 1:
				bg(func() { finish(t, c, l, id, task.Dead) })
			case point == "created" && n == 1:
				// What "requeue" does: the dead result goes, the task is back.
				b, _ := task.Encode(spec("echo"))
				if _, err := c.Multi(ctxT(t), zkclient.DeleteOp(l.Result(id), -1), zkclient.CreateOp(l.Task(id), b, zk.FlagPersistent)); err != nil {
					t.Error(err)
				}
			case point == "no result" && n == 2:
				bg(func() { finish(t, c, l, id, task.Succeeded) }) // its next result
			}
		})
		if err != nil || r.Status != task.Succeeded {
			t.Fatalf("Wait: %+v, %v; want the requeued task's result", r, err)
		}
	})
}

// A dead letter deleted alone, after its dead result was collected, leaves
// a payload that nothing removes: expire and purge find nothing of it.
// Deleted as "purge" does, everything goes.
func TestProtocolDeadLetterDeletedAlone(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 0)
	deadLetter := func() task.ID {
		id := task.NewID(time.Now())
		if err := q.Submit(ctx, id, spec("echo"), []byte("hi")); err != nil {
			t.Fatal(err)
		}
		_, st, err := q.Spec(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		d := task.DeadLetter{ID: id, Reason: task.ReasonMaxAttempts, Detail: "test", At: time.Now(), Spec: "{}"}
		r := task.Result{ID: id, Kind: "echo", Status: task.Dead, SubmittedAt: id.SubmittedAt(), FinishedAt: time.Now()}
		ops, err := q.DeadLetterOps(id, st.Version, "", d, r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Multi(ctx, ops...); err != nil {
			t.Fatal(err)
		}
		if err := q.Collect(ctx, id, task.Dead); err != nil { // "collect-dead": the payload stays
			t.Fatal(err)
		}
		return id
	}
	exists := func(p string) bool {
		st, err := c.Exists(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return st != nil
	}
	future := time.Now().Add(time.Hour)

	alone := deadLetter()
	if err := c.Delete(ctx, l.DeadLetter(alone), -1); err != nil {
		t.Fatal(err)
	}
	for _, st := range []coord.State{coord.StateDead, coord.StateFinished} {
		old, err := coord.FindOld(ctx, c, l, st, future)
		if err != nil || len(old) != 0 {
			t.Fatalf("expire/purge would remove %+v (%v)", old, err)
		}
	}
	if !exists(l.Payload(alone)) {
		t.Fatal("the payload went with the dead letter deleted alone; the document says it stays")
	}

	purged := deadLetter()
	old, err := coord.FindOld(ctx, c, l, coord.StateDead, future)
	if err != nil || len(old) != 1 || old[0].ID != purged {
		t.Fatalf("FindOld: %+v, %v", old, err)
	}
	if _, err := c.Multi(ctx, coord.RemoveOps(l, old[0])...); err != nil {
		t.Fatal(err)
	}
	if exists(l.Payload(purged)) || exists(l.DeadLetter(purged)) {
		t.Fatal(`deleted as "purge" does, the dead letter left something behind`)
	}
}

// The Spec rules of docs/PROTOCOL.md ("How strict"), case by case.
func TestProtocolSpecStrictness(t *testing.T) {
	for _, s := range []string{"", "not json", `{"kind":"echo"} x`, "[]", "null", `{"kind":"echo","client":7}`,
		`{"kind":"echo","max_attempts":3.0}`, `{"kind":"echo","max_attempts":1e3}`, `{"kind":"echo","max_attempts":"3"}`,
		`{"kind":"echo","timeout_ms":9223372036854775808}`, `{"kind":"echo","submitted_at":"2026-11-21 11:24:21Z"}`,
		`{"kind":"Echo"}`, `{"kind":"echo","timeout_ms":-1}`, `{"kind":"echo","attempts":-1}`, `{"kind":"echo","size":-1}`,
		`{"kind":"echo","max_attempts":-1}`, `{"kind":"echo","max_attempts":1001}`} {
		if _, err := task.DecodeSpec([]byte(s)); !errors.Is(err, task.ErrMalformed) {
			t.Errorf("%s: %v; the document calls it malformed", s, err)
		}
	}
	for s, want := range map[string]task.Spec{
		`{"kind":"echo","extra":[1]} `:                         {Kind: "echo"},
		`{"kind":"echo","size":null,"max_attempts":1000}`:      {Kind: "echo", MaxAttempts: 1000},
		`{"kind":"echo","size":99,"client":"\ud800"}`:          {Kind: "echo", Size: 99, Client: "\ufffd"},
		`{"KIND":"echo"}`:                                      {Kind: "echo"},
		`{"kind":"fail","kind":"echo"}`:                        {Kind: "echo"},
		`{"kind":"echo","worker":"?","epoch":-5,"attempts":0}`: {Kind: "echo", Worker: "?", Epoch: -5},
	} {
		got, err := task.DecodeSpec([]byte(s))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", s, got, err, want)
		}
	}
}
