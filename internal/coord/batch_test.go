package coord_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/coord"
)

func TestBatcherGroupsConcurrentCallersAndIsolatesFailures(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	l := layoutFor(t, c)
	b := coord.NewBatcher(c, 64)
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	before := c.Stats().Requests
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := []coord.Op{coord.CreateOp(fmt.Sprintf("%s/%d", l.Workers(), i), nil, zk.FlagPersistent)}
			if i%50 == 7 { // a few callers whose multi cannot apply
				ops = append(ops, coord.CheckOp(l.Worker("missing"), -1))
			}
			errs[i] = b.Multi(ctx, ops...)
		}()
	}
	wg.Wait()
	requests := c.Stats().Requests - before
	for i, err := range errs {
		var me *coord.MultiError
		if i%50 == 7 {
			if !errors.As(err, &me) || me.Index != 1 || !errors.Is(err, zk.ErrNoNode) {
				t.Errorf("caller %d: want its own MultiError at op 1, got %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	names, _, _ := c.Children(ctx, l.Workers())
	if len(names) != n-4 {
		t.Fatalf("%d znodes created, want %d", len(names), n-4)
	}
	// Callers that arrived while a multi was in flight shared the next one.
	t.Logf("%d callers, %d multis", n, requests)
	if requests >= n {
		t.Errorf("no grouping: %d multis for %d callers", requests, n)
	}
}
