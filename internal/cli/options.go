// Package cli holds what Paddock's four binaries share: the connection and
// logging flags (with their environment defaults), logger construction,
// connecting to ZooKeeper, signal handling and exit codes.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/zkclient"
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

	// TLS to ZooKeeper (its secureClientPort): PEM files.
	TLSCA   string // CA bundle that signed the servers' certificates; empty: the system's roots
	TLSCert string // client certificate, for servers that require one (ssl.clientAuth=need, their default)
	TLSKey  string // its private key
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
	fs.DurationVar(&o.SessionTimeout, "session-timeout", zkclient.DefaultSessionTimeout, "ZooKeeper session timeout: how long a silent process keeps its registrations (the server clamps it to [2,20] ticks)")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", zkclient.DefaultConnectTimeout, "give up when no ZooKeeper session is established within this time")
	fs.StringVar(&o.Auth, "zk-auth", "", "user:password for ZooKeeper digest auth; znodes Paddock creates are then writable by this identity only")
	fs.StringVar(&o.LogLevel, "log-level", defaultLevel, "debug, info, warn or error")
	fs.StringVar(&o.LogFormat, "log-format", "console", "json or console")
	fs.StringVar(&o.TLSCA, "zk-tls-ca", "", "connect to ZooKeeper over TLS, trusting the CA certificates in this PEM file")
	fs.StringVar(&o.TLSCert, "zk-tls-cert", "", "connect to ZooKeeper over TLS, presenting this client certificate (PEM; needs --zk-tls-key)")
	fs.StringVar(&o.TLSKey, "zk-tls-key", "", "the private key of --zk-tls-cert (PEM)")
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
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return Usage(errors.New("--zk-tls-cert and --zk-tls-key go together"))
	}
	return nil
}

// tlsConfig builds the TLS configuration the flags ask for, or nil for
// plain TCP. Unreadable files are usage errors: the flag is what is wrong.
func (o *Options) tlsConfig() (*tls.Config, error) {
	if o.TLSCA == "" && o.TLSCert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, Usage(fmt.Errorf("--zk-tls-ca: %w", err))
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, Usage(fmt.Errorf("--zk-tls-ca %s: no PEM certificate in it", o.TLSCA))
		}
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, Usage(fmt.Errorf("--zk-tls-cert/--zk-tls-key: %w", err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
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
func (o *Options) Connect(ctx context.Context, log *zap.Logger) (*zkclient.Client, coord.Layout, error) {
	layout, err := coord.NewLayout(o.Root)
	if err != nil {
		return nil, coord.Layout{}, Usage(err)
	}
	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return nil, layout, err
	}
	var servers []string
	for _, s := range strings.Split(o.ZK, ",") {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	c, err := zkclient.Dial(ctx, zkclient.Config{
		Servers:        servers,
		SessionTimeout: o.SessionTimeout,
		ConnectTimeout: o.ConnectTimeout,
		Auth:           o.Auth,
		TLS:            tlsConfig,
		Logger:         log,
	})
	if err != nil {
		if errors.Is(err, zkclient.ErrUnreachable) {
			hint := fmt.Sprintf("is ZooKeeper running? point --zk (or %s) at it", EnvZK)
			if tlsConfig != nil {
				hint += "; with TLS, --zk must name the servers' secureClientPort, --zk-tls-ca the CA that signed them, and a server requiring client certificates needs --zk-tls-cert and --zk-tls-key"
			}
			return nil, layout, fmt.Errorf("%w\n%s", err, hint)
		}
		return nil, layout, err
	}
	return c, layout, nil
}
