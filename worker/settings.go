package worker

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"go.uber.org/zap"
)

// configure applies the live settings (called by the config watch with
// the effective values: the worker's own overrides over the service-wide
// ones): worker.concurrency and the retry.<kind> defaults.
func (s *server) configure(values map[string]string, err error) {
	if err != nil {
		s.log.Warn("config is unreadable; keeping the current settings", zap.Error(err))
		return
	}
	s.w.retry.set(values, s.log)
	s.resize(values)
}

// resize applies worker.concurrency, which overrides Config.Concurrency
// until it is unset. The new concurrency is advertised so the master sizes
// its assignments to it.
func (s *server) resize(values map[string]string) {
	n := s.w.cfg.Concurrency
	if v, ok := values[coord.KeyWorkerConcurrency]; ok {
		var err error
		if n, err = coord.ParseConcurrency(v); err != nil {
			s.log.Warn("ignoring an invalid setting", zap.String("key", coord.KeyWorkerConcurrency), zap.Error(err))
			n = s.w.cfg.Concurrency
		}
	}
	s.infoMu.Lock()
	changed := s.info.Concurrency != n
	s.info.Concurrency = n
	info := s.info
	s.infoMu.Unlock()
	if !changed {
		return
	}
	s.lim.resize(n)
	s.m.nConcurrency.Store(int64(n))
	s.log.Info("concurrency changed", zap.Int("concurrency", n))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.pool.Advertise(ctx, s.id, info); err != nil {
		s.log.Warn("could not advertise the new concurrency; it applies at the next registration", zap.Error(err))
	}
}

// retryDefaults are the retry policies of the live settings, by kind: the
// policy of a task of that kind submitted without one of its own. Its
// policy method is what the queue asks when a task fails.
type retryDefaults struct {
	byKind atomic.Pointer[map[string]task.RetryPolicy]
}

// set replaces the policies with those in values, leaving out (with a
// warning) any that does not parse: the kind then has no default.
func (d *retryDefaults) set(values map[string]string, log *zap.Logger) {
	m := make(map[string]task.RetryPolicy)
	for key, v := range values {
		kind, ok := strings.CutPrefix(key, coord.KeyRetryPrefix)
		if !ok {
			continue
		}
		p, err := coord.ParseRetrySetting(kind, v)
		if err != nil {
			log.Warn("ignoring an invalid setting", zap.String("key", key), zap.Error(err))
			continue
		}
		m[kind] = p
	}
	d.byKind.Store(&m)
}

// policy is kind's default retry policy; nil when it has none (the task
// is not retried).
func (d *retryDefaults) policy(kind string) *task.RetryPolicy {
	m := d.byKind.Load()
	if m == nil {
		return nil
	}
	if p, ok := (*m)[kind]; ok {
		return &p
	}
	return nil
}
