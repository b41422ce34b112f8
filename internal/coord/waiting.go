package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// Waiting is a leader's view of the kinds whose due tasks wait because no
// live worker runs them. Only a leader knows this (it has read the tasks'
// Specs); it publishes it so that `client status`, in another process, can
// say which kinds are missing without reading every pending task. It is
// written only when the set of kinds or their counts change, so a service
// whose workers run every kind never writes it.
//
// One leader writes <root>/waiting. Each of several leaders writes its own,
// <root>/waiting/<p> (p its lowest partition), naming its partitions: one
// znode per writer, so that none overwrites another's view.
type Waiting struct {
	Epoch int64          `json:"epoch"`
	Kinds map[string]int `json:"kinds"` // kind -> due tasks waiting for it; empty: none
	At    time.Time      `json:"at"`
	// Partitions are the writer's when it leads some (several leaders);
	// absent when it leads all.
	Partitions []int `json:"partitions,omitempty"`
}

// Waiting is the path of the single leader's Waiting record.
func (l Layout) Waiting() string { return l.join("waiting") }

// WaitingOf is the path of the Waiting record of the leader whose lowest
// partition is p, when several lead.
func (l Layout) WaitingOf(p int) string { return l.join("waiting", fmt.Sprintf("%x", p)) }

// PublishWaiting is the leader's "waiting" write: it sets its record
// (<root>/waiting, or <root>/waiting/<p> when it leads some partitions) to
// w, creating what is missing, fenced like every write of the leader.
func (ld *Leader) PublishWaiting(ctx context.Context, w Waiting) error {
	w.Epoch = ld.fence.Epoch
	path := ld.l.Waiting()
	if parts := ld.fence.Parts; parts != nil {
		w.Partitions = slices.Sorted(maps.Keys(parts))
		path = ld.l.WaitingOf(w.Partitions[0])
	}
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	create := zkclient.CreateOp(path, b, zk.FlagPersistent)
	_, err = FencedMulti(ctx, ld.c, ld.fence, zkclient.SetOp(path, b, -1))
	if errors.Is(err, zk.ErrNoNode) {
		_, err = FencedMulti(ctx, ld.c, ld.fence, create)
	}
	if errors.Is(err, zk.ErrNoNode) && path != ld.l.Waiting() {
		// No waiting/ yet, for a record of several leaders: make it too.
		// (Not in the first create: a create of an existing node fails the
		// multi.)
		_, err = FencedMulti(ctx, ld.c, ld.fence, zkclient.CreateOp(ld.l.Waiting(), nil, zk.FlagPersistent), create)
	}
	if errors.Is(err, zk.ErrNodeExists) {
		return ld.PublishWaiting(ctx, w) // created meanwhile (by a deposed leader, or a tool): set it
	}
	return err
}

// readWaiting fills st.WaitingForKind from the leaders' Waiting records
// that are current: the single leader's when its epoch is the epoch's, each
// of several leaders' when every partition it names was last taken over in
// its epoch (st.Partitions: readPartitions runs first). A deposed leader's
// view is stale and left out. A missing or unreadable record shows nothing:
// it is a hint, not the queue.
func readWaiting(ctx context.Context, c *zkclient.Client, l Layout, st *Status) error {
	data, _, err := c.Get(ctx, l.Waiting())
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", l.Waiting(), err)
	}
	var w Waiting
	if json.Unmarshal(data, &w) == nil && w.Epoch == st.Epoch.Epoch && len(w.Partitions) == 0 {
		addWaiting(st, w)
		return nil
	}
	names, _, err := c.Children(ctx, l.Waiting())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("list %s: %w", l.Waiting(), err)
	}
	taken := map[int]int64{} // partition -> the epoch of its take-over
	for _, p := range st.Partitions {
		if n, err := strconv.ParseInt(p.Partition, 16, 0); err == nil {
			taken[int(n)] = p.Epoch
		}
	}
	recs := make([]*Waiting, len(names))
	if err := zkclient.Pipeline(len(names), func(i int) error {
		data, _, err := c.Get(ctx, l.Waiting()+"/"+names[i])
		var w Waiting
		if err == nil && json.Unmarshal(data, &w) == nil && len(w.Partitions) > 0 {
			recs[i] = &w
		}
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		return err
	}); err != nil {
		return fmt.Errorf("read %s: %w", l.Waiting(), err)
	}
	for _, w := range recs {
		if w != nil && !slices.ContainsFunc(w.Partitions, func(p int) bool { e, ok := taken[p]; return !ok || e != w.Epoch }) {
			addWaiting(st, *w)
		}
	}
	return nil
}

// addWaiting adds w's counts to st's.
func addWaiting(st *Status, w Waiting) {
	for kind, n := range w.Kinds {
		if n <= 0 {
			continue
		}
		if st.WaitingForKind == nil {
			st.WaitingForKind = map[string]int{}
		}
		st.WaitingForKind[kind] += n
	}
}
