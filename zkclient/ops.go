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

// ChildrenW lists a znode's children and leaves a child watch on it. The
// stat is the parent's, read with the listing: its Version (of the data)
// lets a later multi check that nobody wrote the parent since.
func (c *Client) ChildrenW(ctx context.Context, path string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	c.requests.Add(1)
	type r struct {
		names []string
		stat  *zk.Stat
		ch    <-chan zk.Event
	}
	v, err := call(ctx, func() (r, error) {
		n, s, ch, err := c.zk.ChildrenW(path)
		return r{n, s, ch}, err
	})
	return v.names, v.stat, v.ch, err
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

// Op is one operation of a multi: build it with CreateOp, SetOp, DeleteOp
// or CheckOp, collect ops in a []Op, hand them to Client.Multi,
// Batcher.Multi or ApplyItems. It is a plain value (copying it is fine) and
// knows its path and what it does, so a failed multi can say which op
// failed (MultiError.Op) in words.
type Op struct {
	kind    opKind
	path    string
	data    []byte
	flags   int32
	version int32
}

type opKind uint8

const (
	opNone opKind = iota
	opCreate
	opSet
	opDelete
	opCheck
)

// CreateOp creates a znode (flags: zk.FlagPersistent, zk.FlagEphemeral,
// zk.FlagSequence, ...); Multi gives it the client's ACL.
func CreateOp(path string, data []byte, flags int32) Op {
	return Op{kind: opCreate, path: path, data: data, flags: flags}
}

// SetOp sets a znode's data if its version matches (-1: any).
func SetOp(path string, data []byte, version int32) Op {
	return Op{kind: opSet, path: path, data: data, version: version}
}

// DeleteOp deletes a znode if its version matches (-1: any).
func DeleteOp(path string, version int32) Op {
	return Op{kind: opDelete, path: path, version: version}
}

// CheckOp asserts that a znode exists with the version given (-1: any). It
// writes nothing: it makes the rest of the multi conditional, which is how
// a holder fences its writes (CheckOp of its lock's or candidacy's znode).
func CheckOp(path string, version int32) Op {
	return Op{kind: opCheck, path: path, version: version}
}

// Path is the znode the op acts on (for a sequential create, the prefix of
// the name the server will complete).
func (o Op) Path() string { return o.path }

// String says what the op does, e.g. "check /a (version 3)": how
// MultiError names the op at fault.
func (o Op) String() string {
	v := ""
	if o.version != -1 {
		v = fmt.Sprintf(" (version %d)", o.version)
	}
	switch o.kind {
	case opCreate:
		return "create " + o.path
	case opSet:
		return "set " + o.path + v
	case opDelete:
		return "delete " + o.path + v
	case opCheck:
		return "check " + o.path + v
	}
	return "zero Op"
}

// request is the library's request for the op.
func (o Op) request(acl []zk.ACL) any {
	switch o.kind {
	case opCreate:
		return &zk.CreateRequest{Path: o.path, Data: o.data, Flags: o.flags, Acl: acl}
	case opSet:
		return &zk.SetDataRequest{Path: o.path, Data: o.data, Version: o.version}
	case opDelete:
		return &zk.DeleteRequest{Path: o.path, Version: o.version}
	case opCheck:
		return &zk.CheckVersionRequest{Path: o.path, Version: o.version}
	}
	return nil
}

// MultiError says which operation of a failed multi failed and why; nothing
// of the multi was applied. Callers branch on Index (which op of theirs)
// and on Err (errors.Is works through MultiError: zk.ErrNoNode,
// zk.ErrBadVersion, zk.ErrNodeExists, ...).
type MultiError struct {
	Index int    // position in the ops passed to Multi
	Op    Op     // that op
	Path  string // that op's path (Op.Path())
	Err   error  // zk.ErrNoNode, zk.ErrBadVersion, zk.ErrNodeExists, ...
}

func (e *MultiError) Error() string {
	return fmt.Sprintf("zkclient: multi op %d (%s): %v", e.Index, e.Op, e.Err)
}

func (e *MultiError) Unwrap() error { return e.Err }

// within returns e with Index counted from start: the error one caller of
// a shared multi (Batcher, ApplyItems) sees for its own ops.
func (e *MultiError) within(start int) *MultiError {
	return &MultiError{Index: e.Index - start, Op: e.Op, Path: e.Path, Err: e.Err}
}

// Multi applies ops atomically: all or none. A failure of the server to apply
// them comes back as a *MultiError naming the op at fault; other errors
// (connection loss, closing) leave the outcome unknown.
func (c *Client) Multi(ctx context.Context, ops ...Op) ([]zk.MultiResponse, error) {
	reqs := make([]any, len(ops))
	for i, op := range ops {
		if reqs[i] = op.request(c.acl); reqs[i] == nil {
			return nil, fmt.Errorf("zkclient: multi op %d is the zero Op (build ops with CreateOp, SetOp, DeleteOp, CheckOp)", i)
		}
	}
	c.requests.Add(1)
	res, err := call(ctx, func() ([]zk.MultiResponse, error) { return c.zk.Multi(reqs...) })
	if len(res) != len(ops) {
		return res, err
	}
	// The server marks ops before the failing one as rolled back (no error)
	// and ops after it as not attempted; the first error is the culprit.
	for i, r := range res {
		if r.Error != nil {
			return res, &MultiError{Index: i, Op: ops[i], Path: ops[i].path, Err: r.Error}
		}
	}
	return res, err
}

// IsConnectionError reports an error after which the outcome of a request is
// unknown and a retry on a (possibly new) session is the remedy. Besides the
// library's own errors this includes the raw network errors it hands to a
// request whose write to the socket failed (broken pipe, reset).
//
// A context's error is not one, although context.DeadlineExceeded passes
// for a net.Error (it has Timeout): the caller gave up, and waiting for a
// reconnection to try again would undo that (or spin: a connected client
// has nothing to wait for).
func IsConnectionError(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
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
