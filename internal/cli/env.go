package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/ops"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Env is what a command runs with: a logger and a connected client.
type Env struct {
	Log    *zap.Logger
	Client *zkclient.Client
	Layout coord.Layout
	// HTTP is the operations listener of --http-addr, bound but not yet
	// serving: the daemon registers its metrics and checks (others mount
	// their pages with HTTP.Handle), then calls HTTP.Start. Nil without
	// --http-addr; its methods then do nothing.
	HTTP *ops.Server
}

// Open validates the options, builds the logger, binds --http-addr when
// set, and connects. The listener is bound before connecting, so a bad
// address is a usage error (exit 2) whether or not ZooKeeper is up.
func (o *Options) Open(ctx context.Context, name string) (*Env, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log, err := o.Logger(name)
	if err != nil {
		return nil, err
	}
	var srv *ops.Server
	if o.HTTPAddr != "" {
		if srv, err = ops.Listen(ops.Config{Addr: o.HTTPAddr, Version: BuildVersion(), Logger: log.Named("http")}); err != nil {
			return nil, Usage(fmt.Errorf("--http-addr %s: %w", o.HTTPAddr, err))
		}
	}
	c, layout, err := o.Connect(ctx, log)
	if err != nil {
		_ = srv.Close(ctx)
		_ = log.Sync()
		return nil, err
	}
	return &Env{Log: log, Client: c, Layout: layout, HTTP: srv}, nil
}

// MainLoop prepares the operations listener of a daemon whose main loop
// is called name: the ZooKeeper client's metrics and its readiness check
// ("zookeeper"), and a liveness check ("loop") of the Loop it returns,
// which the daemon must report its waits to. It serves nothing yet.
func (e *Env) MainLoop(name string) *ops.Loop {
	loop := ops.NewLoop(name, ops.StallAfter(e.Client.SessionTimeout()))
	e.HTTP.MustRegister(ops.NewZKCollector(e.Client))
	e.HTTP.Ready("zookeeper", ops.Connected(e.Client))
	e.HTTP.Live("loop", loop.Check)
	return loop
}

// Close stops the operations listener (a request in progress gets a
// moment to finish), ends the session (the server removes this process's
// ephemeral znodes at once) and flushes the log.
func (e *Env) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := e.HTTP.Close(ctx); err != nil {
		e.Log.Warn("closing the http listener", zap.Error(err))
	}
	cancel()
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

// ServiceManager tells systemd (Type=notify units) about the daemon's life:
// the returned func sends READY=1 (call it once the daemon can do its job),
// and STOPPING=1 goes when ctx ends (the shutdown signal). Outside systemd
// both do nothing.
func (e *Env) ServiceManager(ctx context.Context) (ready func()) {
	send := func(state string) {
		if err := Notify(state); err != nil {
			e.Log.Warn("cannot notify the service manager", zap.String("state", state), zap.Error(err))
		}
	}
	context.AfterFunc(ctx, func() { send(NotifyStopping) })
	return func() { send(NotifyReady) }
}
