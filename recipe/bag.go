package recipe

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

// ErrNoItem reports a bag item that does not exist (never added, or
// removed).
var ErrNoItem = errors.New("bag: no such item")

const (
	itemPrefix  = "item"
	tokenPrefix = "token"
)

// Bag is PettingZoo's distributed bag (dbag): an unordered collection that
// many processes add to and remove from, and that watchers follow with a
// constant number of ZooKeeper operations per change, however large it is.
//
//	<dir>/item/itemNNNNNNNNNN    the items: sequential, ephemeral or persistent, data = payload
//	<dir>/token/tokenNNNNNNNNNN  persistent, named after the newest item's id
//	<dir>/pending/<tag>          an Add in progress (see Add)
//
// An item's id is its sequence number. Watchers keep a children watch on
// token/ only: a new token says "ids up to N exist"; the watcher looks at
// each id between the last maximum it saw and N, and keeps a watch on each
// item it finds, which tells it of the item's removal. Nobody lists item/
// after the start (or a resync after session expiry).
//
// Ids are not contiguous, which the original PettingZoo code assumed (its
// mock ZooKeeper hid the gaps): a watcher that looks after a burst finds
// ids that were added and removed meanwhile, ephemeral items gone with
// their session, and numbers taken by anything else created under item/
// (every child creation takes one). It reads each id and reports only the
// items it finds. (Measured on ZooKeeper 3.8.0: deletes do not consume
// sequence numbers, although they do advance the cversion Stat reports.)
//
// Item names carry no tag, unlike the other recipes' sequential znodes:
// watchers must derive an item's name from its id alone, which a random
// tag in the name would prevent (a watcher would have to list item/ to
// learn it). Add finds its item after a lost reply through the pending
// marker instead.
type Bag struct {
	c   *zkclient.Client
	dir string
}

// NewBag returns the bag under dir (its znodes are created on first use).
func NewBag(c *zkclient.Client, dir string) *Bag { return &Bag{c: c, dir: dir} }

// ItemPath is the znode of item id.
func (b *Bag) ItemPath(id int64) string { return fmt.Sprintf("%s/item/%s%010d", b.dir, itemPrefix, id) }

// TokenPath is the token announcing ids up to id.
func (b *Bag) TokenPath(id int64) string {
	return fmt.Sprintf("%s/token/%s%010d", b.dir, tokenPrefix, id)
}

func (b *Bag) itemDir() string    { return b.dir + "/item" }
func (b *Bag) tokenDir() string   { return b.dir + "/token" }
func (b *Bag) pendingDir() string { return b.dir + "/pending" }

func (b *Bag) ensure(ctx context.Context) error {
	for _, p := range []string{b.itemDir(), b.tokenDir(), b.pendingDir()} {
		if err := ensurePath(ctx, b.c, p); err != nil {
			return err
		}
	}
	return nil
}

// Add puts data in the bag and returns its id. An ephemeral item lives as
// long as the client's current session; a persistent one until removed.
//
// The item is created in one multi with a marker pending/<tag> (ephemeral
// like the item). If the reply is lost with the connection, the marker
// says whether the multi was applied, and its creation zxid identifies the
// item among those created since. A second multi then creates the token,
// deletes the marker and deletes older tokens, so a watcher gets one
// notification per Add. A cancelled Add may still have added the item.
func (b *Bag) Add(ctx context.Context, data []byte, ephemeral bool) (int64, error) {
	flags, markFlags := int32(zk.FlagSequence), int32(zk.FlagPersistent)
	if ephemeral {
		flags, markFlags = zk.FlagEphemeralSequential, zk.FlagEphemeral
	}
	mark := b.pendingDir() + "/" + newTag()
	id, err := b.create(ctx, data, flags, mark, markFlags)
	if err != nil {
		return -1, fmt.Errorf("bag: add to %s: %w", b.dir, err)
	}
	if err := b.announce(ctx, id, mark); err != nil {
		return id, fmt.Errorf("bag: announce item %d of %s: %w", id, b.dir, err)
	}
	return id, nil
}

func (b *Bag) create(ctx context.Context, data []byte, flags int32, mark string, markFlags int32) (int64, error) {
	for {
		res, err := b.c.Multi(ctx, zkclient.CreateOp(b.itemDir()+"/"+itemPrefix, data, flags), zkclient.CreateOp(mark, nil, markFlags))
		if err == nil {
			id, ok := parseSeq(res[0].String[len(b.itemDir())+1:], itemPrefix)
			if !ok {
				return -1, fmt.Errorf("bag: unexpected item name %s", res[0].String)
			}
			return id, nil
		}
		var me *zkclient.MultiError
		if errors.As(err, &me) {
			if !errors.Is(err, zk.ErrNoNode) {
				return -1, err
			}
			if err := b.ensure(ctx); err != nil {
				return -1, err
			}
			continue
		}
		if err := b.c.Retry(ctx, err); err != nil {
			return -1, err
		}
		id, found, err := b.recover(ctx, mark)
		if err != nil {
			return -1, err
		}
		if found {
			return id, nil
		}
	}
}

// recover finds the item of an Add whose reply was lost: the marker exists
// only if the multi was applied, and the item has the marker's creation
// zxid. Items are numbered in zxid order, so the search goes down from the
// newest and stops at the first older one.
func (b *Bag) recover(ctx context.Context, mark string) (int64, bool, error) {
	for {
		st, err := b.c.Exists(ctx, mark)
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return -1, false, err
			}
			continue
		}
		if st == nil {
			return -1, false, nil // not applied (or gone with its session): add again
		}
		names, _, err := b.c.Children(ctx, b.itemDir())
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return -1, false, err
			}
			continue
		}
		id, err := b.findByCzxid(ctx, sortedSeq(names, itemPrefix), st.Czxid)
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return -1, false, err
			}
			continue
		}
		if id >= 0 {
			return id, true, nil
		}
		_ = deleteOwn(ctx, b.c, mark)
		return -1, false, fmt.Errorf("%w: the item was added and removed before the lost reply could be recovered", ErrNoItem)
	}
}

// findByCzxid returns the id of the item created by transaction zxid, or
// -1 when none of nodes (sorted by id) is.
func (b *Bag) findByCzxid(ctx context.Context, nodes []seqNode, zxid int64) (int64, error) {
	for i := len(nodes) - 1; i >= 0; i-- {
		st, err := b.c.Exists(ctx, b.itemDir()+"/"+nodes[i].name)
		if err != nil {
			return -1, err
		}
		switch {
		case st == nil:
		case st.Czxid == zxid:
			return nodes[i].seq, nil
		case st.Czxid < zxid:
			return -1, nil
		}
	}
	return -1, nil
}

// announce makes watchers see ids up to id: it creates the token for id
// (unless a newer one exists), deletes older tokens and the Add's marker,
// in one multi.
func (b *Bag) announce(ctx context.Context, id int64, mark string) error {
	for {
		names, _, err := b.c.Children(ctx, b.tokenDir())
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		toks := sortedSeq(names, tokenPrefix)
		var ops []zkclient.Op
		if len(toks) == 0 || toks[len(toks)-1].seq < id {
			ops = append(ops, zkclient.CreateOp(b.TokenPath(id), nil, zk.FlagPersistent))
		}
		markIdx := len(ops)
		ops = append(ops, zkclient.DeleteOp(mark, -1))
		for _, t := range toks {
			if t.seq < id {
				ops = append(ops, zkclient.DeleteOp(b.tokenDir()+"/"+t.name, -1))
			}
		}
		_, err = b.c.Multi(ctx, ops...)
		var me *zkclient.MultiError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &me) && me.Index == markIdx && errors.Is(err, zk.ErrNoNode):
			// The marker is gone: an earlier attempt whose reply was lost
			// did all this, or the (ephemeral) marker and item went with
			// their session. Either way nothing is left to announce.
			return nil
		case errors.As(err, &me) && (errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrNodeExists)):
			continue // another Add moved the tokens: look again
		case errors.As(err, &me):
			return err
		}
		if err := b.c.Retry(ctx, err); err != nil {
			return err
		}
	}
}

// Remove removes item id and reports whether it existed.
func (b *Bag) Remove(ctx context.Context, id int64) (bool, error) {
	err := deleteOwn(ctx, b.c, b.ItemPath(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, zk.ErrNoNode):
		return false, nil
	}
	return false, fmt.Errorf("bag: remove %d from %s: %w", id, b.dir, err)
}

// Get returns item id's data, or ErrNoItem.
func (b *Bag) Get(ctx context.Context, id int64) ([]byte, error) {
	for {
		data, _, err := b.c.Get(ctx, b.ItemPath(id))
		switch {
		case err == nil:
			return data, nil
		case errors.Is(err, zk.ErrNoNode):
			return nil, fmt.Errorf("%w: %d in %s", ErrNoItem, id, b.dir)
		}
		if err := b.c.Retry(ctx, err); err != nil {
			return nil, err
		}
	}
}

// Items lists the ids in the bag, in order. It lists item/: a watcher
// should use Watch instead of calling it on every change.
func (b *Bag) Items(ctx context.Context) ([]int64, error) {
	for {
		names, _, err := b.c.Children(ctx, b.itemDir())
		if errors.Is(err, zk.ErrNoNode) {
			return []int64{}, nil
		}
		if err != nil {
			if err := b.c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		nodes := sortedSeq(names, itemPrefix)
		ids := make([]int64, len(nodes))
		for i, n := range nodes {
			ids[i] = n.seq
		}
		return ids, nil
	}
}

// Watch follows the bag until ctx ends. It returns the ids present at the
// start; afterwards onAdd and onRemove (either may be nil) are called, one
// at a time from one goroutine, for every id added or removed. They must
// not block for long: the watcher waits for them.
//
// A change costs the watcher one children read of token/ (which holds one
// or two tokens) plus one read per id the counter advanced by, whatever the
// bag's size. Ids are read with a data watch (GetW) rather than an exists
// watch: an exists watch on an id that turns out to be a gap would stay
// armed forever, since the id is never created.
//
// It follows sessions itself: after its session expires the watcher lists
// the bag once more and reports what changed meanwhile (removals first,
// then additions). Its goroutine ends when ctx does.
func (b *Bag) Watch(ctx context.Context, onAdd, onRemove func(id int64)) ([]int64, error) {
	ids, _, err := b.watch(ctx, onAdd, onRemove)
	return ids, err
}

// watch is Watch, also returning a channel closed once the watcher's
// goroutine has ended (after ctx), for owners that wait for it.
func (b *Bag) watch(ctx context.Context, onAdd, onRemove func(id int64)) ([]int64, <-chan struct{}, error) {
	if onAdd == nil {
		onAdd = func(int64) {}
	}
	if onRemove == nil {
		onRemove = func(int64) {}
	}
	w := &bagWatch{
		b: b, onAdd: onAdd, onRemove: onRemove,
		known:  map[int64]int{},
		events: make(chan keyedEvent[itemWatch], 64),
		stop:   make(chan struct{}),
		max:    -1,
	}
	sess, err := b.c.Session(ctx)
	if err != nil {
		return nil, nil, err
	}
	initial, err := w.read(ctx, false)
	if err != nil {
		close(w.stop)
		return nil, nil, fmt.Errorf("bag: watch %s: %w", b.dir, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(w.stop) // ends the item watches' forwarders
		followSessions(ctx, b.c, "bag "+b.dir, sess, w)
	}()
	return initial, done, nil
}

type itemWatch struct {
	id  int64
	gen int
}

type bagWatch struct {
	b               *Bag
	onAdd, onRemove func(int64)
	known           map[int64]int // id → generation of its watch
	gen             int
	max             int64           // every id up to max has been looked at
	tokCh           <-chan zk.Event // the children watch on token/
	events          chan keyedEvent[itemWatch]
	stop            chan struct{}
}

// watchItem relays item id's watch to the loop.
func (w *bagWatch) watchItem(id int64, gen int, ch <-chan zk.Event) {
	watchForward(ch, itemWatch{id, gen}, w.events, w.stop)
}

// resync is read after a new session, reporting what changed meanwhile
// (removals first, then additions).
func (w *bagWatch) resync(ctx context.Context) error {
	_, err := w.read(ctx, true)
	return err
}

// read lists the whole bag and re-arms every watch (the token watch in
// w.tokCh). With report, it calls the callbacks for what changed since the
// last listing.
func (w *bagWatch) read(ctx context.Context, report bool) ([]int64, error) {
	c := w.b.c
	for {
		if err := w.b.ensure(ctx); err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		toks, _, tokCh, err := c.ChildrenW(ctx, w.b.tokenDir())
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		names, _, err := c.Children(ctx, w.b.itemDir())
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		nodes := sortedSeq(names, itemPrefix)
		chans := make([]<-chan zk.Event, len(nodes))
		err = zkclient.Pipeline(len(nodes), func(i int) error {
			_, _, ch, err := c.GetW(ctx, w.b.ItemPath(nodes[i].seq))
			if errors.Is(err, zk.ErrNoNode) {
				return nil // removed since the listing
			}
			chans[i] = ch
			return err
		})
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		w.gen++
		present := make(map[int64]int, len(nodes))
		var ids []int64
		newMax := int64(-1)
		if t := sortedSeq(toks, tokenPrefix); len(t) > 0 {
			newMax = t[len(t)-1].seq
		}
		for i, n := range nodes {
			newMax = max(newMax, n.seq)
			if chans[i] == nil {
				continue
			}
			present[n.seq] = w.gen
			ids = append(ids, n.seq)
			w.watchItem(n.seq, w.gen, chans[i])
		}
		if report {
			var gone []int64
			for id := range w.known {
				if _, ok := present[id]; !ok {
					gone = append(gone, id)
				}
			}
			slices.Sort(gone)
			for _, id := range gone {
				w.onRemove(id)
			}
			for _, id := range ids {
				if _, ok := w.known[id]; !ok {
					w.onAdd(id)
				}
			}
		}
		w.known = present
		w.max = max(w.max, newMax)
		w.tokCh = tokCh
		if ids == nil {
			ids = []int64{}
		}
		return ids, nil
	}
}

// advance handles a token change: it reads token/ (re-arming its watch)
// and looks at every id between the last maximum and the new one.
func (w *bagWatch) advance(ctx context.Context) (<-chan zk.Event, error) {
	c := w.b.c
	for {
		toks, _, tokCh, err := c.ChildrenW(ctx, w.b.tokenDir())
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		t := sortedSeq(toks, tokenPrefix)
		if len(t) == 0 || t[len(t)-1].seq <= w.max {
			return tokCh, nil
		}
		newMax := t[len(t)-1].seq
		var ids []int64
		for id := w.max + 1; id <= newMax; id++ {
			if _, ok := w.known[id]; !ok {
				ids = append(ids, id)
			}
		}
		type got struct {
			ok bool
			ch <-chan zk.Event
		}
		res := make([]got, len(ids))
		err = zkclient.Pipeline(len(ids), func(i int) error {
			_, _, ch, err := c.GetW(ctx, w.b.ItemPath(ids[i]))
			switch {
			case err == nil:
				res[i] = got{true, ch}
			case errors.Is(err, zk.ErrNoNode):
				res[i] = got{true, nil} // a gap, or added and removed already
			default:
				return err
			}
			return nil
		})
		// Take what was read, in order, up to the first failure.
		for i, id := range ids {
			if !res[i].ok {
				break
			}
			if res[i].ch != nil {
				w.known[id] = w.gen
				w.watchItem(id, w.gen, res[i].ch)
				w.onAdd(id)
			}
			w.max = id
		}
		if err == nil {
			w.max = newMax
			return tokCh, nil
		}
		if err := c.Retry(ctx, err); err != nil {
			return nil, err
		}
	}
}

// itemEvent handles a fired item watch.
func (w *bagWatch) itemEvent(ctx context.Context, e keyedEvent[itemWatch]) error {
	id := e.key.id
	if g, ok := w.known[id]; !ok || g != e.key.gen {
		return nil // an older generation's watch
	}
	if e.ev.Type != zk.EventNodeDeleted {
		// Someone changed the item's data: re-arm.
		for {
			_, _, ch, err := w.b.c.GetW(ctx, w.b.ItemPath(id))
			if err == nil {
				w.watchItem(id, w.gen, ch)
				return nil
			}
			if errors.Is(err, zk.ErrNoNode) {
				break
			}
			if err := w.b.c.Retry(ctx, err); err != nil {
				return err
			}
		}
	}
	delete(w.known, id)
	w.onRemove(id)
	return nil
}

// step waits for a token change or an item's watch (see watcher).
func (w *bagWatch) step(ctx context.Context, sess *zkclient.Session) error {
	select {
	case <-ctx.Done():
	case <-sess.Done():
	case ev := <-w.tokCh:
		if ev.Type == zk.EventNotWatching {
			awaitEnd(ctx, sess)
			return nil
		}
		var err error
		w.tokCh, err = w.advance(ctx)
		return err
	case e := <-w.events:
		return w.itemEvent(ctx, e)
	}
	return nil
}
