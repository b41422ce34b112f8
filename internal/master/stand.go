package master

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// share is the part of the work one term leads: the partitions that a
// master's place in the election queue gives it while `leaders` masters
// lead at once (the setting master.leaders, at most the queue's length).
// With one leader, the front candidate leads every partition: the seed's
// model, one leader and hot backups in line.
type share struct {
	parts   []int // the partitions led, ascending; none: a backup
	rank    int   // this master's place among the leaders
	leaders int   // how many masters lead
}

// shareOf deals the partitions round-robin to the first min(leaders,
// queue) candidates: partition p goes to the candidate at position p mod k.
// Every master computes the same deal from the same queue and setting.
func shareOf(position, queue, leaders int) share {
	k := min(leaders, queue)
	if position >= k {
		return share{}
	}
	s := share{rank: position, leaders: k}
	for p := position; p < coord.Partitions; p += k {
		s.parts = append(s.parts, p)
	}
	return s
}

func (s share) leads() bool { return len(s.parts) > 0 }

func (s share) same(o share) bool { return slices.Equal(s.parts, o.parts) && s.leaders == o.leaders }

// candidacy is one candidacy's life: term after term it leads the share
// its place gives it, and stands by while it has none. It returns, with a
// *stepDown saying why, when the candidacy must be given up: lost, its
// take-over refused, or a term deposed or failed.
type candidacy struct {
	c        *zkclient.Client
	l        coord.Layout
	cfg      Config
	settings *liveRetention
	cand     *recipe.Candidate
}

// stepDown is why a candidacy ended.
type stepDown struct {
	stage     string // "stand", "take-over" or "lead"
	epoch     int64  // the term's, when it led
	since     time.Time
	epochPath string // for a refused take-over: the epoch znode it writes
	err       error
}

func (s *stepDown) Error() string { return s.stage + ": " + s.err.Error() }
func (s *stepDown) Unwrap() error { return s.err }

func (cy *candidacy) run(ctx context.Context) error {
	log, m := cy.cfg.Logger, cy.cfg.Metrics
	for {
		sh, err := cy.await(ctx)
		if err != nil {
			return &stepDown{stage: "stand", err: err}
		}
		fence, err := coord.TakeOver(ctx, cy.c, cy.l, cy.cand, cy.cfg.ID, sh.parts)
		if err != nil {
			return &stepDown{stage: "take-over", epochPath: cy.l.Epoch(), err: err}
		}
		m.stand(standLeader, fence.Epoch)
		m.parts.Store(int32(len(sh.parts)))
		fields := []zap.Field{zap.Int64("epoch", fence.Epoch), zap.String("candidate", cy.cand.Key())}
		if sh.leaders > 1 {
			fields = append(fields, zap.Ints("partitions", sh.parts), zap.Int("leaders", sh.leaders))
		}
		log.Info("elected: leading", fields...)
		since := time.Now()
		termCtx, cancel := context.WithCancelCause(ctx)
		var bg sync.WaitGroup
		bg.Go(func() { cy.watchShare(termCtx, sh, cancel) })
		bg.Go(func() {
			if err := coord.WatchFence(termCtx, cy.c, cy.l, fence); err != nil {
				cancel(err)
			}
		})
		err = lead(termCtx, cy.c, cy.l, cy.cfg, cy.settings, cy.cand, fence, sh)
		cause := context.Cause(termCtx)
		cancel(nil)
		bg.Wait()
		m.stand(standBackup, 0)
		if ctx.Err() != nil {
			return &stepDown{stage: "lead", epoch: fence.Epoch, since: since, err: ctx.Err()}
		}
		if errors.Is(cause, coord.ErrDeposed) && !cy.shareChanged(ctx, sh) {
			// Another master took over part of this term's work, and not
			// because the deal gave it away: deposed, as by a refused
			// write.
			return &stepDown{stage: "lead", epoch: fence.Epoch, since: since, err: cause}
		}
		if errors.Is(cause, errShareChanged) || errors.Is(cause, coord.ErrDeposed) {
			log.Info("leaving the term: the leaders or their number changed", zap.Int64("epoch", fence.Epoch))
			continue
		}
		return &stepDown{stage: "lead", epoch: fence.Epoch, since: since, err: err}
	}
}

// shareChanged reports whether the deal, read now, gives this candidate
// another share than sh: a term whose partitions another master took over
// then ends as when it sees the change itself (the new holder saw it
// first), not as a deposition. An error reading it counts as no change.
func (cy *candidacy) shareChanged(ctx context.Context, sh share) bool {
	pos, queue, _, err := cy.cand.Rank(ctx)
	return err == nil && !shareOf(pos, queue, cy.settings.leadersNow()).same(sh)
}

// errShareChanged ends a term whose share is no longer this master's.
var errShareChanged = errors.New("the share of the work changed")

// await blocks until the candidate has a share to lead and returns it.
// With one leader it waits as the seed's election does, watching its
// predecessor only; with several, every candidate hears of every change
// of the queue (and of the setting) and works out its share again.
func (cy *candidacy) await(ctx context.Context) (share, error) {
	cy.cfg.Loop.Waiting()
	defer cy.cfg.Loop.Working()
	backup := -1
	for {
		n := cy.settings.leadersNow()
		changed := cy.settings.watch()
		if n == 1 {
			waitCtx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() {
				select {
				case <-changed:
					cancel()
				case <-waitCtx.Done():
				}
			})
			err := cy.cand.Lead(waitCtx, cy.observe)
			cancel()
			wg.Wait()
			switch {
			case err == nil:
				return shareOf(0, 1, 1), nil
			case ctx.Err() == nil && errors.Is(err, context.Canceled):
				continue // the setting changed
			default:
				return share{}, err
			}
		}
		pos, queue, queueChanged, err := cy.cand.Rank(ctx)
		if err != nil {
			if err := cy.c.RetryIn(ctx, cy.cand.Session(), err); err != nil {
				return share{}, err
			}
			continue
		}
		if sh := shareOf(pos, queue, n); sh.leads() {
			return sh, nil
		}
		if pos != backup {
			backup = pos
			cy.cfg.Logger.Info("standing by as backup", zap.Int("position", pos), zap.Int("leaders", min(n, queue)))
		}
		select {
		case <-queueChanged:
		case <-changed:
		case <-cy.cand.Session().Done():
			return share{}, recipe.ErrSessionLost
		case <-ctx.Done():
			return share{}, ctx.Err()
		}
	}
}

func (cy *candidacy) observe(s recipe.Standing) {
	if s.Position > 0 {
		leader, _ := recipe.DecodeMember(s.LeaderData)
		cy.cfg.Logger.Info("standing by as backup", zap.String("leader", leader.ID),
			zap.Int("position", s.Position), zap.String("watching", s.Predecessor))
	}
}

// watchShare ends the term (cancel with errShareChanged) once the queue
// or the setting gives this master another share than sh. With one
// leader only the setting can: the front candidate stays at the front
// until it leaves.
func (cy *candidacy) watchShare(ctx context.Context, sh share, cancel context.CancelCauseFunc) {
	for {
		n := cy.settings.leadersNow()
		changed := cy.settings.watch()
		var queueChanged <-chan zk.Event
		if n > 1 || sh.leaders > 1 {
			pos, queue, ch, err := cy.cand.Rank(ctx)
			if err != nil {
				// Keep watching once reconnected: a leader that stopped
				// watching would never take the partitions of one that
				// left. A lost session or candidacy ends the term anyway.
				if cy.c.RetryIn(ctx, cy.cand.Session(), err) != nil {
					return
				}
				continue
			}
			if !shareOf(pos, queue, n).same(sh) {
				cancel(errShareChanged)
				return
			}
			queueChanged = ch
		}
		select {
		case <-queueChanged:
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
