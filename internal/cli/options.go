// Package cli holds what Paddock's four binaries share: the connection and
// logging flags (with their environment defaults), logger construction,
// connecting to ZooKeeper, signal handling and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options are the flags every binary takes.
type Options struct {
	ZK             string
	Root           string
	SessionTimeout time.Duration
	ConnectTimeout time.Duration
	Auth           string
	LogLevel       string
	LogFormat      string
	// HTTPAddr is where a daemon serves metrics, health probes and Go's
	// profiles (internal/ops); empty: nowhere. Only daemons have the flag
	// (AddHTTPFlag).
	HTTPAddr string
}

// EnvZK is the variable naming the ZooKeeper servers, which error messages
// point at. Every flag has one (see EnvName).
var EnvZK = EnvName("zk")

// AddFlags registers the shared flags on fs. defaultLevel differs per binary
// (the client is quiet by default: its output is the answer). Their
// environment variables are applied by Prepare, like every other flag's.
func (o *Options) AddFlags(fs *pflag.FlagSet, defaultLevel string) {
	fs.StringVar(&o.ZK, "zk", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	fs.StringVar(&o.Root, "root", "/paddock", `znode under which Paddock keeps its tree; "/" gives the seed's bare layout`)
	fs.DurationVar(&o.SessionTimeout, "session-timeout", coord.DefaultSessionTimeout, "ZooKeeper session timeout: how long a silent process keeps its registrations (the server clamps it to [2,20] ticks)")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", coord.DefaultConnectTimeout, "give up when no ZooKeeper session is established within this time")
	fs.StringVar(&o.Auth, "zk-auth", "", "user:password for ZooKeeper digest auth; znodes Paddock creates are then writable by this identity only")
	fs.StringVar(&o.LogLevel, "log-level", defaultLevel, "debug, info, warn or error")
	fs.StringVar(&o.LogFormat, "log-format", "console", "json or console")
}

// AddHTTPFlag registers --http-addr, the daemons' operations listener.
func (o *Options) AddHTTPFlag(fs *pflag.FlagSet) {
	fs.StringVar(&o.HTTPAddr, "http-addr", "", "serve /metrics (Prometheus), /livez, /readyz and /debug/pprof/ on this address (e.g. 127.0.0.1:9400); off when empty")
}

// Validate checks the flags' values before anything connects.
func (o *Options) Validate() error {
	if _, err := coord.NewLayout(o.Root); err != nil {
		return Usage(fmt.Errorf("--root: %w", err))
	}
	if _, err := zapcore.ParseLevel(o.LogLevel); err != nil {
		return Usage(fmt.Errorf("--log-level %q: want debug, info, warn or error", o.LogLevel))
	}
	if o.LogFormat != "json" && o.LogFormat != "console" {
		return Usage(fmt.Errorf("--log-format %q: want json or console", o.LogFormat))
	}
	if o.SessionTimeout <= 0 || o.ConnectTimeout <= 0 {
		return Usage(errors.New("--session-timeout and --connect-timeout must be positive"))
	}
	if o.Auth != "" && !strings.Contains(o.Auth, ":") {
		return Usage(errors.New("--zk-auth must be user:password"))
	}
	return nil
}

// Logger builds the process's logger, writing to stderr (stdout carries
// command output).
func (o *Options) Logger(name string) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(o.LogLevel)
	if err != nil {
		return nil, err
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.Sampling = nil
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	if o.LogFormat == "console" {
		cfg.Encoding = "console"
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		// A date too: a log read the next day must say which day.
		cfg.EncoderConfig.EncodeTime = zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z07:00")
	}
	cfg.DisableStacktrace = level > zapcore.DebugLevel
	l, err := cfg.Build()
	if err != nil {
		return nil, err
	}
	return l.Named(name), nil
}

// Connect dials ZooKeeper and returns the client and the layout.
func (o *Options) Connect(ctx context.Context, log *zap.Logger) (*coord.Client, coord.Layout, error) {
	layout, err := coord.NewLayout(o.Root)
	if err != nil {
		return nil, coord.Layout{}, Usage(err)
	}
	var servers []string
	for _, s := range strings.Split(o.ZK, ",") {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	c, err := coord.Dial(ctx, coord.Config{
		Servers:        servers,
		SessionTimeout: o.SessionTimeout,
		ConnectTimeout: o.ConnectTimeout,
		Auth:           o.Auth,
		Logger:         log,
	})
	if err != nil {
		if errors.Is(err, coord.ErrUnreachable) {
			return nil, layout, fmt.Errorf("%w\nis ZooKeeper running? point --zk (or %s) at it", err, EnvZK)
		}
		return nil, layout, err
	}
	return c, layout, nil
}
