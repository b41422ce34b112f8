package task

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOutcomeStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Status
	}{
		{nil, Succeeded},
		{errors.New("exit status 1"), Failed},
		{fmt.Errorf("%w after 2s", ErrTimeout), Failed},
		{ErrCancelled, Cancelled},
		{fmt.Errorf("%w: by client", ErrCancelled), Cancelled},
		{context.Canceled, Failed}, // a kind's own error; Registry.Run rewords it
	} {
		if got := (Outcome{Err: tc.err}).Status(); got != tc.want {
			t.Errorf("Outcome{Err: %v}.Status() = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestEncodeResultSmallIsEncode(t *testing.T) {
	r := Result{ID: "0194f3a1b2c3d4e5f6a7", Kind: "echo", Status: Succeeded, Output: "hi", SubmittedAt: t0, FinishedAt: t2}
	want, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EncodeResult(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("EncodeResult = %s, %v; want %s", got, err, want)
	}
}

func TestEncodeResultShrinks(t *testing.T) {
	const mb = 1 << 20
	code := 1
	for _, tc := range []struct {
		name                  string
		output, stderr, error string
	}{
		{"2 MB output", strings.Repeat("a", 2*mb), "some stderr", "exit status 1"},
		{"2 MB each", strings.Repeat("o", 2*mb), strings.Repeat("e", 2*mb), "exit status 1"},
		// Each of these bytes takes six in JSON (\u003c, \u0000).
		{"escaped output", strings.Repeat("<", 2*mb), strings.Repeat("\x00", mb), ""},
		{"invalid UTF-8", strings.Repeat("\xff", 2*mb), "", ""},
		{"non-ASCII", strings.Repeat("é", mb), strings.Repeat("\u2028", mb), ""},
		{"huge error", "", "", strings.Repeat("x", 2*mb)},
		{"just over", strings.Repeat("a", MaxRecord), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Result{ID: "0194f3a1b2c3d4e5f6a7", Kind: "exec", Status: Failed, Output: tc.output, Stderr: tc.stderr,
				Error: tc.error, ExitCode: &code, Worker: "w-1", Attempts: 1, SubmittedAt: t0, FinishedAt: t2}
			b, err := EncodeResult(r)
			if err != nil {
				t.Fatalf("EncodeResult: %v", err)
			}
			if len(b) > MaxRecord {
				t.Fatalf("EncodeResult produced %d bytes, over MaxRecord %d", len(b), MaxRecord)
			}
			got, err := DecodeResult(b)
			if err != nil {
				t.Fatalf("DecodeResult: %v", err)
			}
			if got.ID != r.ID || got.Status != r.Status || *got.ExitCode != code || got.Worker != r.Worker {
				t.Errorf("bookkeeping changed: %+v", got)
			}
			for _, f := range []struct{ name, got, orig string }{
				{"output", got.Output, tc.output},
				{"stderr", got.Stderr, tc.stderr},
				{"error", got.Error, tc.error},
			} {
				if f.got == f.orig {
					continue
				}
				body, _, cut := strings.Cut(f.got, "\n[truncated to ")
				if !cut || !strings.HasPrefix(string([]rune(f.orig)), body) {
					t.Errorf("%s changed other than by truncation: starts %.40q", f.name, f.got)
				}
				if body == "" {
					t.Errorf("%s was wiped out", f.name)
				}
			}
			if r.Output != tc.output {
				t.Error("EncodeResult modified its argument")
			}
		})
	}
}

func TestEncodeResultSharesTheLimit(t *testing.T) {
	// A flood on stdout must not wipe out stderr, nor the other way round.
	for _, tc := range []struct{ output, stderr int }{{2 << 20, 100}, {100, 2 << 20}, {2 << 20, 2 << 20}} {
		r := Result{ID: "0194f3a1b2c3d4e5f6a7", Kind: "exec", Status: Failed,
			Output: strings.Repeat("o", tc.output), Stderr: strings.Repeat("e", tc.stderr), Error: "exit status 1"}
		b, err := EncodeResult(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeResult(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			name string
			got  string
			size int
		}{{"output", got.Output, tc.output}, {"stderr", got.Stderr, tc.stderr}} {
			want := min(f.size, MaxRecord/3) // at least a fair share
			if kept, _, _ := strings.Cut(f.got, "\n"); len(kept) < want {
				t.Errorf("output %d, stderr %d: %s kept %d bytes, want at least %d", tc.output, tc.stderr, f.name, len(kept), want)
			}
		}
		if got.Error != r.Error {
			t.Errorf("Error = %q, want it intact", got.Error)
		}
	}
}

func TestJSONLen(t *testing.T) {
	for _, s := range []string{
		"", "plain", `"quoted" \ back`, "\b\f\n\r\t", "\x00\x01\x1f\x7f", "<a href=x>&amp;</a>",
		"é€😀", "\u2028\u2029", "\xff\xfe", "\xe2\x82", "a\xc3", strings.Repeat("\xf0\x9f", 3),
	} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jsonLen(s), len(b)-2; got != want {
			t.Errorf("jsonLen(%q) = %d, want %d (%s)", s, got, want, b)
		}
		for limit := range len(b) {
			i := jsonPrefix(s, limit)
			if p, _ := json.Marshal(s[:i]); len(p)-2 > limit || !utf8.ValidString(s[:i]) && utf8.ValidString(s) {
				t.Errorf("jsonPrefix(%q, %d) = %d: %s", s, limit, i, p)
			}
		}
	}
}

func TestEncodeResultKeepsMostOutput(t *testing.T) {
	// Cutting only what is needed, not everything.
	r := Result{ID: "0194f3a1b2c3d4e5f6a7", Kind: "echo", Status: Succeeded, Output: strings.Repeat("a", 2<<20)}
	b, err := EncodeResult(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < MaxRecord-1024 {
		t.Errorf("EncodeResult kept %d bytes, want close to MaxRecord %d", len(b), MaxRecord)
	}
}

func TestEncodeResultGivesUpOnlyWithoutOutput(t *testing.T) {
	r := Result{ID: "0194f3a1b2c3d4e5f6a7", Kind: "echo", Status: Succeeded, Output: "x", Worker: strings.Repeat("w", MaxRecord)}
	if _, err := EncodeResult(r); err == nil {
		t.Error("EncodeResult accepted a record too big without any output")
	}
}

func BenchmarkEncodeResult(b *testing.B) {
	code := 0
	for _, size := range []int{0, OutputCap, 2 << 20} {
		r := Result{ID: "0194f3a1b2c3d4e5f6a7", Kind: "exec", Status: Succeeded, Output: strings.Repeat("a", size),
			ExitCode: &code, Worker: "w-1", Attempts: 1, SubmittedAt: t0, StartedAt: t1, FinishedAt: t2}
		b.Run(fmt.Sprintf("output=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := EncodeResult(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
