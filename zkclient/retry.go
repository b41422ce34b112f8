package zkclient

import (
	"context"
	"errors"

	"github.com/go-zookeeper/zk"
)

// ErrSessionLost reports that the session some ephemeral state belonged to
// (a candidacy, a lock's znode, a registration) has ended: the state is
// gone, and the caller starts over on the client's next session. Package
// recipe returns this same value as recipe.ErrSessionLost.
var ErrSessionLost = errors.New("zkclient: session lost")

// Retry is the one answer to a failed request inside a retry loop, used by
// every recipe and by Paddock's protocol. nil means "the failure was the
// connection's and the client is connected again: try once more"; anything
// else is the error to give up with: err itself when it is not a
// connection error, ErrClosed when the client is closing, ctx's error when
// ctx ends while waiting for the reconnection.
//
// A connection error leaves a write's outcome unknown (the server may have
// applied it and the reply been lost), so a loop that retries a write which
// is not idempotent must re-read first: see the lost-reply notes of each
// recipe.
func (c *Client) Retry(ctx context.Context, err error) error {
	if errors.Is(err, zk.ErrClosing) || errors.Is(err, ErrClosed) {
		return ErrClosed // the client is closing: nothing to wait for
	}
	if !IsConnectionError(err) {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.WaitConnected(ctx)
}

// RetryIn is Retry for work that belongs to one session (its ephemeral
// znodes, the watches it set): after reconnecting it gives up with
// ErrSessionLost if sess has ended meanwhile, since trying again on the new
// session would act for a session that no longer exists.
func (c *Client) RetryIn(ctx context.Context, sess *Session, err error) error {
	if err := c.Retry(ctx, err); err != nil {
		return err
	}
	if !sess.Alive() {
		return ErrSessionLost
	}
	return nil
}

// RetryRead runs f until it succeeds or Retry gives up: the whole retry
// loop for a read, or any request that is safe to repeat.
func RetryRead[T any](ctx context.Context, c *Client, f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err == nil {
			return v, nil
		}
		if err := c.Retry(ctx, err); err != nil {
			return v, err
		}
	}
}
