package recipe

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Register creates the ephemeral znode path with data under sess (group
// membership). It is idempotent within a session: a create whose reply was
// lost finds its own znode. When the znode belongs to another session (a
// previous incarnation not yet expired, or another live process using the
// same name) it waits for that znode to go, because taking the name from a
// live owner would make two processes one.
func Register(ctx context.Context, c *zkclient.Client, sess *zkclient.Session, path string, data []byte) error {
	warned := false
	for {
		if !sess.Alive() {
			return ErrSessionLost
		}
		_, err := c.Create(ctx, path, data, zk.FlagEphemeral)
		switch {
		case err == nil:
			return nil
		case zkclient.IsConnectionError(err):
			if err := c.WaitConnected(ctx); err != nil {
				return err
			}
			continue
		case !errors.Is(err, zk.ErrNodeExists):
			return fmt.Errorf("register: %s: %w", path, err)
		}
		stat, ch, err := c.ExistsW(ctx, path)
		if err != nil {
			if zkclient.IsConnectionError(err) {
				if err := c.WaitConnected(ctx); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("register: %s: %w", path, err)
		}
		if stat == nil {
			continue
		}
		if stat.EphemeralOwner == sess.ID() {
			// Ours already (a retried create); make sure it carries data.
			_, err := c.Set(ctx, path, data, -1)
			return err
		}
		if !warned {
			c.Logger().Warn("name is registered by another session; waiting for it to go away",
				zap.String("path", path), zap.String("owner", fmt.Sprintf("0x%x", stat.EphemeralOwner)))
			warned = true
		}
		select {
		case <-ch:
		case <-sess.Done():
			return ErrSessionLost
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
