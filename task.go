package paddock

import (
	"math"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
)

// Limits and defaults of a Task.
const (
	// DefaultMaxPayload is Config.MaxPayload's default: 512 KiB.
	DefaultMaxPayload = task.DefaultMaxPayload
	// MaxPayloadLimit bounds Config.MaxPayload: every record must stay
	// below ZooKeeper's request limit (jute.maxbuffer, just under 1 MiB).
	MaxPayloadLimit = task.MaxRecord
	// DefaultMaxAttempts is what a Task's MaxAttempts of 0 means.
	DefaultMaxAttempts = task.DefaultMaxAttempts
	// MaxAttemptsLimit bounds Task.MaxAttempts.
	MaxAttemptsLimit = 1000
	// MaxRetriesLimit bounds RetryPolicy.MaxRetries.
	MaxRetriesLimit = task.MaxRetries
	// MaxKeyLen bounds Task.Key: a key names one request of the caller's,
	// and one longer than this is more likely a bug (a payload passed as
	// the key) than a name.
	MaxKeyLen = coord.MaxKeyLen
)

// ID identifies a task: 20 lowercase hex digits, the submit time in Unix
// milliseconds then random digits. The client chooses it before writing
// anything, which is what makes a submit safe to retry: a retry after a
// lost reply finds its own task already there instead of adding another.
// IDs sort in approximate submission order.
type ID string

// ParseID validates s as a task id (ErrBadID otherwise).
func ParseID(s string) (ID, error) {
	id, err := task.ParseID(s)
	return ID(id), err
}

// String returns the id itself.
func (id ID) String() string { return string(id) }

// SubmittedAt is the time encoded in the id: when its client submitted it.
func (id ID) SubmittedAt() time.Time { return task.ID(id).SubmittedAt() }

// ValidKind reports whether k can name a task kind: 1 to 32 of a-z, 0-9,
// '_' and '-', starting with a letter.
func ValidKind(k string) bool { return task.ValidKind(k) }

// Task is what Submit writes: a kind, a payload, and how it may run.
// Only Kind is required; the zero value of every other field means the
// behaviour a task had before that field existed.
type Task struct {
	// Kind names the handler that runs the task on a worker (sleep, echo,
	// fail, exec, or a kind a worker registered): 1 to 32 of a-z, 0-9,
	// '_' and '-', starting with a letter.
	Kind string
	// Payload is the handler's input, at most Config.MaxPayload bytes.
	Payload []byte
	// Timeout bounds one execution on a worker (rounded up to whole
	// milliseconds); 0: none.
	Timeout time.Duration
	// MaxAttempts is how many times the task may be assigned to workers
	// that die under it before it is dead-lettered; 0: DefaultMaxAttempts.
	// It does not count failures (see Retry).
	MaxAttempts int
	// Retry says how a task whose handler fails (or times out) is tried
	// again. nil: the kind's default (the live setting retry.<kind>), and
	// no retries when there is none.
	Retry *RetryPolicy
	// NotBefore: the master assigns the task no earlier than this; zero:
	// at once.
	NotBefore time.Time
	// RoutingTimeout is how long the task may wait for a live worker that
	// runs its kind before it fails with an error naming the kind; 0:
	// forever (it waits for such a worker to start).
	RoutingTimeout time.Duration
	// Key, when set, makes the submission idempotent: within the master's
	// result retention (--retention, master.retention; 24 h by default)
	// after the first task submitted with this key, submitting another
	// Task with the same key writes nothing and returns the first task's
	// ID, even if that task has finished and its result was collected;
	// after it, the key is free again. Use it when the caller itself may
	// run twice (a retried request handler, a job restarted after a
	// crash). At most MaxKeyLen bytes; any bytes will do (only a hash of
	// the key is stored).
	Key string
}

// Validate checks t as Submit does before writing anything, except the
// payload's size, which depends on the Client's Config.MaxPayload. Its
// errors wrap ErrBadTask and name the field.
func (t Task) Validate() error {
	switch {
	case !task.ValidKind(t.Kind):
		return badTask("Kind %q is not a kind name: 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter", t.Kind)
	case t.Timeout < 0:
		return badTask("negative Timeout %v", t.Timeout)
	case t.RoutingTimeout < 0:
		return badTask("negative RoutingTimeout %v", t.RoutingTimeout)
	case t.MaxAttempts < 0 || t.MaxAttempts > MaxAttemptsLimit:
		return badTask("MaxAttempts %d out of [0,%d] (0: %d)", t.MaxAttempts, MaxAttemptsLimit, DefaultMaxAttempts)
	case len(t.Key) > MaxKeyLen:
		return badTask("Key of %d bytes: at most %d", len(t.Key), MaxKeyLen)
	}
	if t.Retry != nil {
		return t.Retry.Validate()
	}
	return nil
}

// spec is the task record Submit writes for t (the id is the znode's name).
func (t Task) spec(client string, now time.Time) task.Spec {
	s := task.Spec{
		Kind:             t.Kind,
		TimeoutMS:        ceilMillis(t.Timeout),
		MaxAttempts:      t.MaxAttempts,
		SubmittedAt:      now.UTC(),
		Client:           client,
		RoutingTimeoutMS: ceilMillis(t.RoutingTimeout),
	}
	if t.Retry != nil {
		w := t.Retry.wire()
		s.Retry = &w
	}
	if !t.NotBefore.IsZero() {
		s.NotBefore = t.NotBefore.UTC()
	}
	if t.Key != "" {
		s.Key = coord.KeyName(t.Key)
	}
	return s
}

// ceilMillis converts d to the records' milliseconds, rounding up: a
// positive duration under a millisecond must not become 0, which means
// "none" or "the default".
func ceilMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if time.Duration(ms)*time.Millisecond < d {
		ms++
	}
	return ms
}

// fromMillis converts a record's milliseconds, saturating (a record
// another tool wrote may hold any number).
func fromMillis(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}
