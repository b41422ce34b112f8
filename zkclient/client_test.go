package zkclient_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/zkclient"
)

func TestDialUnreachableFailsWithinConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	start := time.Now()
	_, err = zkclient.Dial(context.Background(), zkclient.Config{Servers: []string{addr}, ConnectTimeout: 1500 * time.Millisecond})
	took := time.Since(start)
	if !errors.Is(err, zkclient.ErrUnreachable) {
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
	for _, cfg := range []zkclient.Config{
		{},
		{Servers: []string{"localhost"}},
		{Servers: []string{shared.Addr()}, Auth: "nopassword"},
	} {
		if _, err := zkclient.Dial(context.Background(), cfg); err == nil {
			t.Errorf("Dial(%+v) succeeded", cfg)
		}
	}
}

func TestSessionExpiryGivesANewSession(t *testing.T) {
	p := zktest.NewProxy(t, shared.Addr())
	c := dial(t, p.Addr())
	dir := dirFor(t, c)
	old, _ := c.Session(ctxT(t))
	if _, err := c.Create(ctxT(t), dir+"/w", nil, zk.FlagEphemeral); err != nil {
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
	st, err := c.Exists(ctxT(t), dir+"/w")
	if err != nil || st != nil {
		t.Fatalf("ephemeral of the expired session: stat %v err %v", st, err)
	}
}

func TestMultiNamesTheFailingOp(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := dirFor(t, c)
	ops := []zkclient.Op{
		zkclient.CreateOp(dir+"/a", nil, zk.FlagPersistent),
		zkclient.CheckOp(dir+"/missing", -1),
		zkclient.CreateOp(dir+"/b", nil, zk.FlagPersistent),
	}
	_, err := c.Multi(ctxT(t), ops...)
	var me *zkclient.MultiError
	if !errors.As(err, &me) || me.Index != 1 || !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("want MultiError at op 1 (NoNode), got %v", err)
	}
	if st, _ := c.Exists(ctxT(t), dir+"/a"); st != nil {
		t.Fatal("a failed multi applied its first op")
	}
}

func TestDigestAuthRestrictsWrites(t *testing.T) {
	ctx := ctxT(t)
	owner, err := zkclient.Dial(ctx, zkclient.Config{Servers: []string{shared.Addr()}, Auth: "paddock:secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	// A znode of the owner's: -count=2 finds the first run's, which no
	// other identity could delete.
	dir := "/t-zkclient-auth"
	if _, err := owner.Create(ctx, dir, []byte("data"), zk.FlagPersistent); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
	other := dial(t, shared.Addr())
	if _, _, err := other.Get(ctx, dir); err != nil {
		t.Fatalf("anyone may read: %v", err)
	}
	if _, err := other.Create(ctx, dir+"/intruder", nil, zk.FlagEphemeral); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("another identity created a znode: %v", err)
	}
	if _, err := owner.Create(ctx, dir+"/ok", nil, zk.FlagEphemeral); err != nil {
		t.Fatal(err)
	}
}
