package master

import (
	"context"
	"errors"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"go.uber.org/zap"
)

// sweepEvery is how often the leader looks for expired results and dead
// letters: a quarter of the shorter retention, within [1s, 1h]. Retention
// is about time passing, which no watch reports, so a timer is the right
// tool here.
func sweepEvery(retention, deadRetention time.Duration) time.Duration {
	return min(max(min(retention, deadRetention)/4, time.Second), time.Hour)
}

// sweepLoop removes results (with their payloads) older than the retention
// and dead letters (with their payloads and dead results) older than the
// dead-letter retention: what clients that died never collected, and what
// no operator requeued or purged; and it frees the idempotency keys whose
// tasks were submitted longer than the retention ago. It runs beside the
// controller and writes through the same fence.
func (ct *controller) sweepLoop(ctx context.Context) error {
	every := func() time.Duration { return sweepEvery(ct.retention.get(), ct.retention.getDead()) }
	// A key's age never changes: remembered for the term, each key is read
	// once, not at every sweep.
	keys := coord.NewKeyAges()
	t := time.NewTimer(every())
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ct.retention.watch():
			// The retentions are live: sweep now by the new ones.
		case <-ctx.Done():
			return nil
		}
		t.Reset(every())
		n, err := ct.sweep(ctx, time.Now(), keys)
		ct.m.expired.Add(float64(n.Removed))
		switch {
		case err == nil:
			if n.Removed > 0 || n.Left > 0 {
				ct.log.Info("expired uncollected results", zap.Int("removed", n.Removed), zap.Int("left", n.Left),
					zap.Duration("retention", ct.retention.get()), zap.Duration("dead_retention", ct.retention.getDead()))
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

// sweep removes the results and the dead letters past their retentions
// ("expire" in docs/PROTOCOL.md), by the rules a client's purge follows,
// then the keys past the result retention ("expire-keys"). The key
// retention is the result retention so that a repeat submit within it
// finds the first task's id while its result may still be read.
func (ct *controller) sweep(ctx context.Context, now time.Time, keys *coord.KeyAges) (coord.Removed, error) {
	n, err := ct.ld.Expire(ctx, now, ct.retention.get(), ct.retention.getDead(), ct.cfg.Batch)
	if err != nil {
		return n, err
	}
	k, err := ct.ld.ExpireKeys(ctx, keys, now, ct.retention.get(), ct.cfg.Batch)
	if k.Removed > 0 {
		ct.log.Info("freed idempotency keys", zap.Int("removed", k.Removed), zap.Duration("retention", ct.retention.get()))
	}
	return n, err
}
