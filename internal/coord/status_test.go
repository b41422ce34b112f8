package coord_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// The submitted and ended counters rest on a ZooKeeper rule: a parent's
// cversion moves by one on every child create and every child delete, and
// not on a child's setData nor on a failed multi. This checks the rule on
// the real server through Paddock's own multis (submit, assign, complete,
// cancel, dead-letter), and that it survives a server restart (the stat is
// rebuilt from the snapshot and the transaction log).
func TestStatusCountsSubmittedAndEnded(t *testing.T) {
	ctx := ctxT(t)
	srv := zktest.Start(t)
	c := dial(t, srv.Addr())
	l := layoutFor(t, c)
	q := coord.NewQueue(c, l, 0)
	if _, err := c.Create(ctx, l.AssignDir("w"), nil, zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	ids := make([]task.ID, 6)
	for i := range ids {
		ids[i] = task.NewID(time.Now())
		if err := q.Submit(ctx, ids[i], spec("echo"), nil); err != nil {
			t.Fatal(err)
		}
	}
	assign := func(id task.ID) int32 {
		s, st, err := q.Spec(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s.Attempts, s.Worker = 1, "w"
		ops, err := q.AssignOps(id, st.Version, s, task.Assignment{Kind: "echo", Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Multi(ctx, ops...); err != nil {
			t.Fatal(err)
		}
		_, ast, err := c.Get(ctx, l.Assignment("w", id))
		if err != nil {
			t.Fatal(err)
		}
		return ast.Version
	}
	// Two complete, one is cancelled, one dead-lettered, two stay pending.
	for _, id := range ids[:2] {
		v := assign(id)
		r := task.Result{ID: id, Kind: "echo", Status: task.Succeeded, Worker: "w", Attempts: 1, FinishedAt: time.Now()}
		if _, err := q.Complete(ctx, "w", v, 0, r); err != nil {
			t.Fatal(err)
		}
		// A second completion fails its multi: nothing changes.
		if _, err := q.Complete(ctx, "w", v, 0, r); !errors.Is(err, coord.ErrRevoked) {
			t.Fatalf("second completion: %v", err)
		}
	}
	if _, err := q.Cancel(ctx, ids[2], "test"); err != nil {
		t.Fatal(err)
	}
	assign(ids[3])
	_, st, err := q.Spec(ctx, ids[3])
	if err != nil {
		t.Fatal(err)
	}
	d := task.DeadLetter{ID: ids[3], Reason: task.ReasonMaxAttempts, Detail: "killed its workers", Attempts: 3, At: time.Now().UTC()}
	ops, err := q.DeadLetterOps(ids[3], st.Version, "w", d, task.Result{ID: ids[3], Kind: "echo", Status: task.Dead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(ctx, ops...); err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		var got coord.Status
		// Right after a restart the client may still be reconnecting.
		eventually(t, 30*time.Second, "a status reading", func() bool {
			got, err = coord.ReadStatus(ctx, c, l)
			return err == nil
		})
		if got.Submitted != 6 || got.Ended != 4 || got.Pending != 2 || got.Running != 0 || got.Finished != 4 || got.Dead != 1 {
			t.Fatalf("%s: submitted %d ended %d pending %d running %d finished %d dead %d; want 6 4 2 0 4 1",
				when, got.Submitted, got.Ended, got.Pending, got.Running, got.Finished, got.Dead)
		}
		if len(got.RecentDead) != 1 || got.RecentDead[0].ID != string(ids[3]) || got.RecentDead[0].Reason != task.ReasonMaxAttempts ||
			got.RecentDead[0].Detail != "killed its workers" || got.RecentDead[0].Attempts != 3 {
			t.Fatalf("%s: recent dead letters %+v", when, got.RecentDead)
		}
	}
	check("before a restart")
	srv.Restart(t)
	check("after a restart")
}

// ReadStatus shows the newest RecentDeadMax dead letters, newest first,
// and says so when a record is garbage.
func TestStatusRecentDead(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	start := time.Now().Add(-time.Hour)
	var ids []task.ID
	for i := range 15 {
		at := start.Add(time.Duration(i) * time.Minute)
		id := task.NewID(at)
		ids = append(ids, id)
		b, err := json.Marshal(task.DeadLetter{ID: id, Reason: task.ReasonMalformed, Detail: fmt.Sprintf("dead %d", i), At: at.UTC(), Spec: "garbage"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create(ctx, l.DeadLetter(id), b, zk.FlagPersistent); err != nil {
			t.Fatal(err)
		}
	}
	garbage := task.NewID(time.Now())
	if _, err := c.Create(ctx, l.DeadLetter(garbage), []byte("{not json"), zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	st, err := coord.ReadStatus(ctx, c, l)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dead != 16 || len(st.RecentDead) != coord.RecentDeadMax {
		t.Fatalf("dead %d, %d recent; want 16, %d", st.Dead, len(st.RecentDead), coord.RecentDeadMax)
	}
	// The garbage has no time: it sorts last, after the 9 newest good ones.
	for i, d := range st.RecentDead[:coord.RecentDeadMax-1] {
		want := ids[len(ids)-1-i]
		if d.ID != string(want) || d.Detail != fmt.Sprintf("dead %d", len(ids)-1-i) || d.Reason != task.ReasonMalformed {
			t.Fatalf("recent dead %d is %+v, want %s", i, d, want)
		}
	}
	if last := st.RecentDead[coord.RecentDeadMax-1]; last.ID != string(garbage) || last.Reason != "unreadable" {
		t.Fatalf("the garbage record shows as %+v", last)
	}
	b, err := json.Marshal(st.RecentDead[0])
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["spec"]; ok {
		t.Fatalf("a recent dead letter carries the task's data: %s", b)
	}
}

// ReadStatus's cost is a fixed number of requests for a given set of
// processes and roles, whatever the number of tasks: the formula in its
// doc comment, checked here.
func TestStatusRequests(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	mk := func(p string, v any, flags int32) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create(ctx, p, b, flags); err != nil {
			t.Fatal(err)
		}
	}
	const masters, workers, roles, holders, applicants = 2, 3, 2, 1, 1
	for i := range masters {
		mk(l.Master()+"/candidate-0000000000000000-", recipe.Self(fmt.Sprintf("m%d", i)), zk.FlagEphemeral|zk.FlagSequence)
	}
	for i := range workers {
		w := fmt.Sprintf("w%d", i)
		mk(l.Worker(w), coord.WorkerInfo{Member: recipe.Self(w), Concurrency: 4}, zk.FlagEphemeral)
		mk(l.AssignDir(w), nil, zk.FlagPersistent)
	}
	rm := recipe.NewRoleMatch(c, l.Roles())
	for i := range roles {
		if err := rm.Add(ctx, fmt.Sprintf("r%d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	mk(rm.HoldersDir(), nil, zk.FlagPersistent)
	mk(rm.HolderPath("r0"), recipe.RoleHolder{Holder: "w0", Since: time.Now()}, zk.FlagEphemeral)
	mk(rm.ApplicantsDir(), nil, zk.FlagPersistent)
	mk(rm.ApplicantsDir()+"/candidate-0000000000000000-", recipe.Self("w1"), zk.FlagEphemeral|zk.FlagSequence)
	deadShards := map[string]bool{}
	for range 3 {
		id := task.NewID(time.Now())
		deadShards[id.Shard()] = true
		mk(l.DeadLetter(id), task.DeadLetter{ID: id, Reason: task.ReasonMalformed}, zk.FlagPersistent)
	}

	q := coord.NewQueue(c, l, 0)
	want := int64(2+masters) + int64(1+2*workers+1+workers) + 3*256 + int64(len(deadShards)+3) + int64(3+roles+holders+applicants) + 1 + coord.Partitions // + waiting, partitions
	for _, tasks := range []int{10, 300} {
		if err := zkclient.Pipeline(tasks-mustStatus(t, c, l).Pending, func(int) error {
			return q.Submit(ctx, task.NewID(time.Now()), spec("echo"), nil)
		}); err != nil {
			t.Fatal(err)
		}
		before := c.Stats().Requests
		st := mustStatus(t, c, l)
		if got := c.Stats().Requests - before; got != want {
			t.Errorf("with %d tasks: %d requests, want %d", tasks, got, want)
		}
		if st.Pending != tasks || st.Leader == nil || len(st.Backups) != masters-1 || len(st.Workers) != workers ||
			len(st.Roles) != roles || st.Roles[0].Holder != "w0" || len(st.Applicants) != applicants || len(st.RecentDead) != 3 {
			t.Fatalf("with %d tasks: %+v", tasks, st)
		}
	}
}

func mustStatus(t *testing.T, c *zkclient.Client, l coord.Layout) coord.Status {
	t.Helper()
	st, err := coord.ReadStatus(ctxT(t), c, l)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A persistent znode named like a candidate, at the front of the line, is
// not a master (the election skips it): status names the master behind it
// as the leader, not "(unreadable ...)" taking over for ever.
func TestStatusSkipsPersistentCandidates(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	sess, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, l.Master()+"/candidate-ffffffffffffffff-0000000000", []byte("not a master"), zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	me, _ := json.Marshal(recipe.Member{ID: "m1"})
	if _, err := recipe.NewLeaderQueue(c, l.Master()).Join(ctx, sess, me); err != nil { // behind it: sequence 1
		t.Fatal(err)
	}
	st, err := coord.ReadStatus(ctx, c, l)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader == nil || st.Leader.ID != "m1" || len(st.Backups) != 0 {
		t.Fatalf("leader %+v, backups %+v; want m1 and none", st.Leader, st.Backups)
	}
}
