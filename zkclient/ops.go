package zkclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/go-zookeeper/zk"
)

// The library's calls block until a reply or Close and take no context; call
// runs one on its own goroutine so a caller can stop waiting. A write whose
// wait was abandoned may still be applied: callers treat a context error as
// an unknown outcome.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return f()
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := f()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Node is a znode's data and stat.
type Node struct {
	Data []byte
	Stat *zk.Stat
}

// Get reads a znode.
func (c *Client) Get(ctx context.Context, path string) ([]byte, *zk.Stat, error) {
	c.requests.Add(1)
	n, err := call(ctx, func() (Node, error) {
		d, s, err := c.zk.Get(path)
		return Node{d, s}, err
	})
	return n.Data, n.Stat, err
}

// GetW reads a znode and leaves a data watch on it.
func (c *Client) GetW(ctx context.Context, path string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	c.requests.Add(1)
	type r struct {
		n  Node
		ch <-chan zk.Event
	}
	v, err := call(ctx, func() (r, error) {
		d, s, ch, err := c.zk.GetW(path)
		return r{Node{d, s}, ch}, err
	})
	return v.n.Data, v.n.Stat, v.ch, err
}

// Children lists a znode's children.
func (c *Client) Children(ctx context.Context, path string) ([]string, *zk.Stat, error) {
	c.requests.Add(1)
	type r struct {
		names []string
		stat  *zk.Stat
	}
	v, err := call(ctx, func() (r, error) {
		n, s, err := c.zk.Children(path)
		return r{n, s}, err
	})
	return v.names, v.stat, err
}

// ChildrenW lists a znode's children and leaves a child watch on it.
func (c *Client) ChildrenW(ctx context.Context, path string) ([]string, <-chan zk.Event, error) {
	c.requests.Add(1)
	type r struct {
		names []string
		ch    <-chan zk.Event
	}
	v, err := call(ctx, func() (r, error) {
		n, _, ch, err := c.zk.ChildrenW(path)
		return r{n, ch}, err
	})
	return v.names, v.ch, err
}

// Exists stats a znode; the stat is nil when it does not exist.
func (c *Client) Exists(ctx context.Context, path string) (*zk.Stat, error) {
	c.requests.Add(1)
	return call(ctx, func() (*zk.Stat, error) {
		ok, s, err := c.zk.Exists(path)
		if !ok {
			s = nil
		}
		return s, err
	})
}

// ExistsW stats a znode and leaves a watch that fires on its creation,
// deletion or data change.
func (c *Client) ExistsW(ctx context.Context, path string) (*zk.Stat, <-chan zk.Event, error) {
	c.requests.Add(1)
	type r struct {
		stat *zk.Stat
		ch   <-chan zk.Event
	}
	v, err := call(ctx, func() (r, error) {
		ok, s, ch, err := c.zk.ExistsW(path)
		if !ok {
			s = nil
		}
		return r{s, ch}, err
	})
	return v.stat, v.ch, err
}

// Create creates a znode with the client's ACL and returns its path (which
// differs from path for sequential znodes).
func (c *Client) Create(ctx context.Context, path string, data []byte, flags int32) (string, error) {
	c.requests.Add(1)
	return call(ctx, func() (string, error) { return c.zk.Create(path, data, flags, c.acl) })
}

// Set writes a znode's data if its version matches (-1: any).
func (c *Client) Set(ctx context.Context, path string, data []byte, version int32) (*zk.Stat, error) {
	c.requests.Add(1)
	return call(ctx, func() (*zk.Stat, error) { return c.zk.Set(path, data, version) })
}

// Delete deletes a znode if its version matches (-1: any).
func (c *Client) Delete(ctx context.Context, path string, version int32) error {
	c.requests.Add(1)
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, c.zk.Delete(path, version) })
	return err
}

// Sync makes the next read through this client see every write committed
// before it (ZooKeeper reads are otherwise served by the connected server's
// possibly lagging replica).
func (c *Client) Sync(ctx context.Context, path string) error {
	c.requests.Add(1)
	_, err := call(ctx, func() (string, error) { return c.zk.Sync(path) })
	return err
}

// Op is one operation of a multi: build it with CreateOp, SetOp, DeleteOp or
// CheckOp.
type Op = any

// CreateOp creates a znode; Multi gives it the client's ACL.
func CreateOp(path string, data []byte, flags int32) Op {
	return &zk.CreateRequest{Path: path, Data: data, Flags: flags}
}

// SetOp sets a znode's data if its version matches (-1: any).
func SetOp(path string, data []byte, version int32) Op {
	return &zk.SetDataRequest{Path: path, Data: data, Version: version}
}

// DeleteOp deletes a znode if its version matches (-1: any).
func DeleteOp(path string, version int32) Op {
	return &zk.DeleteRequest{Path: path, Version: version}
}

// CheckOp asserts that a znode exists with the version given (-1: any).
func CheckOp(path string, version int32) Op {
	return &zk.CheckVersionRequest{Path: path, Version: version}
}

// MultiError says which operation of a failed multi failed and why; nothing
// of the multi was applied.
type MultiError struct {
	Index int    // position in the ops passed to Multi
	Path  string // that op's path
	Err   error  // zk.ErrNoNode, zk.ErrBadVersion, zk.ErrNodeExists, ...
}

func (e *MultiError) Error() string {
	return fmt.Sprintf("multi op %d on %s: %v", e.Index, e.Path, e.Err)
}

func (e *MultiError) Unwrap() error { return e.Err }

// Multi applies ops atomically: all or none. A failure of the server to apply
// them comes back as a *MultiError naming the op at fault; other errors
// (connection loss, closing) leave the outcome unknown.
func (c *Client) Multi(ctx context.Context, ops ...Op) ([]zk.MultiResponse, error) {
	c.requests.Add(1)
	for _, op := range ops {
		if cr, ok := op.(*zk.CreateRequest); ok && cr.Acl == nil {
			cr.Acl = c.acl
		}
	}
	res, err := call(ctx, func() ([]zk.MultiResponse, error) { return c.zk.Multi(ops...) })
	if len(res) != len(ops) {
		return res, err
	}
	// The server marks ops before the failing one as rolled back (no error)
	// and ops after it as not attempted; the first error is the culprit.
	for i, r := range res {
		if r.Error != nil {
			return res, &MultiError{Index: i, Path: opPath(ops[i]), Err: r.Error}
		}
	}
	return res, err
}

func opPath(op Op) string {
	switch o := op.(type) {
	case *zk.CreateRequest:
		return o.Path
	case *zk.SetDataRequest:
		return o.Path
	case *zk.DeleteRequest:
		return o.Path
	case *zk.CheckVersionRequest:
		return o.Path
	}
	return "?"
}

// IsConnectionError reports an error after which the outcome of a request is
// unknown and a retry on a (possibly new) session is the remedy. Besides the
// library's own errors this includes the raw network errors it hands to a
// request whose write to the socket failed (broken pipe, reset).
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrSessionExpired) ||
		errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrSessionMoved) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// PipelineWidth bounds the requests Pipeline keeps in flight: enough to fill
// one connection (which caps near 10k ops/s) without a goroutine per znode.
// Callers that read in chunks size them by it to keep the pipeline full.
const PipelineWidth = 64

// Pipeline runs f(0..n-1) with up to PipelineWidth calls in flight, so reads
// of many znodes share round trips instead of paying one each. It returns
// the first error.
func Pipeline(n int, f func(i int) error) error { return PipelineN(n, 1, f) }

// PipelineN is Pipeline over conns connections (see Client.Fork):
// PipelineWidth calls in flight for each, since one connection caps the
// rate at which its requests are served.
func PipelineN(n, conns int, f func(i int) error) error {
	if n == 0 {
		return nil
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		next  = make(chan int)
	)
	workers := min(n, PipelineWidth*max(conns, 1))
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
