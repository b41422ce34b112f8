package recipe

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// ErrUndecided reports that nobody has proposed anything yet.
var ErrUndecided = errors.New("consensus: nothing proposed yet")

const proposalPrefix = "proposal-"

// Consensus decides one value among concurrent proposers by the lowest
// sequential proposal: each proposer creates a persistent sequential znode
// <dir>/proposal-<tag>-NNNNNNNNNN holding its value, and everyone decides the
// value of the znode with the smallest sequence number. ZooKeeper orders
// all writes, so the smallest number is the same for everyone who reads
// after their own proposal was applied.
//
// Proposals are never deleted: deleting the lowest would change the
// decision. Use a fresh dir for each decision.
type Consensus struct {
	c   *zkclient.Client
	dir string
}

// NewConsensus returns the decision held under dir (created on first use).
func NewConsensus(c *zkclient.Client, dir string) *Consensus { return &Consensus{c: c, dir: dir} }

// Propose proposes value and returns the decided value, which is value or
// another proposer's. A proposer arriving after the decision does not write
// at all: the first proposal fixed it already. A proposal whose reply was
// lost with the connection is found again by its tag, not made twice.
func (k *Consensus) Propose(ctx context.Context, value []byte) ([]byte, error) {
	v, err := k.Decided(ctx)
	if !errors.Is(err, ErrUndecided) {
		return v, err
	}
	if _, err := createSeq(ctx, k.c, nil, k.dir, proposalPrefix, value, zk.FlagSequence); err != nil {
		return nil, fmt.Errorf("consensus: propose in %s: %w", k.dir, err)
	}
	// No sync needed here: a server has applied writes in their global
	// order, so once it applied ours it shows every lower proposal too.
	v, err = k.lowest(ctx)
	if errors.Is(err, ErrUndecided) {
		return nil, fmt.Errorf("consensus: %s: own proposal not visible: %w", k.dir, err)
	}
	return v, err
}

// Decided returns the decided value, or ErrUndecided. It syncs first, so it
// sees every proposal applied before the call, whichever server it reads.
func (k *Consensus) Decided(ctx context.Context) ([]byte, error) {
	for {
		err := k.c.Sync(ctx, k.dir)
		if err == nil || errors.Is(err, zk.ErrNoNode) {
			break
		}
		if err := k.c.Retry(ctx, err); err != nil {
			return nil, err
		}
	}
	return k.lowest(ctx)
}

func (k *Consensus) lowest(ctx context.Context) ([]byte, error) {
	for {
		names, _, err := k.c.Children(ctx, k.dir)
		if errors.Is(err, zk.ErrNoNode) {
			return nil, ErrUndecided
		}
		if err != nil {
			if err := k.c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		nodes := sortedSeq(names, proposalPrefix)
		if len(nodes) == 0 {
			return nil, ErrUndecided
		}
		data, _, err := k.c.Get(ctx, k.dir+"/"+nodes[0].name)
		if errors.Is(err, zk.ErrNoNode) {
			return nil, fmt.Errorf("consensus: %s: the lowest proposal %s was deleted; the decision is void", k.dir, nodes[0].name)
		}
		if err != nil {
			if err := k.c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		if data == nil {
			data = []byte{}
		}
		return data, nil
	}
}
