package recipe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// ErrCandidacyLost reports that a candidate's znode disappeared while its
// session lived (someone deleted it, or it claimed a role): it is no
// longer queued, and must Join again to stand.
var ErrCandidacyLost = errors.New("leaderqueue: candidacy znode is gone")

const candidatePrefix = "candidate-"

// LeaderQueue is PettingZoo's leader queue, which is also ZooKeeper's
// herd-free leader election: candidates are ephemeral sequential znodes
// under dir; the lowest sequence number is at the front (the leader); every
// other candidate watches only its predecessor, so a departure wakes exactly
// one process however many are queued. Any member can tell whether it is
// queued or at the front, and the queue's length is the spare capacity.
// Paddock's master election is this queue under <root>/master.
type LeaderQueue struct {
	c   *zkclient.Client
	dir string
}

// NewLeaderQueue returns the queue held under dir (which must exist).
func NewLeaderQueue(c *zkclient.Client, dir string) *LeaderQueue { return &LeaderQueue{c: c, dir: dir} }

// Len is the number of candidates queued, the front one included.
func (q *LeaderQueue) Len(ctx context.Context) (int, error) {
	names, err := q.Candidates(ctx)
	return len(names), err
}

// Has reports whether key (a candidate's znode path) is queued.
func (q *LeaderQueue) Has(ctx context.Context, key string) (bool, error) {
	st, err := q.c.Exists(ctx, key)
	return st != nil && strings.HasPrefix(key, q.dir+"/"), err
}

// Candidate is one process's place in a queue, valid for one session.
type Candidate struct {
	e    *LeaderQueue
	sess *zkclient.Session
	key  string
	seq  int64

	mu sync.Mutex
	// ephemeral: what Rank learnt of each name in the queue (true: a
	// candidate; false: a persistent znode another tool made), so that a
	// change of the queue costs a request only for the names it adds.
	ephemeral map[string]bool
}

// Key is the candidate's znode path: the leader's key, checked by its fence.
func (cd *Candidate) Key() string { return cd.key }

// Seq is the candidate's sequence number: its place in the queue.
func (cd *Candidate) Seq() int64 { return cd.seq }

// Session is the session the candidacy belongs to.
func (cd *Candidate) Session() *zkclient.Session { return cd.sess }

// Join enters the queue under sess with data (what others see of this
// candidate). The znode name carries a random tag so that a create whose
// reply was lost is found instead of duplicated, and a candidacy that landed
// on a newer session than sess is withdrawn (it would block the queue).
func (e *LeaderQueue) Join(ctx context.Context, sess *zkclient.Session, data []byte) (*Candidate, error) {
	p, err := createSeq(ctx, e.c, sess, e.dir, candidatePrefix, data, zk.FlagEphemeralSequential)
	if err != nil {
		if errors.Is(err, ErrSessionLost) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("leaderqueue: join %s: %w", e.dir, err)
	}
	seq, _ := parseSeq(p[strings.LastIndex(p, "/")+1:], candidatePrefix)
	return &Candidate{e: e, sess: sess, key: p, seq: seq}, nil
}

// Candidates lists the candidate znode names in queue order: the front
// (leader) first.
func (e *LeaderQueue) Candidates(ctx context.Context) ([]string, error) {
	names, _, err := e.c.Children(ctx, e.dir)
	if err != nil {
		return nil, err
	}
	return sortCandidates(names), nil
}

func sortCandidates(names []string) []string {
	sorted := sortedSeq(names, candidatePrefix)
	out := make([]string, len(sorted))
	for i, c := range sorted {
		out[i] = c.name
	}
	return out
}

// Standing is where a candidate is in the queue.
type Standing struct {
	Position    int    // 0: leading
	Queue       int    // candidates in all
	Leader      string // the leader's znode name
	LeaderData  []byte // what the leader published
	Predecessor string // the znode name this candidate watches ("" when leading)
}

// Lead blocks until the candidate leads. observe, if not nil, is called each
// time the candidate settles behind a (new) predecessor, and once when it is
// elected. It returns ErrSessionLost when the session ends first,
// ErrCandidacyLost when the znode was deleted, or ctx's error.
//
// A znode named like a candidate that is not ephemeral is not one (another
// tool made it): it is skipped, with a warning, rather than waited for
// forever.
func (cd *Candidate) Lead(ctx context.Context, observe func(Standing)) error {
	c := cd.e.c
	notCandidates := map[string]bool{}
	for {
		if !cd.sess.Alive() {
			return ErrSessionLost
		}
		names, err := cd.e.Candidates(ctx)
		if err != nil {
			if err := c.RetryIn(ctx, cd.sess, err); err != nil {
				return err
			}
			continue
		}
		names = slices.DeleteFunc(names, func(n string) bool { return notCandidates[n] })
		me := strings.TrimPrefix(cd.key, cd.e.dir+"/")
		idx := -1
		for i, n := range names {
			if n == me {
				idx = i
				break
			}
		}
		if idx < 0 {
			if !cd.sess.Alive() {
				return ErrSessionLost
			}
			return ErrCandidacyLost
		}
		if idx == 0 {
			if observe != nil {
				observe(Standing{Position: 0, Queue: len(names), Leader: me})
			}
			return nil
		}
		pred := names[idx-1]
		stat, ch, err := c.ExistsW(ctx, cd.e.dir+"/"+pred)
		if err != nil {
			if err := c.RetryIn(ctx, cd.sess, err); err != nil {
				return err
			}
			continue
		}
		if stat == nil {
			continue // it left between the listing and the watch
		}
		if stat.EphemeralOwner == 0 {
			c.Logger().Warn("ignoring a znode that is not a candidate: it is not ephemeral", zap.String("path", cd.e.dir+"/"+pred))
			notCandidates[pred] = true
			continue
		}
		if observe != nil {
			data, _, _ := c.Get(ctx, cd.e.dir+"/"+names[0])
			observe(Standing{Position: idx, Queue: len(names), Leader: names[0], LeaderData: data, Predecessor: pred})
		}
		select {
		case <-ch:
		case <-cd.sess.Done():
			return ErrSessionLost
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Gone returns a channel closed once the candidacy ends: its znode deleted
// or its session over (or ctx ended, which also stops the watch behind it).
// A leader selects on it to step down without waiting for its next write
// to fail.
func (cd *Candidate) Gone(ctx context.Context) <-chan struct{} {
	return watchHeld(ctx, cd.e.c, cd.sess, cd.key).Done()
}

// Position is the candidate's place: 0 at the front (leading), n when n
// candidates are ahead. ErrCandidacyLost: it is no longer queued.
func (cd *Candidate) Position(ctx context.Context) (int, error) {
	names, err := cd.e.Candidates(ctx)
	if err != nil {
		return 0, err
	}
	me := strings.TrimPrefix(cd.key, cd.e.dir+"/")
	for i, n := range names {
		if n == me {
			return i, nil
		}
	}
	return 0, ErrCandidacyLost
}

// Rank is the candidate's place in the queue with a watch on the queue:
// its position (0 at the front), how many candidates there are, and a
// channel that receives once the queue next changes (anyone joins or
// leaves). It is for a recipe where the first k candidates lead at once
// (several leaders, each over its own part of the work), so every
// candidate must hear of every change, not only of its predecessor's
// departure as in Lead. ErrCandidacyLost: it is no longer queued.
func (cd *Candidate) Rank(ctx context.Context) (position, queue int, changed <-chan zk.Event, err error) {
	names, _, ch, err := cd.e.c.ChildrenW(ctx, cd.e.dir)
	if err != nil {
		return 0, 0, nil, err
	}
	names, err = cd.onlyCandidates(ctx, sortCandidates(names))
	if err != nil {
		return 0, 0, nil, err
	}
	me := strings.TrimPrefix(cd.key, cd.e.dir+"/")
	i := slices.Index(names, me)
	if i < 0 {
		return 0, 0, nil, ErrCandidacyLost
	}
	return i, len(names), ch, nil
}

// onlyCandidates drops from names (the queue, in order) the znodes that
// are not candidates: those that are not ephemeral (another tool made
// them; Lead skips them too) and those gone meanwhile (the queue's watch
// fires for them). Counting a persistent one would deal it a share of the
// work that nobody does, and every master would agree on that deal.
func (cd *Candidate) onlyCandidates(ctx context.Context, names []string) ([]string, error) {
	cd.mu.Lock()
	defer cd.mu.Unlock()
	known := make(map[string]bool, len(names))
	var unknown []string
	for _, n := range names {
		if e, ok := cd.ephemeral[n]; ok {
			known[n] = e
		} else {
			unknown = append(unknown, n)
		}
	}
	stats := make([]*zk.Stat, len(unknown))
	if err := zkclient.Pipeline(len(unknown), func(i int) error {
		st, err := cd.e.c.Exists(ctx, cd.e.dir+"/"+unknown[i])
		stats[i] = st
		return err
	}); err != nil {
		return nil, err
	}
	for i, n := range unknown {
		if stats[i] == nil {
			continue // gone: not known, so dropped below
		}
		known[n] = stats[i].EphemeralOwner != 0
		if !known[n] {
			cd.e.c.Logger().Warn("ignoring a znode that is not a candidate: it is not ephemeral", zap.String("path", cd.e.dir+"/"+n))
		}
	}
	cd.ephemeral = known // only the names still queued: it never grows past the queue
	return slices.DeleteFunc(names, func(n string) bool { return !known[n] }), nil
}

// Resign leaves the queue by deleting the candidate's znode ("when ready,
// candidate removes itself from the queue"). Leaving twice is harmless.
func (cd *Candidate) Resign(ctx context.Context) error {
	err := cd.e.c.Delete(ctx, cd.key, -1)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}
