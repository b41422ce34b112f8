package coord_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/zktest"
)

func TestDialUnreachableFailsWithinConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	start := time.Now()
	_, err = coord.Dial(context.Background(), coord.Config{Servers: []string{addr}, ConnectTimeout: 1500 * time.Millisecond})
	took := time.Since(start)
	if !errors.Is(err, coord.ErrUnreachable) {
		t.Fatalf("want ErrUnreachable, got %v", err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error should name the address and the cause: %v", err)
	}
	if took > 4*time.Second {
		t.Errorf("took %v, want about the 1.5s connect timeout", took)
	}
}

func TestDialRejectsBadConfig(t *testing.T) {
	for _, cfg := range []coord.Config{
		{},
		{Servers: []string{"localhost"}},
		{Servers: []string{shared.Addr()}, Auth: "nopassword"},
	} {
		if _, err := coord.Dial(context.Background(), cfg); err == nil {
			t.Errorf("Dial(%+v) succeeded", cfg)
		}
	}
}

func TestSessionExpiryGivesANewSession(t *testing.T) {
	p := zktest.NewProxy(t, shared.Addr())
	c := dial(t, p.Addr())
	l := layoutFor(t, c)
	old, _ := c.Session(ctxT(t))
	if _, err := c.Create(ctxT(t), l.Worker("w"), nil, zk.FlagEphemeral); err != nil {
		t.Fatal(err)
	}
	s := expire(t, shared, p, c)
	if !s.Alive() || old.Alive() {
		t.Fatal("old session should be done, new one alive")
	}
	if n := c.Stats().SessionExpirations; n != 1 {
		t.Errorf("%d session expirations counted, want 1", n)
	}
	// The ephemeral znode went with the old session and is not recreated.
	st, err := c.Exists(ctxT(t), l.Worker("w"))
	if err != nil || st != nil {
		t.Fatalf("ephemeral of the expired session: stat %v err %v", st, err)
	}
}

func TestMultiNamesTheFailingOp(t *testing.T) {
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	ops := []coord.Op{
		coord.CreateOp(l.Worker("a"), nil, zk.FlagPersistent),
		coord.CheckOp(l.Worker("missing"), -1),
		coord.CreateOp(l.Worker("b"), nil, zk.FlagPersistent),
	}
	_, err := c.Multi(ctxT(t), ops...)
	var me *coord.MultiError
	if !errors.As(err, &me) || me.Index != 1 || !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("want MultiError at op 1 (NoNode), got %v", err)
	}
	if st, _ := c.Exists(ctxT(t), l.Worker("a")); st != nil {
		t.Fatal("a failed multi applied its first op")
	}
}

func TestDigestAuthRestrictsWrites(t *testing.T) {
	ctx := ctxT(t)
	owner, err := coord.Dial(ctx, coord.Config{Servers: []string{shared.Addr()}, Auth: "paddock:secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	l := coord.MustLayout("/t-auth")
	if err := coord.EnsureLayout(ctx, owner, l); err != nil {
		t.Fatal(err)
	}
	other := dial(t, shared.Addr())
	if _, _, err := other.Get(ctx, l.Epoch()); err != nil {
		t.Fatalf("anyone may read: %v", err)
	}
	if _, err := other.Create(ctx, l.Worker("intruder"), nil, zk.FlagEphemeral); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("another identity created a znode: %v", err)
	}
	if _, err := owner.Create(ctx, l.Worker("ok"), nil, zk.FlagEphemeral); err != nil {
		t.Fatal(err)
	}
}
