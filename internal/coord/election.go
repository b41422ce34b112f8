package coord

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// EnsureElection creates dir, the directory an election's candidates queue
// under (the election binary's --path, default Layout.Election), and its
// missing parents, as empty persistent znodes. Existing ones are fine.
func EnsureElection(ctx context.Context, c *zkclient.Client, dir string) error {
	if dir == "/" || dir == "" {
		return nil
	}
	if err := EnsureElection(ctx, c, path.Dir(dir)); err != nil {
		return err
	}
	if _, err := c.Create(ctx, dir, nil, zk.FlagPersistent); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
