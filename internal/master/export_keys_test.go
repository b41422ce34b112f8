package master

import (
	"context"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Sweeper returns one term's sweep, as sweepLoop runs it (one memory of key
// ages for the term), for a leader holding fence: tests call it when they
// choose instead of waiting for the timer.
func Sweeper(ctx context.Context, c *zkclient.Client, l coord.Layout, fence coord.Fence, retention time.Duration, log *zap.Logger) (func(now time.Time) (coord.Removed, error), error) {
	sess, err := c.Session(ctx)
	if err != nil {
		return nil, err
	}
	cfg := Config{ID: "sweeper", Batch: DefaultBatch, Logger: log}
	ct := newController(c, l, cfg, newLiveRetention(retention, retention), sess, fence, shareOf(0, 1, 1))
	keys := coord.NewKeyAges()
	return func(now time.Time) (coord.Removed, error) { return ct.sweep(ctx, now, keys) }, nil
}
