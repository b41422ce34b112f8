package zkclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// The Examples run against the test ZooKeeper (servers); a program passes
// its ensemble's addresses instead.

func ExampleDial() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err) // zkclient.ErrUnreachable, naming the servers and why
	}
	defer c.Close() // ends the session: its ephemeral znodes go at once

	sess, err := c.Session(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// An ephemeral znode lives as long as sess: when sess.Done() closes,
	// it is gone and whoever created it builds it again on the next
	// session.
	if _, err := c.Create(ctx, "/example-dial", []byte("hello"), zk.FlagEphemeral); err != nil {
		log.Fatal(err)
	}
	data, stat, err := c.Get(ctx, "/example-dial")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data), stat.EphemeralOwner == sess.ID())
	// Output:
	// hello true
}

func ExampleClient_Multi() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// All or nothing: the check fails, so nothing is created, and the
	// error names the op at fault.
	_, err = c.Multi(ctx,
		zkclient.CreateOp("/example-multi", nil, zk.FlagEphemeral),
		zkclient.CheckOp("/example-missing", -1),
	)
	var me *zkclient.MultiError
	if errors.As(err, &me) {
		fmt.Println("op", me.Index, "failed:", me.Op, errors.Is(err, zk.ErrNoNode))
	}
	st, _ := c.Exists(ctx, "/example-multi")
	fmt.Println("created anyway:", st != nil)
	// Output:
	// op 1 failed: check /example-missing true
	// created anyway: false
}

func ExampleClient_Retry() {
	ctx := context.Background()
	c, err := zkclient.Dial(ctx, zkclient.Config{Servers: servers})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// The shape of every retry loop: try, and on failure let Retry wait
	// out a broken connection (nil: try again) or say why to give up. A
	// write whose reply was lost may have been applied, so this create
	// treats "exists" after a retry as its own success.
	retried := false
	for {
		_, err := c.Create(ctx, "/example-retry", nil, zk.FlagEphemeral)
		if err == nil || (retried && errors.Is(err, zk.ErrNodeExists)) {
			break
		}
		if err := c.Retry(ctx, err); err != nil {
			log.Fatal(err)
		}
		retried = true
	}
	fmt.Println("created")
	// Output:
	// created
}
