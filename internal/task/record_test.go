package task

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	t0 = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	t1 = t0.Add(1500 * time.Millisecond)
	t2 = t1.Add(2 * time.Second)
)

func fullSpec() Spec {
	return Spec{
		Kind:        "exec",
		TimeoutMS:   30_000,
		MaxAttempts: 5,
		SubmittedAt: t0,
		Client:      "client-1",
		Size:        42,
		Attempts:    2,
		Worker:      "w-2",
		LastWorker:  "w-1",
		Epoch:       7,
		AssignedAt:  t1,
	}
}

func TestSpecRoundTrip(t *testing.T) {
	for _, s := range []Spec{
		fullSpec(),
		{Kind: "echo", SubmittedAt: t0}, // as a client first writes it
	} {
		b, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeSpec(b)
		if err != nil {
			t.Fatalf("DecodeSpec(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", b, got, s)
		}
	}
}

func TestSpecOmitsUnassigned(t *testing.T) {
	b, err := Encode(Spec{Kind: "echo", SubmittedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"assigned_at", "worker", "timeout_ms"} {
		if strings.Contains(string(b), field) {
			t.Errorf("pending spec %s carries %q", b, field)
		}
	}
}

func TestAssignmentRoundTrip(t *testing.T) {
	a := Assignment{Kind: "sleep", TimeoutMS: 1000, Attempt: 2, MaxAttempts: 3, Epoch: 9, Master: "m-1", SubmittedAt: t0, AssignedAt: t1}
	b, err := Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeAssignment(b)
	if err != nil {
		t.Fatalf("DecodeAssignment(%s): %v", b, err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("round trip of %s:\n got %+v\nwant %+v", b, got, a)
	}
	// A payload carried inline stays present even when empty: the worker
	// tells "run with this" from "read data/" by presence alone.
	for _, p := range [][]byte{{}, []byte("x\x00\xff")} {
		in := a
		in.Payload = p
		b, _ := Encode(in)
		out, err := DecodeAssignment(b)
		if err != nil || out.Payload == nil || string(out.Payload) != string(p) {
			t.Errorf("payload %q: %s decodes to %q (nil %v), %v", p, b, out.Payload, out.Payload == nil, err)
		}
	}
	if got.Timeout() != time.Second {
		t.Errorf("Timeout() = %v, want 1s", got.Timeout())
	}
}

func TestResultRoundTrip(t *testing.T) {
	code := 3
	for _, r := range []Result{
		{ID: "0194f3a1b2c3d4e5f6a7", Kind: "exec", Status: Failed, Output: "out\n", Error: "exit status 3", ExitCode: &code,
			Stderr: "err\n", Worker: "w-1", Attempts: 1, Epoch: 4, SubmittedAt: t0, StartedAt: t1, FinishedAt: t2},
		{ID: "0194f3a1b2c3d4e5f6a7", Kind: "echo", Status: Succeeded, Output: "hi", Attempts: 1, SubmittedAt: t0, FinishedAt: t2},
		{ID: "0194f3a1b2c3d4e5f6a7", Kind: "sleep", Status: Cancelled, Error: "cancelled", SubmittedAt: t0, FinishedAt: t2},
		{ID: "0194f3a1b2c3d4e5f6a7", Kind: "fail", Status: Dead, Error: "max-attempts", Attempts: 3, SubmittedAt: t0, FinishedAt: t2},
	} {
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeResult(b)
		if err != nil {
			t.Fatalf("DecodeResult(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", b, got, r)
		}
	}
}

func TestDeadLetterRoundTrip(t *testing.T) {
	d := DeadLetter{ID: "0194f3a1b2c3d4e5f6a7", Reason: ReasonMaxAttempts, Detail: "3 attempts", Attempts: 3, LastWorker: "w-1", At: t2, Spec: `{"kind":"fail"}`}
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeDeadLetter(b)
	if err != nil || got != d {
		t.Errorf("DecodeDeadLetter(%s) = %+v, %v; want %+v", b, got, err, d)
	}
}

func TestDecodeSpecMalformed(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"empty", ""},
		{"not JSON", "sleep 5"},
		{"truncated", `{"kind":"echo"`},
		{"trailing garbage", `{"kind":"echo"} x`},
		{"null", "null"},
		{"array", `["echo"]`},
		{"empty object", "{}"},
		{"kind not a string", `{"kind":5}`},
		{"timeout a string", `{"kind":"echo","timeout_ms":"5"}`},
		{"time not a time", `{"kind":"echo","submitted_at":"yesterday"}`},
		{"uppercase kind", `{"kind":"Echo"}`},
		{"kind with a slash", `{"kind":"a/b"}`},
		{"kind too long", `{"kind":"` + strings.Repeat("k", 33) + `"}`},
		{"negative timeout", `{"kind":"echo","timeout_ms":-1}`},
		{"negative max_attempts", `{"kind":"echo","max_attempts":-1}`},
		{"max_attempts too large", `{"kind":"echo","max_attempts":1001}`},
		{"negative attempts", `{"kind":"echo","attempts":-1}`},
		{"negative size", `{"kind":"echo","size":-1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeSpec([]byte(tc.data)); !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeSpec(%q) error = %v, want ErrMalformed", tc.data, err)
			}
		})
	}
}

func TestDecodeOthersMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		data   string
	}{
		{"assignment garbage", func(b []byte) error { _, err := DecodeAssignment(b); return err }, "garbage"},
		{"assignment without kind", func(b []byte) error { _, err := DecodeAssignment(b); return err }, `{"attempt":1}`},
		{"assignment attempt 0", func(b []byte) error { _, err := DecodeAssignment(b); return err }, `{"kind":"echo"}`},
		{"result garbage", func(b []byte) error { _, err := DecodeResult(b); return err }, "{"},
		{"result unknown status", func(b []byte) error { _, err := DecodeResult(b); return err }, `{"status":"done"}`},
		{"dead letter empty", func(b []byte) error { _, err := DecodeDeadLetter(b); return err }, ""},
	} {
		if err := tc.decode([]byte(tc.data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error = %v, want ErrMalformed", tc.name, err)
		}
	}
}

func TestEncodeRefusesOversize(t *testing.T) {
	if _, err := Encode(Spec{Kind: "echo", Client: strings.Repeat("c", MaxRecord)}); err == nil {
		t.Error("Encode accepted a record over MaxRecord")
	}
}

func TestSpecDefaults(t *testing.T) {
	for _, tc := range []struct {
		timeoutMS   int64
		maxAttempts int
		timeout     time.Duration
		limit       int
	}{
		{0, 0, 0, DefaultMaxAttempts},
		{1500, 1, 1500 * time.Millisecond, 1},
		{-5, -1, 0, DefaultMaxAttempts},
		// Saturates instead of wrapping into a short or negative timeout.
		{math.MaxInt64, 7, math.MaxInt64, 7},
		{math.MaxInt64 / 1000, 7, math.MaxInt64, 7},
	} {
		s := Spec{TimeoutMS: tc.timeoutMS, MaxAttempts: tc.maxAttempts}
		if got := s.Timeout(); got != tc.timeout {
			t.Errorf("Spec{TimeoutMS: %d}.Timeout() = %v, want %v", tc.timeoutMS, got, tc.timeout)
		}
		if got := (Assignment{TimeoutMS: tc.timeoutMS}).Timeout(); got != tc.timeout {
			t.Errorf("Assignment{TimeoutMS: %d}.Timeout() = %v, want %v", tc.timeoutMS, got, tc.timeout)
		}
		if got := s.AttemptLimit(); got != tc.limit {
			t.Errorf("Spec{MaxAttempts: %d}.AttemptLimit() = %d, want %d", tc.maxAttempts, got, tc.limit)
		}
	}
}

func TestValidKind(t *testing.T) {
	for k, want := range map[string]bool{
		"echo": true, "exec": true, "my-kind_2": true, "a": true, strings.Repeat("k", 32): true,
		"": false, "Echo": false, "2echo": false, "-x": false, "a b": false, "a/b": false, "é": false, strings.Repeat("k", 33): false,
	} {
		if ValidKind(k) != want {
			t.Errorf("ValidKind(%q) = %v, want %v", k, !want, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		max  int
		want string
	}{
		{"short", "hello", 10, "hello"},
		{"exact", "hello", 5, "hello"},
		{"cut", "hello world", 5, "hello\n[truncated to 5 bytes]"},
		{"invalid UTF-8", "a\xffb", 10, "a\uFFFDb"},
		// "é" is two bytes; cutting between them must not leave half of it.
		{"rune not split", "abé", 3, "ab\n[truncated to 3 bytes]"},
		{"rune kept whole", "abéd", 4, "abé\n[truncated to 4 bytes]"},
		{"invalid and cut", "\xff\xfe\xfd\xfc", 2, "\uFFFD\uFFFD\n[truncated to 2 bytes]"},
	} {
		got := Printable([]byte(tc.data), tc.max)
		if got != tc.want {
			t.Errorf("%s: Printable(%q, %d) = %q, want %q", tc.name, tc.data, tc.max, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: Printable(%q, %d) = %q is not valid UTF-8", tc.name, tc.data, tc.max, got)
		}
	}
}

func BenchmarkEncodeSpec(b *testing.B) {
	s := fullSpec()
	for b.Loop() {
		if _, err := Encode(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSpec(b *testing.B) {
	data, err := Encode(fullSpec())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeSpec(data); err != nil {
			b.Fatal(err)
		}
	}
}
