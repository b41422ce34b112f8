package recipe_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/recipe"
)

func TestRegisterIsIdempotentAndWaitsForAnotherOwner(t *testing.T) {
	ctx := ctxT(t)
	c1 := dial(t, shared.Addr())
	dir := recipeDir(t, c1)
	if _, err := c1.Create(ctx, dir, nil, zk.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	s1, _ := c1.Session(ctx)
	if err := recipe.Register(ctx, c1, s1, dir+"/w", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if err := recipe.Register(ctx, c1, s1, dir+"/w", []byte(`2`)); err != nil {
		t.Fatalf("re-register in the same session: %v", err)
	}
	c2 := dial(t, shared.Addr())
	s2, _ := c2.Session(ctx)
	done := make(chan error, 1)
	before := c2.Stats().Requests
	go func() { done <- recipe.Register(ctx, c2, s2, dir+"/w", []byte(`3`)) }()
	// Its create failed and its watch on the name is armed: it is waiting.
	eventually(t, 5*time.Second, "the create and the watch", func() bool { return c2.Stats().Requests-before >= 2 })
	select {
	case err := <-done:
		t.Fatalf("took a name owned by a live session: %v", err)
	default:
	}
	c1.Close() // the owner goes: its ephemeral is deleted at once
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Register did not take the name once it was free")
	}
	data, st, err := c2.Get(ctx, dir+"/w")
	if err != nil || string(data) != "3" || st.EphemeralOwner != s2.ID() {
		t.Fatalf("registration %q owner %x err %v", data, st.EphemeralOwner, err)
	}
}
