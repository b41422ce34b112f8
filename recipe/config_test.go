package recipe_test

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/recipe"
)

// configCalls collects a config watcher's calls.
type configCall struct {
	m   map[string]string
	err error
}

type configCalls chan configCall

func (c configCalls) next(t *testing.T, what string, ok func(configCall) bool) configCall {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case call := <-c:
			if ok(call) {
				return call
			}
		case <-deadline:
			t.Fatalf("no config watch call with %s", what)
		}
	}
}

func is(want map[string]string) func(configCall) bool {
	return func(c configCall) bool { return c.err == nil && maps.Equal(c.m, want) }
}

func TestConfigOverrides(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c) + "/svc"
	cfg := recipe.NewServiceConfig(c, dir)
	if m, err := cfg.Effective(ctx, "w1"); err != nil || len(m) != 0 {
		t.Fatalf("nothing set: %v %v", m, err)
	}
	for _, kv := range [][3]string{{"timeout", "5s", ""}, {"level", "info", ""}, {"level", "debug", "w1"}, {"only.w1", "x", "w1"}} {
		if err := cfg.Set(ctx, kv[0], kv[1], kv[2]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(process string, want map[string]string) {
		t.Helper()
		got, err := cfg.Effective(ctx, process)
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("Effective(%q) = %v %v, want %v", process, got, err, want)
		}
	}
	check("", map[string]string{"timeout": "5s", "level": "info"})
	check("w1", map[string]string{"timeout": "5s", "level": "debug", "only.w1": "x"})
	check("w2", map[string]string{"timeout": "5s", "level": "info"})
	// Unsetting the override brings the service value back.
	if err := cfg.Unset(ctx, "level", "w1"); err != nil {
		t.Fatal(err)
	}
	check("w1", map[string]string{"timeout": "5s", "level": "info", "only.w1": "x"})
	if err := cfg.Unset(ctx, "never-set", "w1"); err != nil {
		t.Fatal(err)
	}
	data, _, _ := c.Get(ctx, dir)
	if string(data) != `{"level":"info","timeout":"5s"}` {
		t.Fatalf("service znode holds %s", data)
	}
	for _, bad := range []string{"", "Upper", "with space", "a/b"} {
		if err := cfg.Set(ctx, bad, "v", ""); err == nil {
			t.Fatalf("key %q accepted", bad)
		}
	}
	if err := cfg.Set(ctx, "k", "v", "a/b"); err == nil {
		t.Fatal("process name with '/' accepted")
	}
}

func TestConfigConcurrentWriters(t *testing.T) {
	// Conditional writes: 4 writers setting different keys of the same
	// znode at once lose nothing.
	ctx := ctxT(t)
	admin := dial(t, shared.Addr())
	dir := recipeDir(t, admin) + "/svc"
	const writers, keys = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		c := dial(t, shared.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := recipe.NewServiceConfig(c, dir)
			for k := range keys {
				if err := cfg.Set(ctx, fmt.Sprintf("w%d.k%d", w, k), "v", ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	m, err := recipe.NewServiceConfig(admin, dir).Effective(ctx, "")
	if err != nil || len(m) != writers*keys {
		t.Fatalf("%d keys after %d concurrent sets (%v)", len(m), writers*keys, err)
	}
}

func TestConfigWatch(t *testing.T) {
	ctx := ctxT(t)
	admin, proc := dial(t, shared.Addr()), dial(t, shared.Addr())
	dir := recipeDir(t, admin) + "/svc"
	cfg := recipe.NewServiceConfig(admin, dir)
	if err := cfg.Set(ctx, "level", "info", ""); err != nil {
		t.Fatal(err)
	}
	calls := make(configCalls, 100)
	if err := recipe.NewServiceConfig(proc, dir).Watch(ctx, "w1", func(m map[string]string, err error) {
		calls <- configCall{m, err}
	}); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the initial config", is(map[string]string{"level": "info"}))
	// The process's override znode appears.
	if err := cfg.Set(ctx, "level", "debug", "w1"); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the override", is(map[string]string{"level": "debug"}))
	// A service-wide change.
	if err := cfg.Set(ctx, "timeout", "5s", ""); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the new service key", is(map[string]string{"level": "debug", "timeout": "5s"}))
	// Another process's override is none of this one's business.
	if err := cfg.Set(ctx, "level", "warn", "w2"); err != nil {
		t.Fatal(err)
	}
	settled(t, proc)
	select {
	case c := <-calls:
		t.Fatalf("called for another process's override: %+v", c)
	default:
	}
	// Garbage in the process's znode: a clear error, to the watcher and to
	// readers, and the watch goes on.
	if _, err := admin.Set(ctx, dir+"/w1", []byte("level: debug"), -1); err != nil {
		t.Fatal(err)
	}
	bad := calls.next(t, "an error", func(c configCall) bool { return c.err != nil })
	if !errors.Is(bad.err, recipe.ErrBadConfig) || !strings.Contains(bad.err.Error(), dir+"/w1") {
		t.Fatalf("garbage reported as %v", bad.err)
	}
	t.Logf("garbage: %v", bad.err)
	if _, err := cfg.Effective(ctx, "w1"); !errors.Is(err, recipe.ErrBadConfig) {
		t.Fatalf("Effective over garbage: %v", err)
	}
	if err := cfg.Set(ctx, "x", "y", "w1"); !errors.Is(err, recipe.ErrBadConfig) {
		t.Fatalf("Set over garbage: %v", err)
	}
	if _, err := admin.Set(ctx, dir+"/w1", []byte(`{"level": 3}`), -1); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "an error for a non-string value", func(c configCall) bool { return c.err != nil })
	if _, err := admin.Set(ctx, dir+"/w1", []byte(`{"level": "trace"}`), -1); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the repaired override", is(map[string]string{"level": "trace", "timeout": "5s"}))
	// The override znode deleted: back to the service's values.
	if err := admin.Delete(ctx, dir+"/w1", -1); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the service values", is(map[string]string{"level": "info", "timeout": "5s"}))
	if err := cfg.Set(ctx, "level", "error", "w1"); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the recreated override", is(map[string]string{"level": "error", "timeout": "5s"}))
}

func TestConfigWatchAcrossExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	p, proc := proxied(t)
	admin := dial(t, shared.Addr())
	dir := recipeDir(t, admin) + "/svc"
	cfg := recipe.NewServiceConfig(admin, dir)
	if err := cfg.Set(ctx, "level", "info", ""); err != nil {
		t.Fatal(err)
	}
	calls := make(configCalls, 100)
	if err := recipe.NewServiceConfig(proc, dir).Watch(ctx, "w1", func(m map[string]string, err error) {
		calls <- configCall{m, err}
	}); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "the initial config", is(map[string]string{"level": "info"}))
	old := sessionOf(t, proc)
	p.Blackhole()
	if err := cfg.Set(ctx, "level", "debug", "w1"); err != nil {
		t.Fatal(err)
	}
	shared.WaitSessionGone(t, old.ID())
	p.Restore()
	calls.next(t, "the change made while cut off", is(map[string]string{"level": "debug"}))
	if err := cfg.Set(ctx, "timeout", "1s", ""); err != nil {
		t.Fatal(err)
	}
	calls.next(t, "a change after the resync", is(map[string]string{"level": "debug", "timeout": "1s"}))
}
