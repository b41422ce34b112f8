package coord

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// Stray is a znode under tasks/<shard> that is not a task of that shard,
// written by another tool or another language's client with a bug: its name
// is not a task id (a UUID, upper-case hex), or it is the id of a task of
// another shard. The leader never leaves one there, for a client waiting on
// it would wait forever: a misplaced task id has a result path (its id
// says where) and is dead-lettered as malformed (DeadLetterStray); any
// other name has none and is removed (RemoveStray).
type Stray struct {
	Shard string
	Name  string
}

// Path is the stray's znode.
func (s Stray) Path(l Layout) string { return l.join("tasks", s.Shard, s.Name) }

// payload is the znode beside it where a payload of the same name would be.
func (s Stray) payload(l Layout) string { return l.join("data", s.Shard, s.Name) }

// Misplaced returns the task id the stray is named by, when it is one: a
// task in the wrong shard.
func (s Stray) Misplaced() (task.ID, bool) {
	id, err := task.ParseID(s.Name)
	return id, err == nil && id.Shard() != s.Shard
}

// StrayRecord is a stray as the leader read it.
type StrayRecord struct {
	Stray
	Data     []byte
	Version  int32
	Children int32 // a znode with children cannot be removed: a conflict
	Payload  bool  // data/<shard>/<name> exists: it goes too
}

// ReadStrays reads strays in one pipelined round: each one's data, and
// whether a payload of the same name sits beside it. A stray that no
// longer exists is absent from the map.
func (ld *Leader) ReadStrays(ctx context.Context, strays []Stray) (map[Stray]StrayRecord, error) {
	recs := make([]StrayRecord, len(strays))
	found := make([]bool, len(strays))
	err := zkclient.Pipeline(len(strays), func(i int) error {
		s := strays[i]
		data, stat, err := ld.c.Get(ctx, s.Path(ld.l))
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := ld.c.Exists(ctx, s.payload(ld.l))
		if err != nil {
			return err
		}
		recs[i] = StrayRecord{Stray: s, Data: data, Version: stat.Version, Children: stat.NumChildren, Payload: p != nil}
		found[i] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	m := make(map[Stray]StrayRecord, len(strays))
	for i, s := range strays {
		if found[i] {
			m[s] = recs[i]
		}
	}
	return m, nil
}

// DeadLetterStray is the "dead-letter" multi's share for a misplaced task
// (Stray.Misplaced): its znode, and a payload beside it, go; its result
// (status dead, error "malformed: ...") and its dead letter are created
// where its id says, so that a client waiting on the id gets a result.
// A payload where the id says (data/<its shard>/<id>) stays with the dead
// letter, as for any dead letter.
func (ld *Leader) DeadLetterStray(rec StrayRecord, now time.Time) (Item, error) {
	id, ok := rec.Misplaced()
	if !ok {
		return Item{}, fmt.Errorf("%s is not a misplaced task id", rec.Path(ld.l))
	}
	detail := fmt.Sprintf("its task znode is %s, in shard %s; the id belongs in shard %s", rec.Path(ld.l), rec.Shard, id.Shard())
	spec, _ := task.DecodeSpec(rec.Data) // zero when it does not parse: the dead letter keeps the text
	d := task.DeadLetter{ID: id, Reason: task.ReasonMalformed, Detail: detail, Attempts: spec.Attempts,
		LastWorker: spec.LastWorker, At: now, Spec: task.Printable(rec.Data, rawMax)}
	db, err := task.Encode(d)
	if err != nil {
		return Item{}, err
	}
	rb, err := task.EncodeResult(deadResult(id, spec, d, now))
	if err != nil {
		return Item{}, err
	}
	it := ld.removeStray(rec)
	it.add(zkclient.CreateOp(ld.l.Result(id), rb, zk.FlagPersistent), nil)
	it.add(zkclient.CreateOp(ld.l.DeadLetter(id), db, zk.FlagPersistent), nil)
	return it, nil
}

// RemoveStray is the "remove-stray" multi's share for a stray whose name
// is not a task id: it goes, with a payload of the same name beside it.
// No result can be written for it: only task ids have a place under
// results/.
func (ld *Leader) RemoveStray(rec StrayRecord) Item { return ld.removeStray(rec) }

func (ld *Leader) removeStray(rec StrayRecord) Item {
	var it Item
	it.add(zkclient.DeleteOp(rec.Path(ld.l), rec.Version), ErrTaskGone)
	if rec.Payload {
		it.add(zkclient.DeleteOp(rec.payload(ld.l), -1), ErrTaskChanged)
	}
	return it
}
