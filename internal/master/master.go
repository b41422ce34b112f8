// Package master is Paddock's master: it stands in the election, and while
// it leads it assigns tasks to workers, takes back the tasks of lost workers,
// dead-letters what cannot run, and expires uncollected results. Every write
// it makes goes through coord.Leader, fenced, so a deposed master applies
// none.
//
// This file is the election loop (Run); controller.go is the leader's loop,
// and its header names the file of each of its concerns.
package master

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Defaults for Config.
const (
	DefaultRetention = 24 * time.Hour
	// DefaultDeadRetention keeps dead letters a week: long enough for an
	// operator back from a weekend to find, inspect and requeue them.
	DefaultDeadRetention = 7 * 24 * time.Hour
	DefaultBatch         = 256
)

// Config tunes a master.
type Config struct {
	ID            string        // this master's name, shown to operators
	Retention     time.Duration // how long an uncollected result is kept
	DeadRetention time.Duration // how long a dead letter (and its payload) is kept
	Batch         int           // most tasks assigned in one multi
	Logger        *zap.Logger
	// Metrics receives what the master counts and where it stands (nil:
	// counted, not exported).
	Metrics *Metrics
	// Loop is told when the master's main loop waits for events (nil: not
	// watched); see ops.Loop.
	Loop *ops.Loop

	// beforeRead, when set (by tests), is called before each pipelined
	// read of task records the leader makes: the moment a test cuts the
	// connection to prove that a failed read loses nothing.
	beforeRead func(ids []task.ID)
}

func (cfg *Config) defaults() {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.DeadRetention <= 0 {
		cfg.DeadRetention = DefaultDeadRetention
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
}

// Run stands for election under l.Master() and leads whenever elected, until
// ctx is done. Losing leadership (session expiry, a failed fence) is not an
// error: the master logs it, steps down and stands again as a backup.
func Run(ctx context.Context, c *zkclient.Client, l coord.Layout, cfg Config) error {
	cfg.defaults()
	log, m, loop := cfg.Logger, cfg.Metrics, cfg.Loop
	defer m.stand(standNone, 0)
	defer loop.Waiting() // exited: no longer a loop to watch
	el := recipe.NewLeaderQueue(c, l.Master())
	me, err := json.Marshal(recipe.Self(cfg.ID))
	if err != nil {
		return err
	}
	retention := newLiveRetention(cfg.Retention, cfg.DeadRetention)
	if err := coord.PaddockConfig(c, l).Watch(ctx, cfg.ID, retention.configure(log)); err != nil {
		return ignoreCancel(ctx, err)
	}
	var backoff retryDelay
	for {
		m.stand(standNone, 0)
		loop.Waiting()
		sess, err := c.Session(ctx)
		loop.Working()
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		cand, err := el.Join(ctx, sess, me)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, recipe.ErrSessionLost) {
				log.Error("cannot join the election", zap.Error(err))
				if err := backoff.wait(ctx); err != nil {
					return nil
				}
			}
			continue
		}
		log.Info("joined election", zap.String("candidate", cand.Key()), zap.String("session", sess.String()))
		m.stand(standBackup, 0)
		loop.Waiting() // a backup waits for its turn
		err = (&candidacy{c: c, l: l, cfg: cfg, settings: retention, cand: cand}).run(ctx)
		m.stand(standNone, 0)
		resign(cand, log)
		if ctx.Err() != nil {
			if sd := (*stepDown)(nil); errors.As(err, &sd) && sd.stage == "lead" {
				log.Info("resigned leadership on shutdown", zap.Int64("epoch", sd.epoch))
			}
			return nil
		}
		if !afterStepDown(ctx, err, log, m, &backoff) {
			return nil
		}
	}
}

// afterStepDown reports why a candidacy ended, counts a deposition, and
// spaces the next one when the same failure may recur (it reports false
// when ctx ended meanwhile). Losing leadership is not an error: the master
// stands again as a backup.
func afterStepDown(ctx context.Context, err error, log *zap.Logger, m *Metrics, backoff *retryDelay) bool {
	var sd *stepDown
	if !errors.As(err, &sd) {
		sd = &stepDown{stage: "lead", err: err}
	}
	switch {
	case sd.stage == "stand":
		log.Warn("candidacy lost; standing again", zap.Error(sd.err))
		return true
	case sd.stage == "take-over":
		log.Warn("elected but could not take over; standing again", zap.String("epoch", sd.epochPath), zap.Error(sd.err))
		// Not in a tight loop when it keeps failing (the epoch znode
		// belongs to another identity: NoAuth).
		return errors.Is(sd.err, coord.ErrDeposed) || backoff.wait(ctx) == nil
	case errors.Is(sd.err, coord.ErrDeposed) || errors.Is(sd.err, recipe.ErrSessionLost):
		m.deposed.Inc()
		log.Warn("deposed: stepping down to backup", zap.Int64("epoch", sd.epoch), zap.Error(sd.err))
		backoff.reset()
		return true
	}
	if time.Since(sd.since) > time.Minute {
		backoff.reset() // it had been working: this is a new failure
	}
	// Not deposed: something else failed (e.g. the tree's ACL). Stand
	// again, but not in a tight loop if it keeps failing.
	log.Error("leading failed: stepping down to backup", zap.Int64("epoch", sd.epoch), zap.Error(sd.err))
	return backoff.wait(ctx) == nil
}

// resign deletes the candidacy so the next candidate takes over at once
// instead of after a session timeout.
func resign(cand *recipe.Candidate, log *zap.Logger) {
	if !cand.Session().Alive() {
		return // the server has removed it already
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cand.Resign(ctx); err != nil {
		log.Warn("could not resign candidacy; it goes with the session", zap.Error(err))
	}
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// retryDelay spaces retries after unexpected errors (not a synchronisation
// device: nothing waits on it for a state change).
type retryDelay struct{ d time.Duration }

func (r *retryDelay) reset() { r.d = 0 }

func (r *retryDelay) wait(ctx context.Context) error {
	r.d = min(max(2*r.d, 100*time.Millisecond), 5*time.Second)
	t := time.NewTimer(r.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
