// Package zkclient is a context-first ZooKeeper client on top of
// github.com/go-zookeeper/zk. Every request takes a context; sessions are
// explicit values whose end tells their owner that its ephemeral znodes are
// gone; multis report the op at fault; a Batcher group-commits many
// callers' multis. The recipes in package recipe, and Paddock itself, stand
// on it.
//
// # Sessions
//
// The library under it silently replaces an expired session with a new
// one. A Client turns that into Session values: Client.Session returns the
// live one (waiting while there is none), and its Done channel closes when
// the server expires it or the client is closed. Whatever a process built
// on a session (ephemeral znodes, watches) is gone when Done closes, and
// must be built again on the next session. Calls that create ephemeral
// state for a caller take the Session it belongs to, so that state is never
// created on a session the caller believes dead (see recipe's doc).
//
// # Connection loss and session expiry
//
// These are different events. Connection loss (a server restart, a
// network blip) is survived by the session if the client reconnects
// within the session timeout: ephemeral znodes and watches stay. A request
// in flight when the connection broke fails with a connection error
// (IsConnectionError), and its outcome is unknown: the server may have
// applied it and the reply been lost. Session expiry ends the session: the
// server deletes its ephemeral znodes and the library drops its watches
// (EventNotWatching), after Session.Done has closed.
//
// # Retry loops
//
// One helper answers "this request failed; what now?" for every loop in
// this module: Client.Retry waits out connection loss and reports nil (try
// again) or the error to give up with; Client.RetryIn also gives up with
// ErrSessionLost once the caller's session has ended; RetryRead is the
// whole loop for a request that is safe to repeat. A write that is not
// idempotent must be re-read before it is retried: its first attempt may
// have been applied.
//
// # Multis and fencing
//
// Multi applies ops (CreateOp, SetOp, DeleteOp, CheckOp) all or none; a
// refusal comes back as a *MultiError naming the op at fault. A CheckOp of
// a znode that stands for a right (a lock's, a leader's) makes the rest of
// the multi conditional on still holding it: that is how a holder fences
// its writes, since ZooKeeper cannot tell a paused or partitioned holder
// that its session expired before the holder writes again. Batch and
// Batcher send many callers' items in as few multis as possible and split
// out the item at fault (ApplyItems: one split-and-resend loop for both).
//
// # Goroutines
//
// A Client owns the goroutines it starts: the library's connection
// goroutines end after Close, and so do those started with Client.Go
// (clean-ups that outlive their caller), for which Close waits. A request
// whose context ends returns at once; the library's own call ends when the
// server answers or the connection closes.
//
// # Errors
//
// Errors this package makes start with "zkclient: "; the library's (zk.ErrNoNode,
// zk.ErrBadVersion, ...) come back as they are, or inside a *MultiError,
// so errors.Is works on them.
package zkclient
