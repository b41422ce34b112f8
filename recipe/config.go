package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// ErrBadConfig reports a config znode whose data is not a JSON object of
// valid keys to strings (someone wrote it by hand, or with another tool).
var ErrBadConfig = errors.New("config: invalid config data")

var configKey = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// ServiceConfig is the distributed config PettingZoo's README planned: a
// service-wide config with per-process overrides, which every process
// watches to learn that its effective config changed.
//
//	<dir>            service-wide values: a JSON object of key → string
//	<dir>/<process>  that process's overrides, same encoding
//
// Writes are conditional on the znode version read (retried on conflict),
// so concurrent writers of different keys do not lose each other's values.
// The znodes are persistent: overrides outlive the processes' sessions.
type ServiceConfig struct {
	c   *zkclient.Client
	dir string
}

// NewServiceConfig returns the config held at dir.
func NewServiceConfig(c *zkclient.Client, dir string) *ServiceConfig {
	return &ServiceConfig{c: c, dir: dir}
}

func (s *ServiceConfig) node(process string) (string, error) {
	if process == "" {
		return s.dir, nil
	}
	if err := validName("process name", process); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return s.dir + "/" + process, nil
}

func checkKey(key string) error {
	if !configKey.MatchString(key) {
		return fmt.Errorf("config: invalid key %q: want [a-z0-9_.-]+", key)
	}
	return nil
}

// decodeConfig reads a config znode's data; empty data is an empty config.
func decodeConfig(p string, data []byte) (map[string]string, error) {
	m := map[string]string{}
	if len(data) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w at %s: want a JSON object of string values: %v", ErrBadConfig, p, err)
	}
	if m == nil { // "null"
		m = map[string]string{}
	}
	for k := range m {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("%w at %s: %v", ErrBadConfig, p, err)
		}
	}
	return m, nil
}

// Set sets key to value, service-wide (process "") or for one process.
func (s *ServiceConfig) Set(ctx context.Context, key, value, process string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.update(ctx, process, func(m map[string]string) bool {
		if v, ok := m[key]; ok && v == value {
			return false
		}
		m[key] = value
		return true
	})
}

// Unset removes key, service-wide (process "") or from one process's
// overrides (where the service-wide value then applies again).
func (s *ServiceConfig) Unset(ctx context.Context, key, process string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.update(ctx, process, func(m map[string]string) bool {
		if _, ok := m[key]; !ok {
			return false
		}
		delete(m, key)
		return true
	})
}

// update applies change to the config at process with a read and a
// conditional write, until the write is not in conflict. A write whose
// reply was lost is re-read: change then finds nothing to do. It refuses
// to overwrite data it cannot read.
func (s *ServiceConfig) update(ctx context.Context, process string, change func(map[string]string) bool) error {
	p, err := s.node(process)
	if err != nil {
		return err
	}
	for {
		data, stat, err := s.c.Get(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			m := map[string]string{}
			if !change(m) {
				return nil
			}
			b, _ := json.Marshal(m)
			_, err = s.c.Create(ctx, p, b, zk.FlagPersistent)
			switch {
			case err == nil, errors.Is(err, zk.ErrNodeExists):
				continue // re-read: someone (or a lost earlier reply) created it
			case errors.Is(err, zk.ErrNoNode):
				if err := ensurePath(ctx, s.c, s.dir); err != nil {
					return err
				}
				continue
			}
		}
		if err != nil {
			if err := s.c.Retry(ctx, err); err != nil {
				return fmt.Errorf("config: %s: %w", p, err)
			}
			continue
		}
		m, err := decodeConfig(p, data)
		if err != nil {
			return err
		}
		if !change(m) {
			return nil
		}
		b, _ := json.Marshal(m) // sorted keys: stable bytes
		_, err = s.c.Set(ctx, p, b, stat.Version)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode):
			continue
		}
		if err := s.c.Retry(ctx, err); err != nil {
			return fmt.Errorf("config: %s: %w", p, err)
		}
	}
}

// Values returns one layer: the service-wide values (process "") or a
// process's overrides alone.
func (s *ServiceConfig) Values(ctx context.Context, process string) (map[string]string, error) {
	p, err := s.node(process)
	if err != nil {
		return nil, err
	}
	for {
		data, _, err := s.c.Get(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			return map[string]string{}, nil
		}
		if err == nil {
			return decodeConfig(p, data)
		}
		if err := s.c.Retry(ctx, err); err != nil {
			return nil, err
		}
	}
}

// Effective returns process's config: the service-wide values overridden by
// the process's own. It fails with ErrBadConfig if either znode holds
// garbage.
func (s *ServiceConfig) Effective(ctx context.Context, process string) (map[string]string, error) {
	svc, err := s.Values(ctx, "")
	if err != nil || process == "" {
		return svc, err
	}
	own, err := s.Values(ctx, process)
	if err != nil {
		return nil, err
	}
	maps.Copy(svc, own)
	return svc, nil
}

// Watch calls fn with process's effective config now and after every change
// of the service-wide or the process's znode (fn gets the new effective
// config, which may be unchanged when an overridden key changed). When a
// znode holds garbage fn gets a nil map and an error wrapping ErrBadConfig,
// and the watch goes on: the next valid write is reported as usual. After a
// session expiry it re-reads both and calls fn if anything changed (it
// follows sessions itself). It returns once fn has had the current config;
// fn then runs on the watcher's goroutine until ctx ends, which ends the
// goroutine.
func (s *ServiceConfig) Watch(ctx context.Context, process string, fn func(map[string]string, error)) error {
	pp, err := s.node(process)
	if err != nil {
		return err
	}
	w := &configWatch{c: s.c, fn: fn, paths: []string{s.dir}}
	if process != "" {
		w.paths = append(w.paths, pp)
	}
	w.layers = make([]layer, len(w.paths))
	sess, err := s.c.Session(ctx)
	if err != nil {
		return err
	}
	w.chans = make([]<-chan zk.Event, len(w.paths))
	for i := range w.paths {
		if err := w.read(ctx, i); err != nil {
			return fmt.Errorf("config: watch %s: %w", pp, err)
		}
	}
	w.report(true)
	go followSessions(ctx, s.c, "config "+s.dir, sess, w)
	return nil
}

type layer struct {
	values map[string]string
	err    error
}

type configWatch struct {
	c      *zkclient.Client
	fn     func(map[string]string, error)
	paths  []string // the service's znode, then the process's
	layers []layer
	chans  []<-chan zk.Event // each layer's watch
	last   map[string]string
	lastOK bool
}

// read reads layer i with a data watch, or an exists watch while its znode
// is missing (in w.chans[i]).
func (w *configWatch) read(ctx context.Context, i int) error {
	p := w.paths[i]
	for {
		data, _, ch, err := w.c.GetW(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			var st *zk.Stat
			st, ch, err = w.c.ExistsW(ctx, p)
			if err == nil && st != nil {
				continue // created meanwhile: read it
			}
			if err == nil {
				w.layers[i] = layer{values: map[string]string{}}
				w.chans[i] = ch
				return nil
			}
		}
		if err != nil {
			if err := w.c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		m, derr := decodeConfig(p, data)
		w.layers[i] = layer{values: m, err: derr}
		w.chans[i] = ch
		return nil
	}
}

// report calls fn with the effective config or the first layer's error;
// unless always, only when that differs from the last call.
func (w *configWatch) report(always bool) {
	eff := map[string]string{}
	for _, l := range w.layers {
		if l.err != nil {
			w.lastOK = false
			w.fn(nil, l.err)
			return
		}
		maps.Copy(eff, l.values)
	}
	if !always && w.lastOK && maps.Equal(eff, w.last) {
		return
	}
	w.last, w.lastOK = eff, true
	w.fn(maps.Clone(eff), nil)
}

// resync re-reads both layers on a new session and reports a change.
func (w *configWatch) resync(ctx context.Context) error {
	for i := range w.paths {
		if err := w.read(ctx, i); err != nil {
			return err
		}
	}
	w.report(false)
	return nil
}

// step waits for either layer's watch and reads that layer again (see
// watcher). A failed read is reported to fn too: its config is unknown
// until the resync.
func (w *configWatch) step(ctx context.Context, sess *zkclient.Session) error {
	var own <-chan zk.Event
	if len(w.chans) > 1 {
		own = w.chans[1]
	}
	var (
		i  int
		ev zk.Event
	)
	select {
	case <-ctx.Done():
		return nil
	case <-sess.Done():
		return nil
	case ev = <-w.chans[0]:
		i = 0
	case ev = <-own:
		i = 1
	}
	if ev.Type == zk.EventNotWatching {
		awaitEnd(ctx, sess)
		return nil
	}
	if err := w.read(ctx, i); err != nil {
		if ctx.Err() == nil && !errors.Is(err, zkclient.ErrClosed) {
			w.fn(nil, err)
		}
		return err
	}
	w.report(true)
	return nil
}
