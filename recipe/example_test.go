package recipe_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// The Examples run against the test ZooKeeper (servers); a program passes
// its ensemble's addresses instead.

func ExampleLeaderQueue() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	q := recipe.NewLeaderQueue(c, "/examples/election")
	sess, err := c.Session(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// Two candidates (usually two processes): the first to join leads.
	a, err := q.Join(ctx, sess, []byte("a"))
	if err != nil {
		log.Fatal(err)
	}
	b, err := q.Join(ctx, sess, []byte("b"))
	if err != nil {
		log.Fatal(err)
	}
	if err := a.Lead(ctx, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println("a leads")
	pos, _ := b.Position(ctx)
	fmt.Println("b waits at position", pos)

	// a resigns: b, which watched only a, is woken and leads.
	if err := a.Resign(ctx); err != nil {
		log.Fatal(err)
	}
	if err := b.Lead(ctx, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println("b leads")
	_ = b.Resign(ctx)
	// Output:
	// a leads
	// b waits at position 1
	// b leads
}

func ExampleMutex() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	m := recipe.NewMutex(c, "/examples/lock")
	if err := m.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	// A write fenced by the lock: the CheckOp makes the multi fail if the
	// lock's znode is gone (a holder deposed by a session expiry it has
	// not noticed yet writes nothing).
	if _, err := c.Multi(ctx,
		zkclient.CheckOp(m.Key(), -1),
		zkclient.CreateOp("/examples/lock-owner", []byte("me"), zk.FlagEphemeral),
	); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote under the lock")

	other := recipe.NewMutex(c, "/examples/lock") // another contender
	ok, _ := other.TryLock(ctx)
	fmt.Println("another contender got it:", ok)

	if err := m.Unlock(ctx); err != nil {
		log.Fatal(err)
	}
	ok, _ = other.TryLock(ctx)
	fmt.Println("after Unlock, it got it:", ok)
	_ = other.Unlock(ctx)
	// Output:
	// wrote under the lock
	// another contender got it: false
	// after Unlock, it got it: true
}

func ExampleSemaphore() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	s := recipe.NewSemaphore(c, "/examples/semaphore", 2)
	first, err := s.Acquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	second, err := s.Acquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// Both permits are out: a third acquirer waits (here, until its
	// deadline).
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = s.Acquire(short)
	cancel()
	fmt.Println("third acquirer:", err)

	_ = first.Release(ctx)
	third, err := s.Acquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("third acquirer after a release: got a lease")
	_ = second.Release(ctx)
	_ = third.Release(ctx)
	// Output:
	// third acquirer: context deadline exceeded
	// third acquirer after a release: got a lease
}

func ExampleBarrier() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	b := recipe.NewBarrier(c, "/examples/barrier")
	if err := b.Set(ctx); err != nil {
		log.Fatal(err)
	}
	released := make(chan error)
	go func() { released <- b.Wait(ctx) }() // a process held back
	fmt.Println("barrier raised")

	if err := b.Remove(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("waiter released:", <-released == nil)
	// Output:
	// barrier raised
	// waiter released: true
}

func ExampleDoubleBarrier() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Three workers (usually three processes) start together and finish
	// together.
	var mu sync.Mutex
	var entered []string
	var wg sync.WaitGroup
	for _, name := range []string{"w1", "w2", "w3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := recipe.NewDoubleBarrier(c, "/examples/double-barrier", 3, name)
			if err := b.Enter(ctx); err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			entered = append(entered, name)
			mu.Unlock()
			// ... the computation ...
			if err := b.Leave(ctx); err != nil {
				log.Fatal(err)
			}
		}()
	}
	wg.Wait()
	fmt.Println(len(entered), "workers entered together and left together")
	// Output:
	// 3 workers entered together and left together
}

func ExampleConsensus() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A fresh znode per decision: proposals are never deleted.
	k := recipe.NewConsensus(c, fmt.Sprintf("/examples/consensus/%d", time.Now().UnixNano()))
	v, err := k.Propose(ctx, []byte("blue"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first proposer decided", string(v))
	v, err = k.Propose(ctx, []byte("green"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second proposer decided", string(v))
	// Output:
	// first proposer decided blue
	// second proposer decided blue
}

func ExampleRegister() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Create(ctx, "/examples/members", nil, zk.FlagPersistent); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		log.Fatal(err)
	}
	// The registration belongs to this session: it goes when the session
	// does (Close, or expiry), and the process registers again on its next
	// session.
	sess, err := c.Session(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := recipe.Register(ctx, c, sess, "/examples/members/worker-1", []byte(`{"slots":4}`)); err != nil {
		log.Fatal(err)
	}
	members, _, err := c.Children(ctx, "/examples/members")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(members)
	// Output:
	// [worker-1]
}

func ExampleBag() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	b := recipe.NewBag(c, "/examples/bag")
	added, removed := make(chan int64, 1), make(chan int64, 1)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	// The watcher pays the same per change however large the bag is.
	if _, err := b.Watch(wctx, func(id int64) { added <- id }, func(id int64) { removed <- id }); err != nil {
		log.Fatal(err)
	}

	// An ephemeral item lives as long as this client's session.
	id, err := b.Add(ctx, []byte("job 1"), true)
	if err != nil {
		log.Fatal(err)
	}
	data, _ := b.Get(ctx, <-added)
	fmt.Println("watcher saw an item added:", string(data))

	if _, err := b.Remove(ctx, id); err != nil {
		log.Fatal(err)
	}
	fmt.Println("watcher saw it removed:", <-removed == id)
	// Output:
	// watcher saw an item added: job 1
	// watcher saw it removed: true
}

func ExampleService() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	d := recipe.NewDiscovery(c, "/examples/discovery")
	orders, err := d.Service("db/postgres", "orders")
	if err != nil {
		log.Fatal(err)
	}
	// An instance publishes itself (ephemeral: it goes with its session;
	// Keep would publish it again on every new session).
	sess, err := c.Session(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := orders.Publish(ctx, sess, "10.0.0.7", map[string]any{"port": 5432}, true); err != nil {
		log.Fatal(err)
	}
	// A client finds it.
	e, err := orders.Pick(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Key, e.Meta["port"])
	_ = orders.Unpublish(ctx, "10.0.0.7")
	// Output:
	// 10.0.0.7 5432
}

func ExampleServiceConfig() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	cfg := recipe.NewServiceConfig(c, "/examples/config")
	for _, kv := range [][3]string{
		{"workers", "4", ""},             // service-wide
		{"log.level", "info", ""},        // service-wide
		{"log.level", "debug", "node-2"}, // node-2's override
	} {
		if err := cfg.Set(ctx, kv[0], kv[1], kv[2]); err != nil {
			log.Fatal(err)
		}
	}
	// Each process watches its effective config.
	changes := make(chan map[string]string, 4)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := cfg.Watch(wctx, "node-2", func(m map[string]string, err error) { changes <- m }); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-changes)
	if err := cfg.Set(ctx, "workers", "8", ""); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-changes)
	// Output:
	// map[log.level:debug workers:4]
	// map[log.level:debug workers:8]
}

func ExampleRoleMatch() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	rm := recipe.NewRoleMatch(c, "/examples/roles")
	if err := rm.Add(ctx, "shard-1", "the first shard"); err != nil && !errors.Is(err, recipe.ErrRoleExists) {
		log.Fatal(err)
	}
	// An applicant (usually one per process) holds one role at a time;
	// hold runs while it does, and its context ends when the role is lost.
	actx, stop := context.WithCancel(ctx)
	held := make(chan recipe.Role)
	applied := make(chan error)
	go func() {
		applied <- rm.Apply(actx, "worker-1", func(hctx context.Context, r recipe.Role) {
			held <- r
			<-hctx.Done()
		})
	}()
	r := <-held
	// Token grows with every claim: a resource that remembers the largest
	// token it saw refuses the writes of a holder deposed meanwhile.
	fmt.Println("holding", r.Name, "with a token:", r.Token > 0)

	stop() // the applicant stops: its hold ends, the role is released
	fmt.Println("Apply returned:", <-applied)
	_ = rm.Remove(ctx, "shard-1")
	// Output:
	// holding shard-1 with a token: true
	// Apply returned: context canceled
}
