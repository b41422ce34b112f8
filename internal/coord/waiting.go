package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// Waiting is the data of <root>/waiting: the kinds whose due tasks wait
// because no live worker runs them, as the leader of Epoch last saw them.
// Only the leader knows this (it has read the tasks' Specs); it publishes
// it so that `client status`, in another process, can say which kinds
// are missing without reading every pending task. It is written only when
// the set of kinds or their counts change, so a service whose workers run
// every kind never writes it.
type Waiting struct {
	Epoch int64          `json:"epoch"`
	Kinds map[string]int `json:"kinds"` // kind -> due tasks waiting for it; empty: none
	At    time.Time      `json:"at"`
}

// Waiting is the path of the leader's Waiting record.
func (l Layout) Waiting() string { return l.join("waiting") }

// PublishWaiting is the leader's "waiting" write: it sets <root>/waiting
// to w, creating it when missing (a tree older than this record), fenced
// like every write of the leader.
func (ld *Leader) PublishWaiting(ctx context.Context, w Waiting) error {
	w.Epoch = ld.fence.Epoch
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	_, err = FencedMulti(ctx, ld.c, ld.fence, zkclient.SetOp(ld.l.Waiting(), b, -1))
	if errors.Is(err, zk.ErrNoNode) {
		_, err = FencedMulti(ctx, ld.c, ld.fence, zkclient.CreateOp(ld.l.Waiting(), b, zk.FlagPersistent))
		if errors.Is(err, zk.ErrNodeExists) {
			return ld.PublishWaiting(ctx, w) // created meanwhile (by a deposed leader, or a tool): set it
		}
	}
	return err
}

// readWaiting fills st.WaitingForKind from <root>/waiting when the record
// is the current leader's (a deposed leader's view is stale). A missing
// or unreadable record shows nothing: it is a hint, not the queue.
func readWaiting(ctx context.Context, c *zkclient.Client, l Layout, st *Status) error {
	data, _, err := c.Get(ctx, l.Waiting())
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", l.Waiting(), err)
	}
	var w Waiting
	if json.Unmarshal(data, &w) != nil || w.Epoch != st.Epoch.Epoch || len(w.Kinds) == 0 {
		return nil
	}
	st.WaitingForKind = w.Kinds
	return nil
}
