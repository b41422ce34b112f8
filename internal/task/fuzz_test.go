package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The decoders read data that any tool or any language's client may have
// written. Each fuzz target checks that a decoder never panics, that what
// it refuses wraps ErrMalformed (or ErrBadID), and, where it holds, that
// what it accepts survives an encode/decode round trip unchanged. `make
// test` runs the seeds (f.Add and testdata/fuzz); `make fuzz` explores.

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0193f0c2a1b4d5e6f7a8", "0193F0C2A1B4D5E6F7A8", "", "zz", "0193f0c2a1b4d5e6f7a", "0193f0c2a1b4d5e6f7a8f", "ffffffffffffffffffff", "00000000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			if !errors.Is(err, ErrBadID) {
				t.Fatalf("%q: %v does not wrap ErrBadID", s, err)
			}
			return
		}
		if string(id) != s || len(id.Shard()) != 2 || !strings.HasSuffix(s, id.Shard()) {
			t.Fatalf("%q: id %q shard %q", s, id, id.Shard())
		}
		_ = id.SubmittedAt() // any 11 hex digits are a time
	})
}

// seeds adds each record, encoded, and a few kinds of damage to it.
func seeds(f *testing.F, records ...any) {
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(bytes.ReplaceAll(b, []byte(`"`), []byte(`'`)))
	}
	for _, s := range []string{"", "null", "{}", "[]", "42", `"text"`, "{\"kind\":\"\xff\"}", `{"kind":"echo","attempts":-1}`,
		`{"kind":"echo","timeout_ms":9223372036854775807}`, `{"status":"succeeded","exit_code":null}`} {
		f.Add([]byte(s))
	}
}

var fuzzTime = time.Date(2026, 11, 27, 12, 0, 0, 123000000, time.UTC)

func FuzzDecodeSpec(f *testing.F) {
	seeds(f, Spec{Kind: "echo", TimeoutMS: 1500, MaxAttempts: 3, SubmittedAt: fuzzTime, Client: "h/1", Size: 5},
		Spec{Kind: "exec", Attempts: 2, Worker: "w1", LastWorker: "w0", Epoch: 7, AssignedAt: fuzzTime, SubmittedAt: fuzzTime})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSpec(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%q: %v does not wrap ErrMalformed", b, err)
			}
			return
		}
		_ = s.Timeout()
		if s.AttemptLimit() < 1 {
			t.Fatalf("%q: attempt limit %d", b, s.AttemptLimit())
		}
		roundTrip(t, s, DecodeSpec)
	})
}

func FuzzDecodeAssignment(f *testing.F) {
	seeds(f, Assignment{Kind: "sleep", TimeoutMS: 10, Attempt: 1, MaxAttempts: 3, Epoch: 2, Master: "m1", SubmittedAt: fuzzTime, AssignedAt: fuzzTime})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAssignment(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%q: %v does not wrap ErrMalformed", b, err)
			}
			return
		}
		if !ValidKind(a.Kind) || a.Attempt < 1 || a.Timeout() < 0 {
			t.Fatalf("%q: accepted %+v", b, a)
		}
		roundTrip(t, a, DecodeAssignment)
	})
}

func FuzzDecodeResult(f *testing.F) {
	code := 3
	seeds(f, Result{ID: "0193f0c2a1b4d5e6f7a8", Kind: "exec", Status: Failed, Output: "out\n", Error: "exit status 3", ExitCode: &code,
		Stderr: "é\\\"", Worker: "w1", Attempts: 1, Epoch: 2, SubmittedAt: fuzzTime, StartedAt: fuzzTime, FinishedAt: fuzzTime})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResult(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%q: %v does not wrap ErrMalformed", b, err)
			}
			return
		}
		enc, err := EncodeResult(r)
		if err != nil || len(enc) > MaxRecord {
			t.Fatalf("%q: re-encoding: %d bytes, %v", b, len(enc), err)
		}
		back, err := DecodeResult(enc)
		if err != nil {
			t.Fatalf("%q: the re-encoded result does not decode: %v", b, err)
		}
		if back.ID != r.ID || back.Status != r.Status || back.Kind != r.Kind || back.Attempts != r.Attempts {
			t.Fatalf("%q: round trip changed %+v into %+v", b, r, back)
		}
	})
}

func FuzzDecodeDeadLetter(f *testing.F) {
	seeds(f, DeadLetter{ID: "0193f0c2a1b4d5e6f7a8", Reason: ReasonMaxAttempts, Detail: "assigned 3 times", Attempts: 3, LastWorker: "w2", At: fuzzTime, Spec: `{"kind":"echo"}`})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDeadLetter(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%q: %v does not wrap ErrMalformed", b, err)
			}
			return
		}
		roundTrip(t, d, DecodeDeadLetter)
	})
}

func FuzzParseArgv(f *testing.F) {
	for _, s := range []string{`["sh","-c","echo hi"]`, `[""]`, `[]`, `["a",1]`, `"sh"`, `["\u00e9","\\"]`, "[\"\xff\"]", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		argv, err := ParseArgv(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "JSON array of strings") {
				t.Fatalf("%q: %v", b, err)
			}
			return
		}
		if len(argv) == 0 || argv[0] == "" {
			t.Fatalf("%q: accepted %q", b, argv)
		}
		enc, _ := json.Marshal(argv)
		again, err := ParseArgv(enc)
		if err != nil || !reflect.DeepEqual(again, argv) {
			t.Fatalf("%q: round trip %q -> %q, %v", b, argv, again, err)
		}
	})
}

func FuzzPrintable(f *testing.F) {
	f.Add([]byte("plain"), 3)
	f.Add([]byte("é日本"), 4)
	f.Add([]byte("\xff\xfe"), 1)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 1 || max > 1<<20 {
			return
		}
		s := Printable(b, max)
		if !utf8.ValidString(s) {
			t.Fatalf("Printable(%q, %d) = %q is not UTF-8", b, max, s)
		}
		body, _, _ := strings.Cut(s, "\n[truncated to ")
		if len(body) > 3*max+3 { // invalid bytes become U+FFFD: three bytes each
			t.Fatalf("Printable(%q, %d) kept %d bytes", b, max, len(body))
		}
	})
}

// roundTrip checks that v, encoded and decoded again, is unchanged.
func roundTrip[T any](t *testing.T, v T, decode func([]byte) (T, error)) {
	t.Helper()
	b, err := Encode(v)
	if err != nil {
		return // over MaxRecord: the writer refuses it, nothing to compare
	}
	back, err := decode(b)
	if err != nil {
		t.Fatalf("%+v encodes to %q, which does not decode: %v", v, b, err)
	}
	if !reflect.DeepEqual(normalize(back), normalize(v)) {
		t.Fatalf("round trip changed\n%+v\ninto\n%+v", v, back)
	}
}

// normalize compares records through their JSON: time.Time values that are
// equal instants may differ in location or monotonic reading.
func normalize(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
