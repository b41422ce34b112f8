package recipe_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/recipe"
)

func TestConsensusAgreement(t *testing.T) {
	ctx := ctxT(t)
	admin := dial(t, shared.Addr())
	dir := recipeDir(t, admin)
	if _, err := recipe.NewConsensus(admin, dir).Decided(ctx); !errors.Is(err, recipe.ErrUndecided) {
		t.Fatalf("Decided before any proposal: %v", err)
	}
	// 12 proposers on 4 connections, all at once.
	const clients, perClient = 4, 3
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		decided  = map[string]int{}
		proposed = map[string]bool{}
		start    = make(chan struct{})
	)
	errs := make(chan error, clients*perClient)
	for i := range clients {
		c := dial(t, shared.Addr())
		for j := range perClient {
			v := fmt.Sprintf("value-%d-%d", i, j)
			proposed[v] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := recipe.NewConsensus(c, dir).Propose(ctx, []byte(v))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				decided[string(got)]++
				mu.Unlock()
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(decided) != 1 {
		t.Fatalf("proposers decided differently: %v", decided)
	}
	var value string
	for v := range decided {
		value = v
	}
	if !proposed[value] {
		t.Fatalf("decided %q, which nobody proposed", value)
	}
	// A late proposer decides the same, without writing.
	late := dial(t, shared.Addr())
	names, _, _ := admin.Children(ctx, dir)
	got, err := recipe.NewConsensus(late, dir).Propose(ctx, []byte("late"))
	if err != nil || string(got) != value {
		t.Fatalf("late proposer decided %q (%v), want %q", got, err, value)
	}
	if after, _, _ := admin.Children(ctx, dir); len(after) != len(names) {
		t.Fatalf("the late proposer wrote a proposal: %d → %d", len(names), len(after))
	}
	if got, err := recipe.NewConsensus(late, dir).Decided(ctx); err != nil || string(got) != value {
		t.Fatalf("Decided: %q %v", got, err)
	}
	t.Logf("%d proposals written by %d proposers; decided %q", len(names), clients*perClient, value)
}

func TestConsensusProposerAcrossExpiry(t *testing.T) {
	// A proposer cut off mid-proposal (its request stuck in a partition
	// until its session expires) proposes on its new session, once, and
	// decides what the others decided.
	t.Parallel()
	ctx := ctxT(t)
	p, pc := proxied(t)
	admin := dial(t, shared.Addr())
	dir := recipeDir(t, admin)
	old := sessionOf(t, pc)
	p.Blackhole()
	got := make(chan []byte, 1)
	errc := make(chan error, 1)
	go func() {
		v, err := recipe.NewConsensus(pc, dir).Propose(ctx, []byte("cut-off"))
		if err != nil {
			errc <- err
			return
		}
		got <- v
	}()
	first, err := recipe.NewConsensus(admin, dir).Propose(ctx, []byte("first"))
	if err != nil || string(first) != "first" {
		t.Fatalf("first proposal: %q %v", first, err)
	}
	shared.WaitSessionGone(t, old.ID())
	p.Restore()
	select {
	case v := <-got:
		if string(v) != "first" {
			t.Fatalf("the cut-off proposer decided %q, want %q", v, "first")
		}
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("the cut-off proposer did not decide")
	}
	names, _, _ := admin.Children(ctx, dir)
	n := 0
	for _, name := range names {
		data, _, _ := admin.Get(ctx, dir+"/"+name)
		if strings.Contains(string(data), "cut-off") {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("the cut-off proposer's proposal was written %d times", n)
	}
}
