package coord_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// fixture plays the master and the workers by hand to put tasks in every
// state, with ids one millisecond apart so their order is known.
type fixture struct {
	t    *testing.T
	ctx  context.Context
	c    *zkclient.Client
	l    coord.Layout
	q    *coord.Queue
	next time.Time
}

func newFixture(t *testing.T) *fixture {
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	return &fixture{t: t, ctx: ctxT(t), c: c, l: l, q: coord.NewQueue(c, l, 0), next: time.Now().Add(-time.Hour)}
}

func (f *fixture) id() task.ID {
	f.next = f.next.Add(time.Millisecond)
	return task.NewID(f.next)
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) submit(kind, payload string) task.ID {
	f.t.Helper()
	id := f.id()
	s := spec(kind)
	s.MaxAttempts = 2
	f.must(f.q.Submit(f.ctx, id, s, []byte(payload)))
	return id
}

// assign gives a pending task to worker w, as the master's "assign" does.
func (f *fixture) assign(id task.ID, w string) {
	f.t.Helper()
	if _, err := f.c.Create(f.ctx, f.l.AssignDir(w), nil, zk.FlagPersistent); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		f.t.Fatal(err)
	}
	s, st, err := f.q.Spec(f.ctx, id)
	f.must(err)
	s.Attempts++
	s.Worker, s.Epoch, s.AssignedAt = w, 7, time.Now().UTC()
	ops, err := f.q.AssignOps(id, st.Version, s, task.Assignment{Kind: s.Kind, Attempt: s.Attempts, MaxAttempts: s.AttemptLimit(),
		Epoch: 7, Master: "m1", SubmittedAt: id.SubmittedAt().UTC(), AssignedAt: s.AssignedAt})
	f.must(err)
	_, err = f.c.Multi(f.ctx, ops...)
	f.must(err)
}

// finish completes an assigned task with status succeeded.
func (f *fixture) finish(id task.ID, w string) {
	f.t.Helper()
	_, st, err := f.c.Get(f.ctx, f.l.Assignment(w, id))
	f.must(err)
	_, err = f.q.Complete(f.ctx, w, st.Version, 0, task.Result{ID: id, Kind: "echo", Status: task.Succeeded, Worker: w,
		Attempts: 1, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC()})
	f.must(err)
}

// kill dead-letters a pending task as the master does once its attempts
// are used up (a valid spec: it can be requeued).
func (f *fixture) kill(id task.ID, reason string) {
	f.t.Helper()
	data, st, err := f.c.Get(f.ctx, f.l.Task(id))
	f.must(err)
	s, _ := task.DecodeSpec(data) // zero for garbage, whose text the dead letter keeps
	d := task.DeadLetter{ID: id, Reason: reason, Detail: "test", Attempts: s.Attempts, LastWorker: "w9", At: time.Now().UTC(), Spec: string(data)}
	r := task.Result{ID: id, Kind: s.Kind, Status: task.Dead, Error: reason + ": test", Attempts: s.Attempts, FinishedAt: time.Now().UTC()}
	ops, err := f.q.DeadLetterOps(id, st.Version, "", d, r)
	f.must(err)
	_, err = f.c.Multi(f.ctx, ops...)
	f.must(err)
}

// garbage writes a task whose spec is not JSON, and dead-letters it as
// malformed, as the master does.
func (f *fixture) garbage() task.ID {
	f.t.Helper()
	id := f.id()
	_, err := f.c.Multi(f.ctx,
		zkclient.CreateOp(f.l.Payload(id), []byte("x"), zk.FlagPersistent),
		zkclient.CreateOp(f.l.Task(id), []byte("not json"), zk.FlagPersistent))
	f.must(err)
	f.kill(id, task.ReasonMalformed)
	return id
}

func (f *fixture) list(opts coord.ListOptions) coord.Listing {
	f.t.Helper()
	ls, err := coord.List(f.ctx, f.c, f.l, opts)
	f.must(err)
	return ls
}

func (f *fixture) exists(p string) bool {
	f.t.Helper()
	st, err := f.c.Exists(f.ctx, p)
	f.must(err)
	return st != nil
}

func ids(rows []coord.Listed) []task.ID {
	out := make([]task.ID, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want []task.ID) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestListByStateOldestFirst(t *testing.T) {
	f := newFixture(t)
	p1 := f.submit("echo", "a")
	r1 := f.submit("sleep", "1")
	p2 := f.submit("sleep", "2")
	fin := f.submit("echo", "b")
	dead := f.submit("echo", "c")
	p3 := f.submit("echo", "d")
	f.assign(r1, "w1")
	f.assign(fin, "w2")
	f.finish(fin, "w2")
	f.kill(dead, task.ReasonMaxAttempts)

	pending := f.list(coord.ListOptions{State: coord.StatePending})
	sameIDs(t, "pending", ids(pending.Tasks), []task.ID{p1, p2, p3})
	if pending.Total != 3 || pending.More {
		t.Errorf("pending listing %+v", pending)
	}
	if r := pending.Tasks[1]; r.Kind != "sleep" || r.State != coord.StatePending || r.Since.IsZero() {
		t.Errorf("pending row %+v", r)
	}

	running := f.list(coord.ListOptions{State: coord.StateRunning})
	if len(running.Tasks) != 1 || running.Tasks[0].ID != r1 || running.Tasks[0].Worker != "w1" ||
		running.Tasks[0].Kind != "sleep" || running.Tasks[0].Attempts != 1 || running.Tasks[0].Epoch != 7 {
		t.Errorf("running %+v", running.Tasks)
	}

	finished := f.list(coord.ListOptions{State: coord.StateFinished})
	sameIDs(t, "finished (the dead result included)", ids(finished.Tasks), []task.ID{fin, dead})
	if finished.Tasks[0].Status != task.Succeeded || finished.Tasks[1].Status != task.Dead {
		t.Errorf("finished %+v", finished.Tasks)
	}

	dl := f.list(coord.ListOptions{State: coord.StateDead})
	if len(dl.Tasks) != 1 || dl.Tasks[0].ID != dead || dl.Tasks[0].Reason != task.ReasonMaxAttempts || dl.Tasks[0].Kind != "echo" {
		t.Errorf("dead %+v", dl.Tasks)
	}

	// A limit reads no further than it needs; a kind filter skips.
	two := f.list(coord.ListOptions{State: coord.StatePending, Limit: 2})
	sameIDs(t, "pending --limit 2", ids(two.Tasks), []task.ID{p1, p2})
	if two.Read != 2 || !two.More || two.Total != 3 {
		t.Errorf("--limit 2 read %d records, more %v, total %d; want 2, true, 3", two.Read, two.More, two.Total)
	}
	echo := f.list(coord.ListOptions{State: coord.StatePending, Kind: "echo"})
	sameIDs(t, "pending --kind echo", ids(echo.Tasks), []task.ID{p1, p3})
	if _, err := coord.List(f.ctx, f.c, f.l, coord.ListOptions{State: "bogus"}); err == nil {
		t.Error("state bogus accepted")
	}
}

func TestListScanBound(t *testing.T) {
	f := newFixture(t)
	for range 10 {
		f.submit("echo", "x")
	}
	rare := f.submit("rare", "x")
	got := f.list(coord.ListOptions{State: coord.StatePending, Kind: "rare", Limit: 1, MaxScan: 3})
	if len(got.Tasks) != 0 || !got.ScanBound || !got.More || got.Read != 4 {
		t.Errorf("scan bound 3: %+v; want nothing found after reading 4", got)
	}
	got = f.list(coord.ListOptions{State: coord.StatePending, Kind: "rare"})
	sameIDs(t, "--kind rare", ids(got.Tasks), []task.ID{rare})
}

// Records another tool wrote, under every directory a listing reads, are
// listed as malformed; nothing crashes and the good tasks are still there.
func TestListMalformedRecords(t *testing.T) {
	f := newFixture(t)
	good := f.submit("echo", "x")
	bad := f.id()
	put := func(p, data string) {
		t.Helper()
		if _, err := f.c.Create(f.ctx, p, []byte(data), zk.FlagPersistent); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	put(f.l.Task(bad), "{not json")
	put(f.l.TaskShard("00")+"/not-an-id", "")
	wrongShard := f.id()
	other := "00"
	if wrongShard.Shard() == other {
		other = "01"
	}
	put(f.l.TaskShard(other)+"/"+string(wrongShard), `{"kind":"echo"}`)
	put(f.l.AssignDir("w1"), "")
	put(f.l.Assignment("w1", f.id()), "garbage")
	put(f.l.AssignDir("w1")+"/junk", "")
	put(f.l.Result(f.id()), `{"status":"exploded"}`)
	put(f.l.Result(f.id()), "")
	put(f.l.DeadLetter(f.id()), "[1,2]")

	check := func(st coord.State, wantGood []task.ID, wantMalformed int) {
		t.Helper()
		ls := f.list(coord.ListOptions{State: st})
		var fine []task.ID
		malformed := 0
		for _, r := range ls.Tasks {
			if r.Malformed != "" {
				malformed++
				continue
			}
			fine = append(fine, r.ID)
		}
		sameIDs(t, string(st)+" well-formed", fine, wantGood)
		if malformed != wantMalformed {
			t.Errorf("%s: %d malformed rows, want %d: %+v", st, malformed, wantMalformed, ls.Tasks)
		}
	}
	check(coord.StatePending, []task.ID{good}, 3)
	check(coord.StateRunning, nil, 2)
	check(coord.StateFinished, nil, 2)
	check(coord.StateDead, nil, 1)
	// A kind filter passes malformed rows by: they have no kind.
	echo := f.list(coord.ListOptions{State: coord.StatePending, Kind: "echo"})
	sameIDs(t, "--kind echo among garbage", ids(echo.Tasks), []task.ID{good})
}

func TestInspectEveryState(t *testing.T) {
	f := newFixture(t)
	pend := f.submit("echo", "hello payload")
	run := f.submit("sleep", "5")
	fin := f.submit("echo", "done")
	dead := f.submit("echo", strings.Repeat("é", 300))
	f.assign(run, "w1")
	f.assign(fin, "w2")
	f.finish(fin, "w2")
	f.assign(dead, "w3")
	// The master takes it back from the lost w3, then gives up on it.
	s, st, err := f.q.Spec(f.ctx, dead)
	f.must(err)
	s.Worker, s.LastWorker = "", "w3"
	ops, err := f.q.UnassignOps(dead, "w3", st.Version, s)
	f.must(err)
	_, err = f.c.Multi(f.ctx, ops...)
	f.must(err)
	f.kill(dead, task.ReasonMaxAttempts)

	in := func(id task.ID) coord.Inspection {
		t.Helper()
		got, err := coord.Inspect(f.ctx, f.c, f.l, id, 16)
		f.must(err)
		return got
	}
	p := in(pend)
	if p.State != coord.StatePending || p.Kind != "echo" || p.Spec == nil || p.Payload == nil ||
		p.Payload.Size != 13 || !strings.HasPrefix(p.Payload.Preview, "hello payload") || p.MaxAttempts != 2 {
		t.Errorf("pending %+v payload %+v", p, p.Payload)
	}
	r := in(run)
	if r.State != coord.StateRunning || r.Worker != "w1" || r.Assignment == nil || r.Master != "m1" || r.Epoch != 7 ||
		r.Attempts != 1 || r.AssignedAt.IsZero() {
		t.Errorf("running %+v", r)
	}
	fi := in(fin)
	if fi.State != coord.StateFinished || fi.Result == nil || fi.Result.Status != task.Succeeded || fi.Worker != "w2" ||
		fi.FinishedAt.IsZero() || fi.StartedAt.IsZero() {
		t.Errorf("finished %+v", fi)
	}
	d := in(dead)
	if d.State != coord.StateDead || d.DeadLetter == nil || d.DeadLetter.Reason != task.ReasonMaxAttempts || d.Result == nil ||
		d.Spec == nil || d.Kind != "echo" || d.LastWorker != "w9" || d.DeadAt.IsZero() || d.Payload == nil ||
		d.Payload.Size != 600 || !strings.Contains(d.Payload.Preview, "truncated to 16 bytes") || len(d.Problems) != 0 {
		t.Errorf("dead %+v payload %+v", d, d.Payload)
	}
	if _, err := coord.Inspect(f.ctx, f.c, f.l, f.id(), 16); !errors.Is(err, coord.ErrUnknownTask) {
		t.Errorf("unknown task: %v", err)
	}

	g := in(f.garbage())
	if g.State != coord.StateDead || g.Spec != nil || g.DeadLetter == nil || g.DeadLetter.Spec != "not json" || len(g.Problems) != 0 {
		t.Errorf("malformed task's dead letter %+v", g)
	}
	bad := f.id()
	_, err = f.c.Create(f.ctx, f.l.Task(bad), []byte(`{"kind":"Not A Kind"}`), zk.FlagPersistent)
	f.must(err)
	b := in(bad)
	if b.State != coord.StatePending || b.Spec != nil || len(b.Problems) != 1 || b.Payload != nil {
		t.Errorf("malformed pending task %+v", b)
	}
}

// A dead result is collected without its payload, which the dead letter
// keeps for a requeue; requeued, the task is pending again as submitted.
func TestRequeueDeadLetter(t *testing.T) {
	f := newFixture(t)
	id := f.submit("echo", "again")
	f.assign(id, "w1")
	s, st, err := f.q.Spec(f.ctx, id)
	f.must(err)
	s.Worker, s.LastWorker = "", "w1"
	ops, err := f.q.UnassignOps(id, "w1", st.Version, s)
	f.must(err)
	_, err = f.c.Multi(f.ctx, ops...)
	f.must(err)
	f.kill(id, task.ReasonMaxAttempts)

	f.must(f.q.Collect(f.ctx, id, task.Dead))
	if f.exists(f.l.Result(id)) || !f.exists(f.l.Payload(id)) || !f.exists(f.l.DeadLetter(id)) {
		t.Fatal("collecting the dead result: want the result gone, the payload and the dead letter kept")
	}
	f.must(f.q.Requeue(f.ctx, id))
	got, st2, err := f.q.Spec(f.ctx, id)
	f.must(err)
	if got.Attempts != 0 || got.Worker != "" || got.LastWorker != "" || got.Epoch != 0 || !got.AssignedAt.IsZero() ||
		got.Kind != "echo" || got.MaxAttempts != 2 || got.Size != 5 || st2.Version != 0 {
		t.Errorf("requeued spec %+v (version %d)", got, st2.Version)
	}
	if f.exists(f.l.DeadLetter(id)) || !f.exists(f.l.Payload(id)) {
		t.Error("after requeue: want the dead letter gone and the payload kept")
	}
	var nd *coord.NotDeadError
	if err := f.q.Requeue(f.ctx, id); !errors.As(err, &nd) || nd.State != coord.StatePending || !strings.Contains(err.Error(), "pending") {
		t.Errorf("requeue a pending task: %v", err)
	}

	// With its dead result still there, requeue removes it in the same multi.
	id2 := f.submit("echo", "x")
	f.kill(id2, task.ReasonMaxAttempts)
	f.must(f.q.Requeue(f.ctx, id2))
	if f.exists(f.l.Result(id2)) || !f.exists(f.l.Task(id2)) {
		t.Error("requeue with the dead result present: want the result gone, the task back")
	}

	// A finished task is not dead; an unknown one neither.
	fin := f.submit("echo", "x")
	f.assign(fin, "w1")
	f.finish(fin, "w1")
	if err := f.q.Requeue(f.ctx, fin); !errors.As(err, &nd) || nd.State != coord.StateFinished {
		t.Errorf("requeue a finished task: %v", err)
	}
	if err := f.q.Requeue(f.ctx, f.id()); !errors.Is(err, coord.ErrUnknownTask) || !errors.Is(err, coord.ErrNotDead) {
		t.Errorf("requeue an unknown task: %v", err)
	}
}

// An old client collected the dead result with its payload, or the spec is
// garbage: requeue refuses clearly and loses nothing.
func TestRequeueRefusesWithoutLosingAnything(t *testing.T) {
	f := newFixture(t)
	id := f.submit("echo", "x")
	f.kill(id, task.ReasonMaxAttempts)
	// What a client of the previous protocol does: result and payload.
	_, err := f.c.Multi(f.ctx, zkclient.DeleteOp(f.l.Result(id), -1), zkclient.DeleteOp(f.l.Payload(id), -1))
	f.must(err)
	if err := f.q.Requeue(f.ctx, id); !errors.Is(err, coord.ErrPayloadGone) || !strings.Contains(err.Error(), "payload") {
		t.Errorf("requeue without a payload: %v", err)
	}
	if !f.exists(f.l.DeadLetter(id)) || f.exists(f.l.Task(id)) {
		t.Error("a refused requeue changed the tree")
	}

	g := f.garbage()
	if err := f.q.Requeue(f.ctx, g); !errors.Is(err, coord.ErrNotRequeueable) || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("requeue a malformed task: %v", err)
	}
	if !f.exists(f.l.DeadLetter(g)) || !f.exists(f.l.Result(g)) || !f.exists(f.l.Payload(g)) {
		t.Error("a refused requeue of a malformed task changed the tree")
	}

	unreadable := f.id()
	_, err = f.c.Create(f.ctx, f.l.DeadLetter(unreadable), []byte("garbage"), zk.FlagPersistent)
	f.must(err)
	if err := f.q.Requeue(f.ctx, unreadable); !errors.Is(err, coord.ErrNotRequeueable) {
		t.Errorf("requeue an unreadable dead letter: %v", err)
	}

	// A result beside the dead letter that is not its dead result (only a
	// tool can do that): refuse rather than delete someone's result.
	odd := f.submit("echo", "x")
	f.kill(odd, task.ReasonMaxAttempts)
	_, err = f.c.Set(f.ctx, f.l.Result(odd), []byte(`{"id":"`+string(odd)+`","status":"succeeded"}`), -1)
	f.must(err)
	if err := f.q.Requeue(f.ctx, odd); !errors.Is(err, coord.ErrNotRequeueable) || !strings.Contains(err.Error(), "not its dead result") {
		t.Errorf("requeue beside a foreign result: %v", err)
	}
	if !f.exists(f.l.Result(odd)) || !f.exists(f.l.DeadLetter(odd)) || f.exists(f.l.Task(odd)) {
		t.Error("a refused requeue beside a foreign result changed the tree")
	}
}

// Two requeues, or a requeue and a purge, at the same time: one wins, the
// other says where the task went; the tree is never half-changed.
func TestRequeueRaces(t *testing.T) {
	f := newFixture(t)
	c2 := dial(t, shared.Addr())
	q2 := coord.NewQueue(c2, f.l, 0)
	for round := range 5 {
		id := f.submit("echo", "x")
		f.kill(id, task.ReasonMaxAttempts)
		var errs [2]error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); errs[0] = f.q.Requeue(f.ctx, id) }()
		go func() { defer wg.Done(); errs[1] = q2.Requeue(f.ctx, id) }()
		wg.Wait()
		var nd *coord.NotDeadError
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.As(err, &nd) || nd.State != coord.StatePending:
				t.Errorf("round %d: the losing requeue: %v", round, err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d requeues won: %v", round, won, errs)
		}
	}

	for round := range 5 {
		id := f.submit("echo", "x")
		f.kill(id, task.ReasonMaxAttempts)
		olds, err := coord.FindOld(f.ctx, c2, f.l, coord.StateDead, time.Now().Add(time.Hour))
		f.must(err)
		var reqErr, purgeErr error
		var removed coord.Removed
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); reqErr = f.q.Requeue(f.ctx, id) }()
		go func() {
			defer wg.Done()
			removed, purgeErr = coord.RemoveOld(f.ctx, c2, f.l, olds, 16, func(items [][]zkclient.Op) (map[int]*zkclient.MultiError, error) {
				return c2.Batch(f.ctx, items)
			})
		}()
		wg.Wait()
		f.must(purgeErr)
		back := f.exists(f.l.Task(id))
		switch {
		case reqErr == nil && removed.Removed == 0 && back && f.exists(f.l.Payload(id)):
			// The requeue won; the purge found the dead letter gone.
		case errors.Is(reqErr, coord.ErrUnknownTask) && removed.Removed == 1 && !back && !f.exists(f.l.Payload(id)):
			// The purge won; the requeue found nothing.
		default:
			t.Errorf("round %d: requeue %v, purge %+v, task exists %v", round, reqErr, removed, back)
		}
		if f.exists(f.l.DeadLetter(id)) || f.exists(f.l.Result(id)) {
			t.Errorf("round %d: the dead letter or its result survived", round)
		}
		if removed.Left != 0 {
			t.Errorf("round %d: purge left %d", round, removed.Left)
		}
	}
}

// requeue --dead: every dead letter with the reason, in batches larger
// than one multi holds, and a clear report of those that cannot go.
func TestRequeueDeadInBatches(t *testing.T) {
	f := newFixture(t)
	const n = 300
	want := make(map[task.ID]bool)
	for range n {
		id := f.submit("echo", "x")
		f.kill(id, task.ReasonMaxAttempts)
		want[id] = true
	}
	gone := f.submit("echo", "x")
	f.kill(gone, task.ReasonMaxAttempts)
	f.must(f.c.Delete(f.ctx, f.l.Payload(gone), -1))
	other := f.garbage()

	before := settled(t, f.c)
	var progress []int
	got, err := f.q.RequeueDead(f.ctx, task.ReasonMaxAttempts, func(done int) { progress = append(progress, done) })
	f.must(err)
	used := cost(before, settled(t, f.c))
	if len(got.Requeued) != n || got.Matched != n+1 {
		t.Fatalf("requeued %d of %d matched, want %d of %d; failed %v", len(got.Requeued), got.Matched, n, n+1, got.Failed)
	}
	for _, id := range got.Requeued {
		if !want[id] {
			t.Errorf("requeued %s, which was not asked for", id)
		}
	}
	if msg := got.Failed[string(gone)]; len(got.Failed) != 1 || !strings.Contains(msg, "payload") {
		t.Errorf("failed %v; want only %s, its payload gone", got.Failed, gone)
	}
	if len(progress) < 2 || progress[len(progress)-1] != n {
		t.Errorf("progress %v", progress)
	}
	// Reads (2 per dead letter, the listing, the retry of the bad one) and
	// a handful of multis, not one transaction per task.
	t.Logf("requeue of %d dead letters: %d requests", n, used.Requests)
	if used.Requests > 2*n+256+64 {
		t.Errorf("%d requests for %d dead letters", used.Requests, n)
	}
	pending := f.list(coord.ListOptions{State: coord.StatePending})
	if pending.Total != n {
		t.Errorf("%d pending after requeue, want %d", pending.Total, n)
	}
	if !f.exists(f.l.DeadLetter(other)) || !f.exists(f.l.DeadLetter(gone)) {
		t.Error("a dead letter that did not match, or could not go, is gone")
	}
	// Without a reason: the malformed one is reported, not requeued.
	all, err := f.q.RequeueDead(f.ctx, "", nil)
	f.must(err)
	if len(all.Requeued) != 0 || len(all.Failed) != 2 || !strings.Contains(all.Failed[string(other)], "malformed") {
		t.Errorf("requeue --dead, no reason: %+v", all)
	}
}

// purge and expire: results with their payloads; a dead result without
// it while its dead letter exists; a dead letter with its payload and its
// dead result; nothing younger than the cutoff.
func TestFindOldAndRemove(t *testing.T) {
	f := newFixture(t)
	fin := f.submit("echo", "x")
	f.assign(fin, "w1")
	f.finish(fin, "w1")
	dead := f.submit("echo", "x")
	f.kill(dead, task.ReasonMaxAttempts)
	collected := f.submit("echo", "x")
	f.kill(collected, task.ReasonMaxAttempts)
	f.must(f.q.Collect(f.ctx, collected, task.Dead))
	f.submit("echo", "pending: never purged")

	if olds, err := coord.FindOld(f.ctx, f.c, f.l, coord.StateFinished, time.Now().Add(-time.Hour)); err != nil || len(olds) != 0 {
		t.Fatalf("results older than an hour: %v %v", olds, err)
	}
	if _, err := coord.FindOld(f.ctx, f.c, f.l, coord.StatePending, time.Now()); err == nil {
		t.Error("FindOld of pending tasks accepted")
	}
	future := time.Now().Add(time.Hour)
	results, err := coord.FindOld(f.ctx, f.c, f.l, coord.StateFinished, future)
	f.must(err)
	if len(results) != 2 || results[0].ID != fin || !results[0].Payload || results[0].DeadLetter ||
		results[1].ID != dead || results[1].Payload || !results[1].DeadLetter {
		t.Fatalf("old results %+v", results)
	}
	apply := func(items [][]zkclient.Op) (map[int]*zkclient.MultiError, error) { return f.c.Batch(f.ctx, items) }
	done, err := coord.RemoveOld(f.ctx, f.c, f.l, results, 1, apply)
	f.must(err)
	if done.Removed != 2 || done.Left != 0 {
		t.Errorf("removed %+v", done)
	}
	if f.exists(f.l.Payload(fin)) || !f.exists(f.l.Payload(dead)) || !f.exists(f.l.DeadLetter(dead)) {
		t.Error("purge --finished: want the result's payload gone, the dead letter's kept")
	}

	f.kill(f.submit("echo", "x"), task.ReasonMaxAttempts) // with its dead result
	deads, err := coord.FindOld(f.ctx, f.c, f.l, coord.StateDead, future)
	f.must(err)
	if len(deads) != 3 || !deads[2].Result || deads[0].Result || !deads[0].Payload {
		t.Fatalf("old dead letters %+v", deads)
	}
	done, err = coord.RemoveOld(f.ctx, f.c, f.l, deads, 2, apply)
	f.must(err)
	if done.Removed != 3 {
		t.Errorf("removed %+v", done)
	}
	tr := f.list(coord.ListOptions{State: coord.StateFinished})
	dl := f.list(coord.ListOptions{State: coord.StateDead})
	pending := f.list(coord.ListOptions{State: coord.StatePending})
	names, _, err := f.c.Children(f.ctx, f.l.Data()+"/"+pending.Tasks[0].ID.Shard())
	f.must(err)
	if tr.Total != 0 || dl.Total != 0 || pending.Total != 1 || len(names) != 1 {
		t.Errorf("after purging everything: %d results, %d dead letters, %d pending, %v payloads in its shard", tr.Total, dl.Total, pending.Total, names)
	}
}

// A removal whose znodes changed since they were found is looked at
// again: a collected result is dropped, a dead letter requeued is left.
func TestRemoveOldLooksAgainAfterAChange(t *testing.T) {
	f := newFixture(t)
	a := f.submit("echo", "x")
	f.assign(a, "w1")
	f.finish(a, "w1")
	b := f.submit("echo", "x")
	f.kill(b, task.ReasonMaxAttempts)
	future := time.Now().Add(time.Hour)
	results, err := coord.FindOld(f.ctx, f.c, f.l, coord.StateFinished, future)
	f.must(err)
	// Meanwhile a client collects a, and b's dead letter is purged, which
	// gives b's result its payload back.
	f.must(f.q.Collect(f.ctx, a, task.Succeeded))
	f.must(f.c.Delete(f.ctx, f.l.DeadLetter(b), -1))
	done, err := coord.RemoveOld(f.ctx, f.c, f.l, results, 10, func(items [][]zkclient.Op) (map[int]*zkclient.MultiError, error) {
		return f.c.Batch(f.ctx, items)
	})
	f.must(err)
	if done.Removed != 1 || done.Left != 0 {
		t.Errorf("%+v: want b removed on the second look, a dropped", done)
	}
	if f.exists(f.l.Result(b)) || f.exists(f.l.Payload(b)) {
		t.Error("b's result or payload survived")
	}
}

// Collecting a dead result whose dead letter has gone (an older master
// expired it alone) takes the payload, as a plain collect does.
func TestCollectDeadWithoutDeadLetter(t *testing.T) {
	f := newFixture(t)
	id := f.submit("echo", "x")
	f.kill(id, task.ReasonMaxAttempts)
	f.must(f.c.Delete(f.ctx, f.l.DeadLetter(id), -1))
	f.must(f.q.Collect(f.ctx, id, task.Dead))
	if f.exists(f.l.Result(id)) || f.exists(f.l.Payload(id)) {
		t.Error("result or payload left")
	}
	f.must(f.q.Collect(f.ctx, id, task.Dead)) // twice is harmless
}

// A listing with more records to read than coord.ForkAbove spreads them
// over more connections, and still returns every task in order.
func TestListOverSeveralConnections(t *testing.T) {
	f := newFixture(t)
	const n = coord.ForkAbove + 500
	items := make([][]zkclient.Op, n)
	want := make([]task.ID, n)
	for i := range items {
		want[i] = f.id()
		ops, err := f.q.SubmitOps(want[i], spec("echo"), []byte("x"))
		f.must(err)
		items[i] = ops
	}
	f.must(zkclient.InChunks(n, 500, 0, nil, func(lo, hi int) error {
		_, err := f.c.Batch(f.ctx, items[lo:hi])
		return err
	}))
	before := f.c.Stats().Requests
	got := f.list(coord.ListOptions{State: coord.StatePending, Conns: 3})
	sameIDs(t, "pending over 3 connections", ids(got.Tasks), want)
	// This client made the listings; the forks read most records.
	if used := f.c.Stats().Requests - before; used > n/2 {
		t.Errorf("the first connection made %d of the %d reads", used, n)
	}
}
