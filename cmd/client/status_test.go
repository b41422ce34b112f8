package main

import (
	"testing"

	"github.com/paddock-zk/paddock"
)

func TestPartitionLeadersLine(t *testing.T) {
	var parts []paddock.PartitionStatus
	for p, l := range []string{"m1", "m2", "m1", "m2"} {
		parts = append(parts, paddock.PartitionStatus{Partition: string("0123"[p]), Leader: l, Epoch: int64(5 + p)})
	}
	if got, want := partitionLeaders(parts), "m1 0,2 (epoch 7); m2 1,3 (epoch 8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := partitionLeaders(parts[:1]); got != "" {
		t.Errorf("one leader: %q, want nothing (the leader line names it)", got)
	}
}
