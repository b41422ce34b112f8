package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/paddock-zk/paddock/internal/coord"
	"go.uber.org/zap"
)

// Env is what a command runs with: a logger and a connected client.
type Env struct {
	Log    *zap.Logger
	Client *coord.Client
	Layout coord.Layout
}

// Open validates the options, builds the logger and connects.
func (o *Options) Open(ctx context.Context, name string) (*Env, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log, err := o.Logger(name)
	if err != nil {
		return nil, err
	}
	if o.Pprof != "" {
		if err := servePprof(o.Pprof, log); err != nil {
			return nil, Usage(fmt.Errorf("--pprof %s: %w", o.Pprof, err))
		}
	}
	c, layout, err := o.Connect(ctx, log)
	if err != nil {
		_ = log.Sync()
		return nil, err
	}
	return &Env{Log: log, Client: c, Layout: layout}, nil
}

// Close ends the session (the server removes this process's ephemeral
// znodes at once) and flushes the log.
func (e *Env) Close() {
	st := e.Client.Stats()
	e.Log.Info("zookeeper traffic", zap.Int64("requests", st.Requests), zap.Int64("watch_events", st.WatchEvents))
	e.Client.Close()
	_ = e.Log.Sync()
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName validates a process name used as a znode name (--id).
func CheckName(flag, name string) error {
	if !nameRE.MatchString(name) {
		return Usage(fmt.Errorf("--%s %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", flag, name))
	}
	return nil
}

// DefaultName is the host name with a random suffix: unique per process
// without configuration, and still telling where it runs.
func DefaultName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "paddock"
	}
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '-'
	}, h)
	if len(h) > 40 {
		h = h[:40]
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return h + "-" + hex.EncodeToString(b[:])
}
