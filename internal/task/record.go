package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"
	"unicode/utf8"
)

// Limits. ZooKeeper refuses a znode or request over jute.maxbuffer (just
// under 1 MiB by default); payloads and results must stay below it.
const (
	DefaultMaxPayload = 512 << 10 // refused by the client before anything is written
	// InlineMax is the largest payload a client copies into the task's
	// Spec (Spec.Payload), for the leader to hand to the worker in the
	// Assignment: the worker then runs the task without reading data/, one
	// request in six less per task. Larger payloads are read from data/
	// only, so a backlog costs ZooKeeper at most this much more per task.
	InlineMax          = 256
	DefaultMaxAttempts = 3
	// MaxRecord bounds every JSON record Paddock writes (spec, assignment,
	// result), leaving headroom under jute.maxbuffer for the request framing.
	MaxRecord = 900 << 10
	// OutputCap bounds the stdout and the stderr kept from one execution.
	OutputCap = 64 << 10
)

// ErrMalformed reports a znode whose data is not the record it should be,
// typically because another tool wrote it.
var ErrMalformed = errors.New("malformed")

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// ValidKind reports whether k can name a task kind.
func ValidKind(k string) bool { return kindRE.MatchString(k) }

// Spec is the data of tasks/<shard>/<id>: what the client asked for, plus
// the bookkeeping the master rewrites on every assignment.
type Spec struct {
	Kind        string    `json:"kind"`
	TimeoutMS   int64     `json:"timeout_ms,omitempty"`
	MaxAttempts int       `json:"max_attempts,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
	Client      string    `json:"client,omitempty"`
	Size        int       `json:"size"`

	// Optional, set by the submitter; absent in a task written by a client
	// that predates them, which then runs as before.
	Retry *RetryPolicy `json:"retry,omitempty"` // nil: the kind's default from config, else no retries
	// NotBefore: the master assigns the task no earlier than this.
	NotBefore time.Time `json:"not_before,omitzero"`
	// RoutingTimeoutMS: how long the task may wait for a live worker that
	// runs its kind before it fails; 0: forever.
	RoutingTimeoutMS int64 `json:"routing_timeout_ms,omitempty"`
	// Key is the znode name of the task's idempotency key (keys/<Key>),
	// when it was submitted with one.
	Key string `json:"key,omitempty"`
	// Payload is a copy of the payload (data/<shard>/<id>), written by a
	// client when it is at most InlineMax bytes; nil (absent) otherwise.
	// An empty payload is present as "": presence, not length, tells.
	Payload []byte `json:"payload,omitzero"`

	// Written by workers when an attempt fails and the task is retried:
	// Retries counts those retries; Errors keeps each failed attempt's
	// error (at most MaxAttemptErrors, ErrorsDropped counting the rest).
	Retries       int            `json:"retries,omitempty"`
	Errors        []AttemptError `json:"errors,omitempty"`
	ErrorsDropped int            `json:"errors_dropped,omitempty"`

	// Written by the master. Attempts counts assignments so far; Worker is
	// the worker whose assign/ directory holds the task now ("" while
	// pending); LastWorker is the worker it was last taken back from.
	Attempts   int       `json:"attempts"`
	Worker     string    `json:"worker,omitempty"`
	LastWorker string    `json:"last_worker,omitempty"`
	Epoch      int64     `json:"epoch,omitempty"`
	AssignedAt time.Time `json:"assigned_at,omitzero"`
}

// Timeout is the task's execution limit; zero means none.
func (s Spec) Timeout() time.Duration { return millis(s.TimeoutMS) }

// AttemptLimit is the assignments allowed: MaxAttempts (default applied)
// bounds the assignments that end without a result (the worker died or
// shut down under the task), and each retry adds one, since a retried
// failure ends its assignment too and must not use up the budget meant for
// worker deaths. The master dead-letters a pending task that reached it.
func (s Spec) AttemptLimit() int {
	n := s.MaxAttempts
	if n <= 0 {
		n = DefaultMaxAttempts
	}
	return n + s.Retries
}

// Validate checks what the master and the workers rely on.
func (s Spec) Validate() error {
	switch {
	case !ValidKind(s.Kind):
		return fmt.Errorf("%w: kind %q is not a kind name", ErrMalformed, s.Kind)
	case s.TimeoutMS < 0:
		return fmt.Errorf("%w: negative timeout_ms", ErrMalformed)
	case s.MaxAttempts < 0 || s.MaxAttempts > 1000:
		return fmt.Errorf("%w: max_attempts %d out of [0,1000]", ErrMalformed, s.MaxAttempts)
	case s.Attempts < 0:
		return fmt.Errorf("%w: negative attempts", ErrMalformed)
	case s.Size < 0:
		return fmt.Errorf("%w: negative size", ErrMalformed)
	case s.RoutingTimeoutMS < 0:
		return fmt.Errorf("%w: negative routing_timeout_ms", ErrMalformed)
	case s.Retries < 0 || s.ErrorsDropped < 0:
		return fmt.Errorf("%w: negative retries", ErrMalformed)
	}
	if s.Retry != nil {
		return s.Retry.Validate()
	}
	return nil
}

// RoutingTimeout is how long the task may wait for a worker that runs its
// kind; zero means forever.
func (s Spec) RoutingTimeout() time.Duration { return millis(s.RoutingTimeoutMS) }

// Assignment is the data of assign/<worker>/<id>, written by the master: all
// a worker needs besides the payload.
type Assignment struct {
	Kind        string    `json:"kind"`
	TimeoutMS   int64     `json:"timeout_ms,omitempty"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts"`
	Epoch       int64     `json:"epoch"`
	Master      string    `json:"master"`
	SubmittedAt time.Time `json:"submitted_at"`
	AssignedAt  time.Time `json:"assigned_at"`
	// Retries is the Spec's: the failed executions retried before this
	// one. A handler sees it (worker.Task.Retries), and a worker reads the
	// Spec at completion only when it is not 0 (the Spec then holds the
	// earlier errors, which the result must carry) or the task failed.
	Retries int `json:"retries,omitempty"`
	// Payload is the Spec's Payload, copied by the leader: when present
	// (non-nil, even empty) the worker runs the task with it and does not
	// read data/<shard>/<id>.
	Payload []byte `json:"payload,omitzero"`
}

// Timeout is the task's execution limit; zero means none.
func (a Assignment) Timeout() time.Duration { return millis(a.TimeoutMS) }

// millis converts a record's millisecond count, saturating rather than
// wrapping: a client may send any int64, and a wrapped product could turn a
// huge timeout into a tiny or negative one.
func millis(ms int64) time.Duration {
	const limit = int64(math.MaxInt64 / time.Millisecond)
	switch {
	case ms <= 0:
		return 0
	case ms > limit:
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// Status is a task's terminal state.
type Status string

const (
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Cancelled Status = "cancelled"
	Dead      Status = "dead"
)

// Result is the data of results/<shard>/<id>, created exactly once per task.
type Result struct {
	ID          ID        `json:"id"`
	Kind        string    `json:"kind"`
	Status      Status    `json:"status"`
	Output      string    `json:"output"`
	Error       string    `json:"error,omitempty"`
	ExitCode    *int      `json:"exit_code,omitempty"`
	Stderr      string    `json:"stderr,omitempty"`
	Worker      string    `json:"worker,omitempty"`
	Attempts    int       `json:"attempts"`
	Epoch       int64     `json:"epoch,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at"`
	// Errors, for a task that was retried, are every failed attempt's
	// error (see Spec.Errors), oldest first, this one's last when it
	// failed: the last error alone may hide what went wrong first. A task
	// that ran once has none; Error says it.
	Errors        []AttemptError `json:"errors,omitempty"`
	ErrorsDropped int            `json:"errors_dropped,omitempty"`

	// Final, set by a worker and never written, says the failure is one a
	// retry cannot fix (the handler said so): the task fails now even with
	// retries left.
	Final bool `json:"-"`
}

// Dead-letter reasons.
const (
	ReasonMalformed   = "malformed"
	ReasonMaxAttempts = "max-attempts"
	// ReasonRoutingTimeout: no live worker advertised the task's kind
	// within its routing timeout. Unlike a failure, it can be requeued
	// once workers of the kind are back.
	ReasonRoutingTimeout = "routing-timeout"
)

// DeadLetter is the data of dead/<shard>/<id>: why the task was given up.
// The original task data is kept verbatim (Spec) for inspection.
type DeadLetter struct {
	ID         ID        `json:"id"`
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail"`
	Attempts   int       `json:"attempts"`
	LastWorker string    `json:"last_worker,omitempty"`
	At         time.Time `json:"at"`
	Spec       string    `json:"spec"`
}

// Encode marshals a record, refusing one over MaxRecord.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecord {
		return nil, fmt.Errorf("record of %d bytes exceeds the %d-byte limit", len(b), MaxRecord)
	}
	return b, nil
}

// DecodeSpec parses and validates task data; any failure wraps ErrMalformed.
func DecodeSpec(b []byte) (Spec, error) {
	var s Spec
	if err := decode(b, &s); err != nil {
		return Spec{}, err
	}
	return s, s.Validate()
}

// DecodeAssignment parses assignment data; any failure wraps ErrMalformed.
func DecodeAssignment(b []byte) (Assignment, error) {
	var a Assignment
	if err := decode(b, &a); err != nil {
		return Assignment{}, err
	}
	if !ValidKind(a.Kind) || a.Attempt < 1 {
		return Assignment{}, fmt.Errorf("%w: assignment lacks a kind or an attempt number", ErrMalformed)
	}
	return a, nil
}

// DecodeResult parses result data; any failure wraps ErrMalformed.
func DecodeResult(b []byte) (Result, error) {
	var r Result
	if err := decode(b, &r); err != nil {
		return Result{}, err
	}
	switch r.Status {
	case Succeeded, Failed, Cancelled, Dead:
	default:
		return Result{}, fmt.Errorf("%w: unknown status %q", ErrMalformed, r.Status)
	}
	return r, nil
}

// DecodeDeadLetter parses dead-letter data; any failure wraps ErrMalformed.
func DecodeDeadLetter(b []byte) (DeadLetter, error) {
	var d DeadLetter
	// Decode before returning: in "return d, decode(b, &d)" the spec leaves
	// unspecified whether d is read before or after the call fills it.
	err := decode(b, &d)
	return d, err
}

func decode(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrMalformed)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// Printable returns data as text for a record: valid UTF-8 (invalid bytes
// replaced) and at most max bytes, with a marker when cut.
func Printable(data []byte, max int) string {
	truncated := false
	if len(data) > max {
		cut := max
		// Don't split a rune: valid text would end in a spurious U+FFFD.
		for i := max - 1; i >= 0 && i > max-utf8.UTFMax; i-- {
			if utf8.RuneStart(data[i]) {
				if _, n := utf8.DecodeRune(data[i:]); i+n > max {
					cut = i
				}
				break
			}
		}
		data, truncated = data[:cut], true
	}
	s := string(data)
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // replaces invalid bytes with U+FFFD
	}
	if truncated {
		s += fmt.Sprintf("\n[truncated to %d bytes]", max)
	}
	return s
}
