package coord_test

import (
	"maps"
	"testing"

	"github.com/paddock-zk/paddock/internal/coord"
)

// Several leaders each publish their own waiting kinds; status adds up the
// current ones and leaves out a record whose partitions were taken over
// since, and, back to one leader, every record of the several.
func TestWaitingOfSeveralLeaders(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	publish := func(name string, parts []int, kinds map[string]int) {
		t.Helper()
		f, err := coord.TakeOver(ctx, c, l, candidate(t, c, l), name, parts)
		if err != nil {
			t.Fatal(err)
		}
		if err := coord.NewLeader(c, l, f, name).PublishWaiting(ctx, coord.Waiting{Kinds: kinds}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(kinds map[string]int) {
		t.Helper()
		st, err := coord.ReadStatus(ctx, c, l)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(st.WaitingForKind, kinds) {
			t.Fatalf("waiting for kind: %v, want %v", st.WaitingForKind, kinds)
		}
	}
	publish("even", []int{0, 2, 4}, map[string]int{"gpu": 2, "ocr": 1})
	publish("odd", []int{1, 3}, map[string]int{"gpu": 3})
	want(map[string]int{"gpu": 5, "ocr": 1})

	// Partition 4 taken over by another: "even"'s record is stale.
	publish("thief", []int{4}, map[string]int{})
	want(map[string]int{"gpu": 3})

	// One leader again: only its own record counts.
	publish("all", coord.AllPartitions(), map[string]int{"pdf": 7})
	want(map[string]int{"pdf": 7})
}
