package master

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"go.uber.org/zap"
)

// liveRetention is the result and the dead-letter retentions in force: the
// master.retention and master.dead-retention settings when set (they are
// live), else the --retention and --dead-retention flags.
type liveRetention struct {
	results, dead liveDuration
	// leaders is the master.leaders setting in force (1 when unset or
	// invalid): how many masters lead at once (see stand.go).
	leaders atomic.Int32
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
}

// liveDuration is one setting: its flag, and the value in force.
type liveDuration struct {
	key, what string
	flag      time.Duration
	d         atomic.Int64
}

func newLiveRetention(results, dead time.Duration) *liveRetention {
	r := &liveRetention{changed: make(chan struct{})}
	r.results.key, r.results.what, r.results.flag = coord.KeyMasterRetention, "result retention", results
	r.dead.key, r.dead.what, r.dead.flag = coord.KeyMasterDeadRetention, "dead-letter retention", dead
	r.results.d.Store(int64(results))
	r.dead.d.Store(int64(dead))
	r.leaders.Store(1)
	return r
}

// leadersNow is the number of masters that lead at once.
func (r *liveRetention) leadersNow() int { return int(r.leaders.Load()) }

func (r *liveRetention) get() time.Duration { return time.Duration(r.results.d.Load()) }

func (r *liveRetention) getDead() time.Duration { return time.Duration(r.dead.d.Load()) }

// watch returns a channel closed at the next change.
func (r *liveRetention) watch() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *liveRetention) configure(log *zap.Logger) func(map[string]string, error) {
	return func(values map[string]string, err error) {
		if err != nil {
			log.Warn("config is unreadable; keeping the current settings", zap.Error(err))
			return
		}
		changed := false
		for _, s := range []*liveDuration{&r.results, &r.dead} {
			d := s.flag
			if v, ok := values[s.key]; ok {
				if d, err = coord.ParseRetention(v); err != nil {
					log.Warn("ignoring an invalid setting", zap.String("key", s.key), zap.Error(err))
					d = s.flag
				}
			}
			if old := time.Duration(s.d.Swap(int64(d))); old != d {
				log.Info(s.what+" changed", zap.Duration("retention", d))
				changed = true
			}
		}
		n := 1
		if v, ok := values[coord.KeyMasterLeaders]; ok {
			if n, err = coord.ParseLeaders(v); err != nil {
				log.Warn("ignoring an invalid setting", zap.String("key", coord.KeyMasterLeaders), zap.Error(err))
				n = 1
			}
		}
		if old := r.leaders.Swap(int32(n)); int(old) != n {
			log.Info("leaders changed", zap.Int("leaders", n))
			changed = true
		}
		if changed {
			r.mu.Lock()
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	}
}
