package coord_test

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// Each refusal of a leader's write names, in the protocol's terms, what
// the master must do: forget the task, read it again, wait for the
// worker's directory, or leave it to the next change.
func TestLeaderRefusalsSayWhatMoved(t *testing.T) {
	f := newFixture(t)
	ld := leaderOf(t, f.c, f.l)
	read := func(id task.ID) coord.TaskRecord {
		t.Helper()
		recs, err := ld.ReadTasks(f.ctx, []task.ID{id})
		if err != nil {
			t.Fatal(err)
		}
		return recs[id]
	}
	apply := func(it coord.Item, err error) error {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		failed, err := ld.Apply(f.ctx, []coord.Item{it})
		if err != nil {
			t.Fatal(err)
		}
		return failed[0]
	}
	now := time.Now().UTC()
	if err := coord.CreateAssignDir(f.ctx, f.c, f.l, "w"); err != nil {
		t.Fatal(err)
	}

	gone := f.submit("echo", "x")
	rec := read(gone)
	if _, err := f.q.Cancel(f.ctx, gone, "test"); err != nil {
		t.Fatal(err)
	}
	if err := apply(ld.Assign(rec, "w", now)); !errors.Is(err, coord.ErrTaskGone) {
		t.Errorf("assigning a cancelled task: %v, want ErrTaskGone", err)
	}

	moved := f.submit("echo", "x")
	stale := read(moved)
	if err := apply(ld.Assign(stale, "w", now)); err != nil {
		t.Fatal(err)
	}
	if err := apply(ld.Assign(stale, "w", now)); !errors.Is(err, coord.ErrTaskChanged) {
		t.Errorf("assigning at a stale version: %v, want ErrTaskChanged", err)
	}
	if err := apply(ld.Unassign(read(moved), "nobody")); !errors.Is(err, coord.ErrUnassigned) {
		t.Errorf("taking back from a worker that does not hold it: %v, want ErrUnassigned", err)
	}

	homeless := f.submit("echo", "x")
	if err := apply(ld.Assign(read(homeless), "no-dir", now)); !errors.Is(err, coord.ErrNoAssignDir) {
		t.Errorf("assigning to a worker without a directory: %v, want ErrNoAssignDir", err)
	}

	finished := f.submit("echo", "x")
	fin := read(finished)
	if _, err := f.c.Create(f.ctx, f.l.Result(finished), []byte(`{"status":"succeeded"}`), zk.FlagPersistent); err != nil { // another tool's result
		t.Fatal(err)
	}
	err := apply(ld.DeadLetter(fin, "", task.ReasonMalformed, "test", now))
	var r *coord.Refusal
	if !errors.Is(err, coord.ErrConflict) || !errors.As(err, &r) || r.Op.Path != f.l.Result(finished) {
		t.Errorf("dead-lettering a task whose result exists: %v, want ErrConflict at its result", err)
	}
	if st, _ := f.c.Exists(f.ctx, f.l.Task(finished)); st == nil {
		t.Error("a refused dead letter changed the tree")
	}

	// A shared slot: "w"'s directory was listed at version 0; the first
	// assignment at that version takes the slot, a second at the same
	// version finds it taken, and one at the version now goes through.
	if err := coord.CreateAssignDir(f.ctx, f.c, f.l, "shared"); err != nil {
		t.Fatal(err)
	}
	first, second := f.submit("echo", "x"), f.submit("echo", "x")
	if err := apply(ld.AssignShared(read(first), "shared", now, 0)); err != nil {
		t.Fatal(err)
	}
	late := read(second)
	if err := apply(ld.AssignShared(late, "shared", now, 0)); !errors.Is(err, coord.ErrSlotTaken) {
		t.Errorf("assigning to a shared worker at a stale listing: %v, want ErrSlotTaken", err)
	}
	if err := apply(ld.AssignShared(late, "shared", now, 1)); err != nil {
		t.Errorf("assigning to a shared worker at its current version: %v", err)
	}
}
