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

// Leader is the leading master's side of the protocol: the task records it
// reads, and the multis it sends ("assign", "unassign", "dead-letter",
// "remove-orphan", "remove-stray", "remove-dir", "expire" in
// docs/PROTOCOL.md), every one of them fenced (see Fence), so that a
// deposed leader applies none.
type Leader struct {
	c     *zkclient.Client
	l     Layout
	q     *Queue
	fence Fence
	name  string // the master's id, written into its assignments
}

// NewLeader returns the writes of the leader named name (its --id) that
// holds fence.
func NewLeader(c *zkclient.Client, l Layout, fence Fence, name string) *Leader {
	return &Leader{c: c, l: l, q: NewQueue(c, l, 0), fence: fence, name: name}
}

// TaskRecord is a task znode, tasks/<shard>/<id>, as the leader read it.
type TaskRecord struct {
	ID      task.ID
	Spec    task.Spec
	Version int32
	// Malformed says why the data is not a Spec (it wraps
	// task.ErrMalformed); Raw then keeps the data, printable, for the
	// task's dead letter.
	Malformed error
	Raw       string
}

// rawMax bounds the data of a malformed record kept in its dead letter.
const rawMax = 4096

// ReadTasks reads the task znodes of ids in one pipelined round. A task
// that no longer exists (completed, cancelled) is absent from the map.
//
// The pipeline's goroutines only fetch; the caller decodes. A goroutine
// starts with a small stack, and decoding JSON in each would grow (copy)
// it, for every read: a tenth of a busy leader's CPU went there.
func (ld *Leader) ReadTasks(ctx context.Context, ids []task.ID) (map[task.ID]TaskRecord, error) {
	data := make([][]byte, len(ids))
	versions := make([]int32, len(ids))
	found := make([]bool, len(ids))
	err := zkclient.Pipeline(len(ids), func(i int) error {
		d, stat, err := ld.c.Get(ctx, ld.l.Task(ids[i]))
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		data[i], versions[i], found[i] = d, stat.Version, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	m := make(map[task.ID]TaskRecord, len(ids))
	for i, id := range ids {
		if found[i] {
			m[id] = taskRecord(id, data[i], versions[i])
		}
	}
	return m, nil
}

func taskRecord(id task.ID, data []byte, version int32) TaskRecord {
	spec, err := task.DecodeSpec(data)
	if err != nil {
		return TaskRecord{ID: id, Version: version, Malformed: err, Raw: task.Printable(data, rawMax)}
	}
	return TaskRecord{ID: id, Spec: spec, Version: version}
}

// Why the server refused one item of a leader's multi (see Refusal).
var (
	// ErrTaskGone: the task znode no longer exists (completed, cancelled,
	// removed) since it was read.
	ErrTaskGone = errors.New("the task is gone")
	// ErrTaskChanged: the task znode (or a znode beside it) changed since
	// it was read: read it again.
	ErrTaskChanged = errors.New("the task changed since it was read")
	// ErrUnassigned: the assignment is gone (the task completed, was
	// cancelled, or was taken back already).
	ErrUnassigned = errors.New("the assignment is gone")
	// ErrNoAssignDir: the worker's assign/ directory is missing (it has not
	// created it again since a leader removed it).
	ErrNoAssignDir = errors.New("the worker's assign/ directory is missing")
	// ErrSlotTaken: another leader assigned to the worker since its
	// directory was listed (a worker whose slots the leaders share, see
	// AssignShared): list it again before giving it a task.
	ErrSlotTaken = errors.New("another leader took the worker's free slot")
	// ErrConflict: the tree contradicts the write in a way a re-read does
	// not mend (a result or a dead letter exists already, a znode to
	// remove has children): only another tool leaves that.
	ErrConflict = errors.New("the tree contradicts the write")
)

// Refusal is the server's refusal of one item of a leader's multi: Reason
// is ErrTaskGone, ErrTaskChanged, ErrUnassigned, ErrNoAssignDir or
// ErrConflict, and Op the op at fault. errors.Is matches either.
type Refusal struct {
	Reason error
	Op     *zkclient.MultiError
}

// Error names the reason, then the op at fault.
func (r *Refusal) Error() string { return fmt.Sprintf("%v (%v)", r.Reason, r.Op) }

// Unwrap gives the reason and the op at fault.
func (r *Refusal) Unwrap() []error { return []error{r.Reason, r.Op} }

// Item is one task's share of a leader's multi, as Assign, Unassign,
// DeadLetter, RemoveOrphan, DeadLetterStray and RemoveStray build it: many
// items go in one fenced multi (Apply). It knows what a refusal of each of
// its ops means.
type Item struct {
	ops    []zkclient.Op
	noNode []error // per op: what NoNode on it means; nil: a conflict
	// slotCheck is 1 + the index of the op that writes a shared worker's
	// directory (AssignShared), 0 when there is none: a version mismatch
	// there is ErrSlotTaken, on any other op the task's (ErrTaskChanged).
	slotCheck int
}

func (it *Item) add(op zkclient.Op, noNode error) {
	it.ops = append(it.ops, op)
	it.noNode = append(it.noNode, noNode)
}

// refused names the reason of the server's refusal of the item's op
// me.Index.
func (it Item) refused(me *zkclient.MultiError) *Refusal {
	reason := ErrConflict
	switch {
	case errors.Is(me, zk.ErrBadVersion) && me.Index+1 == it.slotCheck:
		reason = ErrSlotTaken
	case errors.Is(me, zk.ErrBadVersion):
		reason = ErrTaskChanged
	case errors.Is(me, zk.ErrNoNode) && me.Index < len(it.noNode) && it.noNode[me.Index] != nil:
		reason = it.noNode[me.Index]
	}
	return &Refusal{Reason: reason, Op: me}
}

// Apply sends items in as few fenced multis as possible (see FencedBatch).
// failed holds a *Refusal for each item the server refused; the others were
// applied. err is ErrDeposed, or an error (connection loss) that leaves
// the outcome of every item not yet refused unknown.
func (ld *Leader) Apply(ctx context.Context, items []Item) (failed map[int]error, err error) {
	ops := make([][]zkclient.Op, len(items))
	for i, it := range items {
		ops[i] = it.ops
	}
	refused, err := FencedBatch(ctx, ld.c, ld.fence, ops)
	if err != nil {
		return nil, err
	}
	failed = make(map[int]error, len(refused))
	for i, me := range refused {
		failed[i] = items[i].refused(me)
	}
	return failed, nil
}

// Assign is one task's share of the "assign" multi: the task is rewritten
// (attempts + 1, worker w, the leader's epoch, assigned now) at the version
// it was read at, and its assignment to w is created.
func (ld *Leader) Assign(rec TaskRecord, w string, now time.Time) (Item, error) {
	s := rec.Spec
	s.Attempts++
	s.Worker, s.Epoch, s.AssignedAt = w, ld.fence.Epoch, now
	a := task.Assignment{Kind: s.Kind, TimeoutMS: s.TimeoutMS, Attempt: s.Attempts, MaxAttempts: s.AttemptLimit(),
		Epoch: ld.fence.Epoch, Master: ld.name, SubmittedAt: rec.ID.SubmittedAt().UTC(), AssignedAt: now, Retries: s.Retries,
		Payload: s.Payload}
	ops, err := ld.q.AssignOps(rec.ID, rec.Version, s, a)
	if err != nil {
		return Item{}, err
	}
	var it Item
	it.add(ops[0], ErrTaskGone)
	it.add(ops[1], ErrNoAssignDir)
	return it, nil
}

// AssignShared is Assign to a worker whose slots several leaders share (it
// has fewer slots than there are leaders): the item also writes the
// worker's directory at dirVersion, the version it was listed at, so that
// of two leaders filling the same free slot one fails (ErrSlotTaken)
// instead of both booking it.
func (ld *Leader) AssignShared(rec TaskRecord, w string, now time.Time, dirVersion int32) (Item, error) {
	it, err := ld.Assign(rec, w, now)
	if err != nil {
		return Item{}, err
	}
	it.add(zkclient.SetOp(ld.l.AssignDir(w), nil, dirVersion), ErrNoAssignDir)
	it.slotCheck = len(it.ops)
	return it, nil
}

// Unassign is one task's share of the "unassign" multi: a lost worker's
// task goes back to pending, its Spec naming no worker and the lost one as
// its last.
func (ld *Leader) Unassign(rec TaskRecord, from string) (Item, error) {
	s := rec.Spec
	s.Worker, s.LastWorker = "", from
	ops, err := ld.q.UnassignOps(rec.ID, from, rec.Version, s)
	if err != nil {
		return Item{}, err
	}
	var it Item
	it.add(ops[0], ErrUnassigned)
	it.add(ops[1], ErrTaskGone)
	return it, nil
}

// DeadLetter is one task's share of the "dead-letter" multi: the task (and
// its assignment to assignedTo, a lost worker; "" when it is pending) goes,
// and its result (status dead, error "<reason>: <detail>") and its dead
// letter are created. The payload stays, with the dead letter.
func (ld *Leader) DeadLetter(rec TaskRecord, assignedTo, reason, detail string, now time.Time) (Item, error) {
	spec, raw := rec.Spec, rec.Raw
	if rec.Malformed == nil {
		b, err := task.Encode(spec)
		if err != nil {
			return Item{}, err
		}
		raw = string(b)
	}
	d := task.DeadLetter{ID: rec.ID, Reason: reason, Detail: detail, Attempts: spec.Attempts,
		LastWorker: assignedTo, At: now, Spec: raw}
	if assignedTo == "" {
		d.LastWorker = spec.LastWorker
	}
	ops, err := ld.q.DeadLetterOps(rec.ID, rec.Version, assignedTo, d, deadResult(rec.ID, spec, d, now))
	if err != nil {
		return Item{}, err
	}
	var it Item
	it.add(ops[0], ErrTaskGone)
	if assignedTo != "" {
		it.add(ops[1], ErrUnassigned)
	}
	for _, op := range ops[len(it.ops):] {
		it.add(op, nil) // the result and the dead letter: a shard missing is a conflict
	}
	return it, nil
}

// deadResult is the result of a task the leader gives up on.
func deadResult(id task.ID, spec task.Spec, d task.DeadLetter, now time.Time) task.Result {
	return task.Result{
		ID: id, Kind: spec.Kind, Status: task.Dead, Error: d.Reason + ": " + d.Detail,
		Worker: d.LastWorker, Attempts: spec.Attempts, Epoch: spec.Epoch,
		SubmittedAt: id.SubmittedAt().UTC(), FinishedAt: now,
	}
}

// RemoveOrphan is the "remove-orphan" multi's share for an assignment
// whose task no longer exists (only a tool leaves one): without it, the
// lost worker's directory would never empty.
func (ld *Leader) RemoveOrphan(w string, id task.ID) Item {
	var it Item
	it.add(zkclient.DeleteOp(ld.l.Assignment(w, id), -1), ErrUnassigned)
	return it
}

// ErrAssignDirNotEmpty: a lost worker's assign/ directory still has
// children, which the leader has not listed yet, or which are not tasks.
var ErrAssignDirNotEmpty = errors.New("the assign/ directory is not empty")

// RemoveAssignDir is the "remove-dir" multi: a lost worker's empty
// assign/<w> goes. Already gone is success.
func (ld *Leader) RemoveAssignDir(ctx context.Context, w string) error {
	_, err := FencedMulti(ctx, ld.c, ld.fence, zkclient.DeleteOp(ld.l.AssignDir(w), -1))
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case errors.Is(err, zk.ErrNotEmpty):
		return fmt.Errorf("%w: %s", ErrAssignDirNotEmpty, ld.l.AssignDir(w))
	}
	return err
}

// Expire is the leader's "expire": it removes the results created before
// now - results and the dead letters created before now - dead, with what
// goes along with each (see RemoveOps), batch removals per fenced multi.
func (ld *Leader) Expire(ctx context.Context, now time.Time, results, dead time.Duration, batch int) (Removed, error) {
	oldDead, err := FindOld(ctx, ld.c, ld.l, StateDead, now.Add(-dead))
	if err != nil {
		return Removed{}, err
	}
	oldResults, err := FindOld(ctx, ld.c, ld.l, StateFinished, now.Add(-results))
	if err != nil {
		return Removed{}, err
	}
	return RemoveOld(ctx, ld.c, ld.l, append(oldDead, oldResults...), batch, func(items [][]zkclient.Op) (map[int]*zkclient.MultiError, error) {
		return FencedBatch(ctx, ld.c, ld.fence, items)
	})
}

// AssignOps are one task's part of the master's "assign" multi: rewrite the
// task (attempts, worker, epoch) at the version the decision was based on,
// and create the assignment.
func (q *Queue) AssignOps(id task.ID, version int32, spec task.Spec, a task.Assignment) ([]zkclient.Op, error) {
	sb, err := task.Encode(spec)
	if err != nil {
		return nil, err
	}
	ab, err := task.Encode(a)
	if err != nil {
		return nil, err
	}
	return []zkclient.Op{
		zkclient.SetOp(q.l.Task(id), sb, version),
		zkclient.CreateOp(q.l.Assignment(spec.Worker, id), ab, zk.FlagPersistent),
	}, nil
}

// UnassignOps are one task's part of the master's "unassign" multi, which
// returns a lost worker's task to pending: delete the assignment, rewrite
// the task with no worker.
func (q *Queue) UnassignOps(id task.ID, from string, version int32, spec task.Spec) ([]zkclient.Op, error) {
	sb, err := task.Encode(spec)
	if err != nil {
		return nil, err
	}
	return []zkclient.Op{
		zkclient.DeleteOp(q.l.Assignment(from, id), -1),
		zkclient.SetOp(q.l.Task(id), sb, version),
	}, nil
}

// DeadLetterOps are one task's part of the master's "dead-letter" multi:
// delete the task (and its assignment, if any), create the result with
// status dead and the dead letter. The payload stays with the dead letter
// (see CollectOps), for a requeue.
func (q *Queue) DeadLetterOps(id task.ID, version int32, assignedTo string, d task.DeadLetter, r task.Result) ([]zkclient.Op, error) {
	db, err := task.Encode(d)
	if err != nil {
		return nil, err
	}
	rb, err := task.EncodeResult(r)
	if err != nil {
		return nil, err
	}
	ops := []zkclient.Op{zkclient.DeleteOp(q.l.Task(id), version)}
	if assignedTo != "" {
		ops = append(ops, zkclient.DeleteOp(q.l.Assignment(assignedTo, id), -1))
	}
	return append(ops,
		zkclient.CreateOp(q.l.Result(id), rb, zk.FlagPersistent),
		zkclient.CreateOp(q.l.DeadLetter(id), db, zk.FlagPersistent)), nil
}
