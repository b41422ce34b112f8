package coord_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
)

// Paddock's own znodes that a tool or another language's client may write:
// worker registrations, the epoch, and the values of the live settings.
// Each fuzz target checks that a decoder never panics, that what it refuses
// wraps task.ErrMalformed (settings: a plain error that names the value),
// and, where it holds, that what it accepts survives a round trip. `make
// test` runs the seeds (f.Add and testdata/fuzz); `make fuzz` explores.

var fuzzTime = time.Date(2026, 11, 27, 12, 0, 0, 123000000, time.UTC)

// seedRecords adds each record, encoded, a few kinds of damage to it, and
// bytes that are no record at all.
func seedRecords(f *testing.F, records ...any) {
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add([]byte(strings.ReplaceAll(string(b), `"`, `'`)))
	}
	for _, s := range []string{"", "null", "{}", "[]", "42", `"text"`, "{\"id\":\"\xff\",\"concurrency\":1}",
		`{"concurrency":0}`, `{"concurrency":9223372036854775807}`, `{"epoch":-1}`, `{"since":"2026-11-21 11:24:21Z"}`} {
		f.Add([]byte(s))
	}
}

// sameRecord compares records through their JSON: equal instants may differ
// in location.
func sameRecord(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// roundTrip checks that v, encoded and decoded again, is unchanged. A value
// encoding/json cannot write (a time past year 9999) has no round trip.
func roundTrip[T any](t *testing.T, v T, decode func([]byte) (T, error)) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	back, err := decode(b)
	if err != nil {
		t.Fatalf("%+v encodes to %q, which does not decode: %v", v, b, err)
	}
	if !sameRecord(back, v) {
		t.Fatalf("round trip changed\n%+v\ninto\n%+v", v, back)
	}
}

func FuzzDecodeWorkerInfo(f *testing.F) {
	seedRecords(f, coord.WorkerInfo{Member: recipe.Member{ID: "w1", Host: "node-3", PID: 5151, Started: fuzzTime},
		Concurrency: 4, Kinds: []string{"echo", "sleep"}, Version: "v1", Draining: true})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := coord.DecodeWorkerInfo(b)
		if err != nil {
			if !errors.Is(err, task.ErrMalformed) {
				t.Fatalf("%q: %v does not wrap task.ErrMalformed", b, err)
			}
			return
		}
		if w.Concurrency < 1 {
			t.Fatalf("%q: accepted concurrency %d", b, w.Concurrency)
		}
		roundTrip(t, w, coord.DecodeWorkerInfo)
	})
}

func FuzzDecodeEpoch(f *testing.F) {
	seedRecords(f, coord.Epoch{}, coord.Epoch{Epoch: 2, Leader: "m1", Since: fuzzTime})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := coord.DecodeEpoch(b)
		if err != nil {
			if !errors.Is(err, task.ErrMalformed) {
				t.Fatalf("%q: %v does not wrap task.ErrMalformed", b, err)
			}
			return
		}
		roundTrip(t, e, coord.DecodeEpoch)
	})
}

func FuzzParseConcurrency(f *testing.F) {
	for _, s := range []string{"1", "8", "10000", "10001", "0", "-1", "+5", "007", " 8", "8.0", "1e3", "", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n, err := coord.ParseConcurrency(v)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(v)) {
				t.Fatalf("%q: the error %q does not show the value", v, err)
			}
			return
		}
		if n < 1 || n > 10000 {
			t.Fatalf("%q: accepted %d", v, n)
		}
		if back, err := coord.ParseConcurrency(strconv.Itoa(n)); err != nil || back != n {
			t.Fatalf("%q: %d written back reads as %d, %v", v, n, back, err)
		}
	})
}

func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{"24h", "30m", "1.5h", "1h2m3s", "0", "0s", "-1h", "1", "h", "9223372036854775807ns",
		"2562047h47m16.854775807s", "2562048h", ".5s", "1µs", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := coord.ParseRetention(v)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(v)) {
				t.Fatalf("%q: the error %q does not show the value", v, err)
			}
			return
		}
		if d <= 0 {
			t.Fatalf("%q: accepted %v", v, d)
		}
		if back, err := coord.ParseRetention(d.String()); err != nil || back != d {
			t.Fatalf("%q: %v written back reads as %v, %v", v, d, back, err)
		}
	})
}

func FuzzCheckSetting(f *testing.F) {
	for _, kv := range [][2]string{{coord.KeyWorkerConcurrency, "8"}, {coord.KeyMasterRetention, "12h"},
		{coord.KeyMasterDeadRetention, "0"}, {"worker.Concurrency", "8"}, {"", ""}, {"nosuch", "1"},
		{"retry.email", "max=5,initial=1s"}, {"retry.Email", "3"}, {"retry.", "3"}, {"retry.echo", `{"max_retries":2}`}} {
		f.Add(kv[0], kv[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		err := coord.CheckSetting(key, value)
		known := coord.KnownSetting(key)
		switch {
		case !known && err == nil:
			t.Fatalf("accepted the unknown setting %q", key)
		case err != nil && !strings.Contains(err.Error(), strconv.Quote(key)) && !strings.HasPrefix(err.Error(), key+": "):
			t.Fatalf("%q=%q: the error %q does not name the setting", key, value, err)
		}
	})
}
