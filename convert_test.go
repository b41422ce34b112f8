package paddock

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// fill sets every exported field reachable from v to a non-zero value
// (slices and maps get one element, pointers a value), so that a field
// the protocol adds and this package does not carry shows up in the JSON
// comparison below.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	}
}

func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return v
}

// sameJSON checks that the public value encodes exactly as the protocol's
// (the CLI prints the former where it printed the latter), both filled
// and zero (nil slices stay null, empty ones []).
func sameJSON[T, U any](t *testing.T, conv func(T) U) {
	t.Helper()
	var empty T
	for _, in := range []T{filled[T](), empty} {
		want, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(conv(in))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%T encodes differently from %T:\n got %s\nwant %s", conv(in), in, got, want)
		}
	}
}

func TestRecordsEncodeAsTheProtocols(t *testing.T) {
	sameJSON(t, resultFrom)
	sameJSON(t, listingFrom)
	sameJSON(t, inspectionFrom)
	sameJSON(t, statusFrom)
	sameJSON(t, requeuedFrom)
	sameJSON(t, purgeableFrom)
	sameJSON(t, func(r coord.Removed) Purged { return Purged(r) })
	// Multiplier 0.5 is out of range, but the encoding does not care.
	sameJSON(t, retryFrom)
}

func TestPurgeableRoundTrip(t *testing.T) {
	o := filled[coord.Old]()
	if got := purgeableFrom(o).old(); got != o {
		t.Fatalf("%+v became %+v", o, got)
	}
}

func TestRetryPolicyJSONRoundTrip(t *testing.T) {
	p := RetryPolicy{MaxRetries: 3, Initial: 1500 * time.Millisecond, Max: time.Minute, Multiplier: 2.5, Jitter: 0.1}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"max_retries":3,"initial_ms":1500,"max_ms":60000,"multiplier":2.5,"jitter":0.1}` {
		t.Fatalf("JSON %s", b)
	}
	var back RetryPolicy
	if err := json.Unmarshal(b, &back); err != nil || back != p {
		t.Fatalf("decoded %+v, %v", back, err)
	}
}

func TestTaskSpec(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("x", 3600))
	s := Task{Kind: "echo", Timeout: time.Nanosecond, RoutingTimeout: time.Second, NotBefore: now,
		Retry: &RetryPolicy{MaxRetries: 2, Initial: time.Microsecond}}.spec("me", now)
	want := task.Spec{Kind: "echo", TimeoutMS: 1, SubmittedAt: now.UTC(), Client: "me", RoutingTimeoutMS: 1000,
		NotBefore: now.UTC(), Retry: &task.RetryPolicy{MaxRetries: 2, InitialMS: 1}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("spec %+v\nwant %+v", s, want)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}
