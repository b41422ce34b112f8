package recipe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/recipe"
)

// poolEvents collects a discovery watcher's calls.
type poolEvents chan []recipe.Entry

// next waits for the next call whose pool satisfies ok, skipping others.
func (p poolEvents) next(t *testing.T, what string, ok func([]recipe.Entry) bool) []recipe.Entry {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case es := <-p:
			if ok(es) {
				return es
			}
		case <-deadline:
			t.Fatalf("no watch call with %s", what)
		}
	}
}

func keysOf(es []recipe.Entry) string {
	var ks []string
	for _, e := range es {
		ks = append(ks, e.Key)
	}
	return strings.Join(ks, ",")
}

func TestDiscoveryRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	base := recipeDir(t, c)
	d := recipe.NewDiscovery(c, base)
	sess := sessionOf(t, c)
	meta := map[string]any{
		"header": map[string]any{"service_class": "db/postgres", "metadata": map[string]any{"service_name": "orders"}},
		"host":   "10.0.0.7",
		"port":   5432,
		"tags":   []any{"primary", "ssd"},
	}
	// A class containing '/' is a deeper path.
	if err := svcOf(t, d, "db/postgres", "orders").Publish(ctx, sess, "10.0.0.7", meta, true); err != nil {
		t.Fatal(err)
	}
	sp, _ := d.ServicePath("db/postgres", "orders")
	if sp != base+"/db/postgres/orders" {
		t.Fatalf("service path %s", sp)
	}
	if st, _ := c.Exists(ctx, sp+"/10.0.0.7"); st == nil || st.EphemeralOwner != sess.ID() {
		t.Fatalf("entry missing or not ephemeral: %+v", st)
	}
	entries, err := svcOf(t, d, "db/postgres", "orders").Lookup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Key != "10.0.0.7" || !reflect.DeepEqual(entries[0].Meta, meta) {
		t.Fatalf("round trip: %+v, want %v", entries, meta)
	}
	// Replacing an entry.
	meta["port"] = 5433
	if err := svcOf(t, d, "db/postgres", "orders").Publish(ctx, sess, "10.0.0.7", meta, true); err != nil {
		t.Fatal(err)
	}
	e, err := svcOf(t, d, "db/postgres", "orders").Pick(ctx)
	if err != nil || e.Meta["port"] != 5433 {
		t.Fatalf("after replacing: %+v %v", e, err)
	}
	// Pick spreads over the instances.
	if err := svcOf(t, d, "db/postgres", "orders").Publish(ctx, sess, "10.0.0.8", map[string]any{"port": 5432}, false); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 64 {
		e, err := svcOf(t, d, "db/postgres", "orders").Pick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Key] = true
	}
	if len(seen) != 2 {
		t.Fatalf("64 picks chose only %v", seen)
	}
	// Nothing published: a clear error.
	_, err = svcOf(t, d, "db/postgres", "invoices").Pick(ctx)
	if !errors.Is(err, recipe.ErrNoService) || !strings.Contains(err.Error(), "invoices") {
		t.Fatalf("Pick of an unknown service: %v", err)
	}
	if _, err := d.Service("", "x"); err == nil {
		t.Fatal("published with an empty class")
	}
	if _, err := d.Service("a//b", "x"); err == nil {
		t.Fatal("published with an empty class component")
	}
	if err := svcOf(t, d, "db/postgres", "orders").Unpublish(ctx, "10.0.0.8"); err != nil {
		t.Fatal(err)
	}
	if es, _ := svcOf(t, d, "db/postgres", "orders").Lookup(ctx); len(es) != 1 {
		t.Fatalf("after unpublish: %v", keysOf(es))
	}
}

func TestDiscoveryWatch(t *testing.T) {
	ctx := ctxT(t)
	pub, sub := dial(t, shared.Addr()), dial(t, shared.Addr())
	base := recipeDir(t, pub)
	d := recipe.NewDiscovery(pub, base)
	sess := sessionOf(t, pub)
	calls := make(poolEvents, 100)
	// Watching a service nobody published yet.
	if err := svcOf(t, recipe.NewDiscovery(sub, base), "web", "api").Watch(ctx, func(es []recipe.Entry) { calls <- es }); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the empty pool", func(es []recipe.Entry) bool { return len(es) == 0 })
	if err := svcOf(t, d, "web", "api").Publish(ctx, sess, "k1", map[string]any{"w": 1}, true); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "k1", func(es []recipe.Entry) bool { return keysOf(es) == "k1" })
	// A second key triggers the callback.
	if err := svcOf(t, d, "web", "api").Publish(ctx, sess, "k2", map[string]any{"w": 2}, true); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "k1,k2", func(es []recipe.Entry) bool { return keysOf(es) == "k1,k2" })
	// So does a change of an entry's data, and a replacement.
	if _, err := pub.Set(ctx, base+"/web/api/k1", []byte(`{"w": 10}`), -1); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "k1 changed", func(es []recipe.Entry) bool { return len(es) == 2 && es[0].Meta["w"] == 10 })
	if err := svcOf(t, d, "web", "api").Publish(ctx, sess, "k1", map[string]any{"w": 11}, true); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "k1 replaced", func(es []recipe.Entry) bool { return len(es) == 2 && es[0].Meta["w"] == 11 })
	// Entries that are not YAML mappings still count, with Meta nil.
	if _, err := pub.Set(ctx, base+"/web/api/k2", []byte("{not yaml"), -1); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "k2 garbled", func(es []recipe.Entry) bool { return len(es) == 2 && es[1].Meta == nil })
	if err := svcOf(t, d, "web", "api").Unpublish(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "k2 gone", func(es []recipe.Entry) bool { return keysOf(es) == "k1" })
}

func TestDiscoveryLookupOrFile(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	base := recipeDir(t, c)
	d := recipe.NewDiscovery(c, base)
	dir := t.TempDir()
	yml := filepath.Join(dir, "orders.yaml")
	if err := os.WriteFile(yml, []byte("host: db.local\nport: 5432\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	es, err := d.LookupOrFile(ctx, "db", "orders", yml)
	if err != nil || len(es) != 1 || es[0].Meta["host"] != "db.local" || es[0].Meta["port"] != 5432 {
		t.Fatalf("YAML fallback: %+v %v", es, err)
	}
	js := filepath.Join(dir, "orders.json")
	if err := os.WriteFile(js, []byte(`[{"host": "a"}, {"host": "b"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	es, err = d.LookupOrFile(ctx, "db", "orders", js)
	if err != nil || len(es) != 2 || es[1].Meta["host"] != "b" {
		t.Fatalf("JSON list fallback: %+v %v", es, err)
	}
	// Neither: a clear error naming the service and the file.
	missing := filepath.Join(dir, "nope.yaml")
	_, err = d.LookupOrFile(ctx, "db", "orders", missing)
	if !errors.Is(err, recipe.ErrNoService) || !strings.Contains(err.Error(), "orders") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("nothing anywhere: %v", err)
	}
	t.Logf("nothing anywhere: %v", err)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("host: [unclosed"), 0o644)
	if _, err := d.LookupOrFile(ctx, "db", "orders", bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("garbage file: %v", err)
	}
	// Published wins over the file.
	if err := svcOf(t, d, "db", "orders").Publish(ctx, sessionOf(t, c), "live", map[string]any{"host": "zk"}, true); err != nil {
		t.Fatal(err)
	}
	es, err = d.LookupOrFile(ctx, "db", "orders", yml)
	if err != nil || len(es) != 1 || es[0].Key != "live" {
		t.Fatalf("published and file: %+v %v", es, err)
	}
}

func TestDiscoveryAcrossExpiry(t *testing.T) {
	// The publisher keeps its entry across its session's expiry (Keep
	// publishes again); a watcher whose own session expires resyncs.
	t.Parallel()
	ctx := ctxT(t)
	pp, pub := proxied(t)
	wp, sub := proxied(t)
	other := dial(t, shared.Addr())
	base := recipeDir(t, other)
	d := recipe.NewDiscovery(pub, base)
	kctx, stopKeep := context.WithCancel(ctx)
	kept := make(chan error, 1)
	keeper := svcOf(t, d, "svc", "x")
	go func() { kept <- keeper.Keep(kctx, "pub", map[string]any{"v": 1}) }()

	calls := make(poolEvents, 100)
	if err := svcOf(t, recipe.NewDiscovery(sub, base), "svc", "x").Watch(ctx, func(es []recipe.Entry) { calls <- es }); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the kept entry", func(es []recipe.Entry) bool { return keysOf(es) == "pub" })

	expire(t, shared, pp, pub)
	calls.next(t, "the entry gone with its session", func(es []recipe.Entry) bool { return len(es) == 0 })
	calls.next(t, "the entry published again", func(es []recipe.Entry) bool { return keysOf(es) == "pub" })

	// The watcher is cut off while the pool changes, and its session expires.
	old := sessionOf(t, sub)
	wp.Blackhole()
	if err := svcOf(t, recipe.NewDiscovery(other, base), "svc", "x").Publish(ctx, sessionOf(t, other), "other", nil, true); err != nil {
		t.Fatal(err)
	}
	shared.WaitSessionGone(t, old.ID())
	wp.Restore()
	calls.next(t, "both entries after the resync", func(es []recipe.Entry) bool { return keysOf(es) == "pub,other" || keysOf(es) == "other,pub" })
	// And it keeps watching.
	if err := svcOf(t, recipe.NewDiscovery(other, base), "svc", "x").Unpublish(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "other gone", func(es []recipe.Entry) bool { return keysOf(es) == "pub" })
	// Stopping Keep withdraws the entry.
	stopKeep()
	if err := <-kept; !errors.Is(err, context.Canceled) {
		t.Fatalf("Keep returned %v", err)
	}
	calls.next(t, "the entry withdrawn", func(es []recipe.Entry) bool { return len(es) == 0 })
}

// svcOf is d's pool of class/name.
func svcOf(t *testing.T, d *recipe.Discovery, class, name string) *recipe.Service {
	t.Helper()
	svc, err := d.Service(class, name)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
