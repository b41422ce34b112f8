package master

import (
	"reflect"
	"testing"

	"github.com/paddock-zk/paddock/internal/task"
)

func kinds(ks ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range ks {
		m[k] = true
	}
	return m
}

func TestPlaceSpreadsByLoadAndRoutesByKind(t *testing.T) {
	workers := []*Slots{
		{Worker: "b", Free: 2, Load: 0, Cap: 2, Kinds: kinds("echo", "sleep")},
		{Worker: "a", Free: 4, Load: 0, Cap: 4, Kinds: kinds("echo", "sleep", "exec")},
	}
	wants := []Want{{"t1", "echo"}, {"t2", "echo"}, {"t3", "exec"}, {"t4", "echo"}, {"t5", "exec"}, {"t6", "echo"}, {"t7", "echo"}}
	placed, unplaced := Place(wants, workers, 0)
	got := map[task.ID]string{}
	for _, p := range placed {
		got[p.ID] = p.Worker
	}
	want := map[task.ID]string{"t1": "a", "t2": "b", "t3": "a", "t4": "a", "t5": "a", "t6": "b"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("placed %v, want %v", got, want)
	}
	if len(unplaced) != 1 || unplaced[0].ID != "t7" {
		t.Fatalf("unplaced %v", unplaced)
	}
}

func TestPlaceNeverSendsAKindToAWorkerThatDoesNotRunIt(t *testing.T) {
	workers := []*Slots{{Worker: "a", Free: 1, Cap: 1, Kinds: kinds("echo")}}
	placed, unplaced := Place([]Want{{"t1", "nosuch"}}, workers, 0)
	if len(placed) != 0 || len(unplaced) != 1 {
		t.Fatalf("a kind no worker runs must wait, not fail on a worker: %v %v", placed, unplaced)
	}
}

func TestPlaceWaitsForTheWorkerThatRunsTheKind(t *testing.T) {
	workers := []*Slots{
		{Worker: "plain", Free: 3, Cap: 3, Kinds: kinds("echo")},
		{Worker: "execer", Free: 0, Load: 1, Cap: 1, Kinds: kinds("echo", "exec")},
	}
	placed, unplaced := Place([]Want{{"t1", "exec"}, {"t2", "echo"}}, workers, 1)
	if len(placed) != 1 || placed[0].ID != "t2" || len(unplaced) != 1 || unplaced[0].ID != "t1" {
		t.Fatalf("placed %v unplaced %v", placed, unplaced)
	}
}

func TestPlaceWaitsForABusyWorkerThatRunsTheKind(t *testing.T) {
	// The only exec worker is busy (so absent from the slots): exec tasks
	// wait for it rather than failing on a worker that cannot run them.
	workers := []*Slots{{Worker: "plain", Free: 4, Cap: 4, Kinds: kinds("echo")}}
	placed, unplaced := Place([]Want{{"t1", "exec"}}, workers, 0)
	if len(placed) != 0 || len(unplaced) != 1 {
		t.Fatalf("placed %v", placed)
	}
}

func TestPlaceRotatesTiesSoShortTasksSpread(t *testing.T) {
	seen := map[string]int{}
	for turn := range 4 {
		workers := []*Slots{{Worker: "a", Free: 1, Cap: 4, Kinds: kinds("echo")}, {Worker: "b", Free: 1, Cap: 4, Kinds: kinds("echo")}}
		placed, _ := Place([]Want{{"t", "echo"}}, workers, turn)
		seen[placed[0].Worker]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Fatalf("ties always went the same way: %v", seen)
	}
}

func TestPendingIsFIFOAndDeduplicates(t *testing.T) {
	p := newPending()
	a, b, c := task.ID("1a21ea6ef56a226d8009"), task.ID("1a21ea6ef56ab11fd6fb"), task.ID("1a21ea6ef57627c39854")
	for _, id := range []task.ID{c, a, b, a} {
		p.Push(id)
	}
	p.Remove(b)
	if old, _ := p.Oldest(); old != a {
		t.Fatalf("oldest %v", old)
	}
	if got := p.Pop(10); !reflect.DeepEqual(got, []task.ID{a, c}) {
		t.Fatalf("popped %v", got)
	}
	if p.Len() != 0 {
		t.Fatal("not empty")
	}
}

func BenchmarkPlace(b *testing.B) {
	workers := make([]*Slots, 16)
	for i := range workers {
		workers[i] = &Slots{Worker: string(rune('a' + i)), Cap: 16, Kinds: kinds("echo", "sleep")}
	}
	wants := make([]Want, 256)
	for i := range wants {
		wants[i] = Want{ID: task.ID(rune(i)), Kind: "echo"}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, w := range workers {
			w.Free, w.Load = 16, 0
		}
		Place(wants, workers, 0)
	}
}
