package task

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewIDRoundTrip(t *testing.T) {
	now := time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.UTC)
	id := NewID(now)
	if len(id) != idLen {
		t.Fatalf("NewID = %q, want %d characters", id, idLen)
	}
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseID(%q) = %q, %v; want the id back", id, got, err)
	}
	if want := now.Truncate(time.Millisecond); !id.SubmittedAt().Equal(want) {
		t.Errorf("SubmittedAt = %v, want %v", id.SubmittedAt(), want)
	}
}

func TestNewIDUnique(t *testing.T) {
	now := time.Now()
	seen := make(map[ID]bool)
	for range 1000 {
		id := NewID(now)
		if seen[id] {
			t.Fatalf("NewID repeated %q for the same instant", id)
		}
		seen[id] = true
	}
}

func TestParseIDRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"0194f3a1b2c",              // time part only
		"0194f3a1b2c3d4e5f6a7b",    // one digit too many
		"0194f3a1b2c3d4e5f6a",      // one too few
		"0194F3A1B2C3D4E5F6A7",     // uppercase
		"0194f3a1b2c3d4e5f6ag",     // not hex
		"0194f3a1b2c3d4e5f6a ",     // space
		"0194f3a1b2c3d4e5f6\u00e9", // right byte length, not ASCII
		"../../../../etc/pass",     // a path of the right length
	} {
		if id, err := ParseID(s); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q) = %q, %v; want ErrBadID", s, id, err)
		}
	}
}

func TestShard(t *testing.T) {
	shards := Shards()
	if len(shards) != 256 || shards[0] != "00" || shards[255] != "ff" || !slices.IsSorted(shards) {
		t.Fatalf("Shards() = %v..., want 00 through ff in order", shards[:3])
	}
	for range 100 {
		id := NewID(time.Now())
		want := string(id[len(id)-2:])
		if id.Shard() != want {
			t.Fatalf("%q.Shard() = %q, want its last two digits %q", id, id.Shard(), want)
		}
		if _, ok := slices.BinarySearch(shards, id.Shard()); !ok {
			t.Fatalf("%q.Shard() = %q is not in Shards()", id, id.Shard())
		}
	}
}

func TestIDOrderFollowsTime(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{
		time.UnixMilli(0),
		time.UnixMilli(15), // crosses a hex digit: 0x0f -> 0x10
		time.UnixMilli(16),
		base,
		base.Add(time.Millisecond),
		base.Add(time.Second),
		base.Add(365 * 24 * time.Hour),
		time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var ids []string
	for _, tm := range times {
		ids = append(ids, NewID(tm).String())
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids of increasing times are not in lexical order:\n%s", strings.Join(ids, "\n"))
	}
}

func BenchmarkNewID(b *testing.B) {
	now := time.Now()
	for b.Loop() {
		NewID(now)
	}
}

func BenchmarkParseID(b *testing.B) {
	s := NewID(time.Now()).String()
	for b.Loop() {
		if _, err := ParseID(s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIDSourceKeepsAShardForABurst(t *testing.T) {
	var src IDSource
	now := time.Now()
	shards := map[string]int{}
	seen := map[ID]bool{}
	for range 4 * ShardRun {
		id := src.Next(now)
		if _, err := ParseID(string(id)); err != nil {
			t.Fatal(err)
		}
		if id.SubmittedAt().UnixMilli() != now.UnixMilli() {
			t.Fatalf("%s: submitted at %v, want %v", id, id.SubmittedAt(), now)
		}
		if seen[id] {
			t.Fatalf("%s drawn twice", id)
		}
		seen[id] = true
		shards[id.Shard()]++
	}
	// Four runs in one instant: each shard drawn holds whole runs (two
	// runs may draw the same shard).
	for sh, n := range shards {
		if n%ShardRun != 0 {
			t.Errorf("shard %s holds %d ids, not whole runs of %d", sh, n, ShardRun)
		}
	}
	// Ids further apart than the window draw their shards afresh: 64 of
	// them, one per window, do not all land in one shard.
	clear(shards)
	for i := range ShardRun {
		shards[src.Next(now.Add(time.Duration(i+1)*2*ShardWindow)).Shard()]++
	}
	if len(shards) < 2 {
		t.Errorf("ids spaced out in time all drew one shard: %v", shards)
	}
}
