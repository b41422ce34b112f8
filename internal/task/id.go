// Package task holds Paddock's task model: identifiers, the records stored in
// ZooKeeper and their encoding, the task kinds and how a worker runs them.
package task

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ID identifies a task. It is 20 lowercase hex digits: 11 digits of the
// submit time in Unix milliseconds followed by 9 random digits. The time
// prefix makes lexical order approximate submission order, which the master
// uses for FIFO scheduling; the random suffix spreads tasks over shards.
type ID string

const (
	idTimeDigits   = 11
	idRandomDigits = 9
	idLen          = idTimeDigits + idRandomDigits
)

// ErrBadID reports a string that is not a task id.
var ErrBadID = errors.New("not a task id")

// NewID returns a fresh task id for a task submitted at now.
func NewID(now time.Time) ID {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("task: crypto/rand failed: %v", err))
	}
	r := hex.EncodeToString(b[:])[:idRandomDigits]
	return ID(fmt.Sprintf("%0*x%s", idTimeDigits, now.UnixMilli(), r))
}

// ShardRun and ShardWindow bound the ids an [IDSource] gives one shard:
// at most ShardRun in a row, drawn within ShardWindow of the first.
//
// A submission fires the leader's child watch on its task shard, and the
// leader lists a fired shard once, however many tasks arrived in it since
// its last listing: ids that share a shard while a client submits a burst
// cost the leader one listing for the burst instead of one per task (and
// their group-committed multi touches one shard). Outside bursts the
// window makes every id's shard random, as if drawn alone: a client that
// submits now and then spreads its tasks over the shards, and so over the
// leaders' partitions, as evenly as before. Runs short enough keep every
// shard's child list small.
const (
	ShardRun    = 64
	ShardWindow = 10 * time.Millisecond
)

// IDSource gives out task ids whose shard stays the same for a burst of
// submissions (see [ShardRun]), then moves to another shard drawn at
// random. Any id is valid wherever it lands: this only groups one
// client's submissions. Safe for concurrent use; the zero value is ready.
type IDSource struct {
	mu    sync.Mutex
	shard byte
	left  int
	since time.Time // when the run began
}

// Next returns a fresh task id for a task submitted at now.
func (s *IDSource) Next(now time.Time) ID {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("task: crypto/rand failed: %v", err))
	}
	s.mu.Lock()
	if s.left == 0 || now.Sub(s.since) > ShardWindow || now.Before(s.since) {
		s.shard, s.left, s.since = b[4], ShardRun, now
	}
	s.left--
	b[4] = s.shard
	s.mu.Unlock()
	// Seven random digits, then the shard's two: 28 random bits per
	// millisecond and shard. Two ids of one run and one millisecond clash
	// with odds of 1 in 2^28 (a clash fails the second submit with
	// NodeExists; SubmitMany draws again for a repeat within its call).
	r := hex.EncodeToString(b[:])
	return ID(fmt.Sprintf("%0*x%s%s", idTimeDigits, now.UnixMilli(), r[:idRandomDigits-2], r[8:]))
}

// ParseID validates s as a task id.
func ParseID(s string) (ID, error) {
	if len(s) != idLen {
		return "", fmt.Errorf("%w: %q must be %d hex digits", ErrBadID, s, idLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("%w: %q must be %d lowercase hex digits", ErrBadID, s, idLen)
		}
	}
	return ID(s), nil
}

// Shard is the id's last two hex digits: the name of the shard znode under
// tasks/, data/, results/ and dead/ that holds this task's znodes. A client in
// another language computes it the same way.
func (id ID) Shard() string { return string(id[len(id)-2:]) }

// SubmittedAt is the time encoded in the id.
func (id ID) SubmittedAt() time.Time {
	var ms int64
	fmt.Sscanf(string(id[:idTimeDigits]), "%x", &ms)
	return time.UnixMilli(ms)
}

func (id ID) String() string { return string(id) }

// Shards lists every shard name, "00" through "ff".
func Shards() []string {
	s := make([]string, 256)
	for i := range s {
		s[i] = fmt.Sprintf("%02x", i)
	}
	return s
}
