package zkclient_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

func TestBatcherGroupsConcurrentCallersAndIsolatesFailures(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := dirFor(t, c)
	b := zkclient.NewBatcher(c, 64)
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	before := c.Stats().Requests
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := []zkclient.Op{zkclient.CreateOp(fmt.Sprintf("%s/%d", dir, i), nil, zk.FlagPersistent)}
			if i%50 == 7 { // a few callers whose multi cannot apply
				ops = append(ops, zkclient.CheckOp(dir+"/missing", -1))
			}
			errs[i] = b.Multi(ctx, ops...)
		}()
	}
	wg.Wait()
	requests := c.Stats().Requests - before
	for i, err := range errs {
		var me *zkclient.MultiError
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
	names, _, _ := c.Children(ctx, dir)
	if len(names) != n-4 {
		t.Fatalf("%d znodes created, want %d", len(names), n-4)
	}
	// Callers that arrived while a multi was in flight shared the next one.
	t.Logf("%d callers, %d multis", n, requests)
	if requests >= n {
		t.Errorf("no grouping: %d multis for %d callers", requests, n)
	}
}

// Callers with large data are grouped only as far as one multi stays under
// jute.maxbuffer (about 1 MiB): twelve 300 KiB creates at once all land.
func TestBatcherKeepsEachMultiUnderTheServersLimit(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := dirFor(t, c)
	b := zkclient.NewBatcher(c, 64)
	data := make([]byte, 300<<10)
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Go(func() {
			errs[i] = b.Multi(ctx, zkclient.CreateOp(fmt.Sprintf("%s/%d", dir, i), data, zk.FlagPersistent))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
}
