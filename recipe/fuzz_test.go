package recipe

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The recipes read znodes that any tool or any language's client may have
// written: candidates, config znodes, role items and holders, discovery
// entries and the names of sequential children. Each fuzz target checks
// that a decoder never panics, that what it refuses wraps the package's
// error for bad data, and, where it holds, that what it accepts survives
// an encode/decode round trip unchanged. `make test` runs the seeds (f.Add
// and testdata/fuzz); `make fuzz` explores.

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
	for _, s := range []string{"", "null", "{}", "[]", "42", `"text"`, "{\"name\":\"\xff\"}", `{"a":1,"a":2}`,
		`{"started":"2026-11-21 11:24:21Z"}`, `{"item":1e3}`, "# yaml\nkey: value\n"} {
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

// sameValue compares metadata as JSON values: YAML reads 1 as an int,
// JSON as a float64, and -0 as 0.
func sameValue(a, b any) bool {
	var x, y any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return json.Unmarshal(ja, &x) == nil && json.Unmarshal(jb, &y) == nil && reflect.DeepEqual(x, y)
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

// malformed fails t unless err wraps want.
func malformed(t *testing.T, b []byte, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%q: %v does not wrap %v", b, err, want)
	}
}

func FuzzDecodeMember(f *testing.F) {
	seedRecords(f, Member{ID: "m1", Host: "node-1", PID: 4242, Started: fuzzTime})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMember(b)
		if err != nil {
			malformed(t, b, err, ErrMalformed)
			return
		}
		roundTrip(t, m, DecodeMember)
	})
}

func FuzzDecodeRoleHolder(f *testing.F) {
	seedRecords(f, RoleHolder{Holder: "w1", Since: fuzzTime, Item: 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeRoleHolder(b)
		if err != nil {
			malformed(t, b, err, ErrMalformed)
			return
		}
		roundTrip(t, h, DecodeRoleHolder)
	})
}

func FuzzDecodeRoleItem(f *testing.F) {
	seedRecords(f, roleItem{Name: "shard-7", Data: `["my-shard","--id","7"]`}, roleItem{Name: "leader-duty"},
		roleItem{Name: "..", Data: "x"})
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decodeRoleItem(b)
		if err != nil {
			malformed(t, b, err, ErrMalformed)
			return
		}
		if CheckRoleName(it.Name) != nil {
			t.Fatalf("%q: accepted the role name %q", b, it.Name)
		}
		roundTrip(t, it, decodeRoleItem)
	})
}

func FuzzDecodeConfig(f *testing.F) {
	seedRecords(f, map[string]string{"worker.concurrency": "8", "master.retention": "12h"}, map[string]string{})
	for _, s := range []string{`{"Bad Key":"x"}`, `{"k":1}`, `{"k":null}`, `{"k":"\u00e9"}`, `{"":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeConfig("/config", b)
		if err != nil {
			malformed(t, b, err, ErrBadConfig)
			return
		}
		if m == nil {
			t.Fatalf("%q: a nil config", b)
		}
		for k := range m {
			if checkKey(k) != nil {
				t.Fatalf("%q: accepted the key %q", b, k)
			}
		}
		// What update writes back: the same config.
		enc, _ := json.Marshal(m)
		back, err := decodeConfig("/config", enc)
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("%q: %v written as %q reads as %v, %v", b, m, enc, back, err)
		}
	})
}

func FuzzNewEntry(f *testing.F) {
	for _, s := range []string{`{"host":"db1","port":5432}`, "host: db1\nport: 5432\n", "", "null", "[1,2]", "- a\n- b\n",
		"a: &x 1\nb: *x\n", "{1: a}", `{"a":{"b":[1,"x",null,true]}}`, "\t{}", "? [a]\n: b\n", `{"n":1e400}`,
		// What encoding/json writes raw and YAML refuses (DEL, C1
		// controls, U+FFFE) or reads as a line break (NEL, U+0085).
		"{\"a\":\"\x7f\"}", "{\"a\":\"x\u0085y\"}", "{\"\u0080\":\"\uffff\"}", `{"n":-0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := newEntry("k", raw)
		if e.Key != "k" || string(e.Raw) != string(raw) {
			t.Fatalf("%q: entry %+v", raw, e)
		}
		// Publish writes metadata as JSON: a reader must get it back.
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil || m == nil {
			return
		}
		published, _ := json.Marshal(m)
		if got := newEntry("k", published).Meta; got == nil || !sameValue(got, m) {
			t.Fatalf("published %q, read back %v", published, got)
		}
	})
}

func FuzzFileEntries(f *testing.F) {
	for _, s := range []string{"host: db1\nport: 5432\n", "- host: a\n- host: b\n", "- a\n", "[]", "", "x", "{}",
		"- {1: a}\n", "- n: .nan\n", "a: [b, {c: d}]\n", "- a: \"\\x7f\\N\"\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		entries, err := fileEntries("file f", "file:f", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "file f") {
				t.Fatalf("%q: the error %q does not say where", raw, err)
			}
			return
		}
		for i, e := range entries {
			if e.Meta == nil {
				t.Fatalf("%q: entry %d has no metadata", raw, i)
			}
			// Each entry's Raw must read as the metadata it carries, as a
			// published entry would.
			back := newEntry(e.Key, e.Raw)
			if back.Meta == nil || !sameValue(back.Meta, e.Meta) {
				t.Fatalf("%q: entry %d: Raw %q reads as %v, not %v", raw, i, e.Raw, back.Meta, e.Meta)
			}
		}
	})
}

func FuzzParseSeq(f *testing.F) {
	for _, s := range []string{"item0000000007", "token0000000012", "candidate-0123456789abcdef-0000000003", "item",
		"item000000000x", "item-000000001", "item+000000001", "item 000000001", "item9999999999"} {
		f.Add(s, "item")
	}
	f.Add("candidate-0123456789abcdef-0000000003", "candidate-")
	f.Fuzz(func(t *testing.T, name, prefix string) {
		n, ok := parseSeq(name, prefix)
		if !ok {
			return
		}
		// A sequential znode's name ends in its number, as ZooKeeper writes
		// it: ItemPath and TokenPath rebuild names from numbers alone.
		if n < 0 || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, fmt.Sprintf("%010d", n)) {
			t.Fatalf("parseSeq(%q, %q) = %d", name, prefix, n)
		}
	})
}
