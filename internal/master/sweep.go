package master

import (
	"context"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"go.uber.org/zap"
)

// sweepEvery is how often the leader looks for expired results: a quarter of
// the retention, within [1s, 1h]. Retention is about time passing, which no
// watch reports, so a timer is the right tool here.
func sweepEvery(retention time.Duration) time.Duration {
	return min(max(retention/4, time.Second), time.Hour)
}

// sweepLoop removes results (with their payloads) and dead letters older
// than the retention: what clients that died never collected. It runs
// beside the controller and writes through the same fence.
func (ct *controller) sweepLoop(ctx context.Context) error {
	t := time.NewTimer(sweepEvery(ct.retention.get()))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ct.retention.watch():
			// The retention is live: sweep now by the new one.
		case <-ctx.Done():
			return nil
		}
		t.Reset(sweepEvery(ct.retention.get()))
		n, err := ct.sweep(ctx, time.Now())
		switch {
		case err == nil:
			if n > 0 {
				ct.log.Info("expired uncollected results", zap.Int("removed", n), zap.Duration("retention", ct.retention.get()))
			}
		case errors.Is(err, coord.ErrDeposed):
			return err
		case ctx.Err() != nil:
			return nil
		default:
			ct.log.Warn("result sweep failed; retrying at the next tick", zap.Error(err))
		}
	}
}

// sweep removes everything under results/ and dead/ whose znode is older
// than the retention, and reports how many entries went.
func (ct *controller) sweep(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.Add(-ct.retention.get()).UnixMilli()
	type entry struct {
		id   task.ID
		dead bool // a dead letter rather than a result
	}
	var expired []entry
	for _, dead := range []bool{false, true} {
		shards := task.Shards()
		found := make([][]entry, len(shards))
		err := coord.Pipeline(len(shards), func(i int) error {
			parent := ct.l.ResultShard(shards[i])
			if dead {
				parent = ct.l.DeadShard(shards[i])
			}
			names, _, err := ct.c.Children(ctx, parent)
			if err != nil {
				if errors.Is(err, zk.ErrNoNode) {
					return nil
				}
				return err
			}
			for _, n := range names {
				id, err := task.ParseID(n)
				if err != nil {
					continue
				}
				st, err := ct.c.Exists(ctx, parent+"/"+n)
				if err != nil {
					return err
				}
				if st != nil && st.Ctime < cutoff {
					found[i] = append(found[i], entry{id, dead})
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		for _, f := range found {
			expired = append(expired, f...)
		}
	}
	if len(expired) == 0 {
		return 0, nil
	}
	// A payload stays until its result goes (the client may still collect).
	hasPayload := make([]bool, len(expired))
	if err := coord.Pipeline(len(expired), func(i int) error {
		if expired[i].dead {
			return nil
		}
		st, err := ct.c.Exists(ctx, ct.l.Payload(expired[i].id))
		hasPayload[i] = st != nil
		return err
	}); err != nil {
		return 0, err
	}
	removed := 0
	for start := 0; start < len(expired); start += ct.cfg.Batch {
		end := min(start+ct.cfg.Batch, len(expired))
		items := make([][]coord.Op, 0, end-start)
		for i := start; i < end; i++ {
			e := expired[i]
			switch {
			case e.dead:
				items = append(items, []coord.Op{coord.DeleteOp(ct.l.DeadLetter(e.id), -1)})
			case hasPayload[i]:
				items = append(items, ct.q.CollectOps(e.id))
			default:
				items = append(items, []coord.Op{coord.DeleteOp(ct.l.Result(e.id), -1)})
			}
		}
		failed, err := ct.c.FencedBatch(ctx, ct.fence, items)
		if err != nil {
			return removed, err
		}
		n := len(items) - len(failed) // a failed one was collected meanwhile
		removed += n
		ct.m.expired.Add(float64(n))
	}
	return removed, nil
}
