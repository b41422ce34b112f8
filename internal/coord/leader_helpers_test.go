package coord_test

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// candidate joins l's election with c's session and returns the candidacy
// (not leading yet: Lead, or TakeOver directly, as a test needs).
func candidate(t *testing.T, c *zkclient.Client, l coord.Layout) *recipe.Candidate {
	t.Helper()
	ctx := ctxT(t)
	sess, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cand, err := recipe.NewLeaderQueue(c, l.Master()).Join(ctx, sess, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cand
}

// leadAll makes c's session the tree's leader of every partition, as
// name, and returns its fence.
func leadAll(t *testing.T, c *zkclient.Client, l coord.Layout, name string) coord.Fence {
	t.Helper()
	ctx := ctxT(t)
	cand := candidate(t, c, l)
	if err := cand.Lead(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f, err := coord.TakeOver(ctx, c, l, cand, name, coord.AllPartitions())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// leaderOf makes c's session the tree's leader of every partition and
// returns its writes.
func leaderOf(t *testing.T, c *zkclient.Client, l coord.Layout) *coord.Leader {
	t.Helper()
	return coord.NewLeader(c, l, leadAll(t, c, l, "m"), "m")
}
