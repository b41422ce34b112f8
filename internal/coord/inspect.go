package coord

import (
	"context"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// Inspection is everything the tree holds about one task, wherever it is.
// The records are as read (nil where absent or unreadable); the summary
// fields above them are taken from whichever record knows best.
type Inspection struct {
	ID    task.ID `json:"id"`
	State State   `json:"state"`

	Kind        string    `json:"kind,omitempty"`
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts,omitempty"`
	Worker      string    `json:"worker,omitempty"`      // running it, or the one that ran it
	LastWorker  string    `json:"last_worker,omitempty"` // the worker it was last taken back from
	Epoch       int64     `json:"epoch,omitempty"`       // of the master that last assigned it
	Master      string    `json:"master,omitempty"`      // running: the master that assigned it
	SubmittedAt time.Time `json:"submitted_at"`
	AssignedAt  time.Time `json:"assigned_at,omitzero"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	DeadAt      time.Time `json:"dead_at,omitzero"`

	// Payload is data/<id>: nil once it is gone (collected, or never there).
	Payload *PayloadInfo `json:"payload"`

	Spec       *task.Spec       `json:"spec,omitempty"`       // tasks/<id>, or the dead letter's copy
	Assignment *task.Assignment `json:"assignment,omitempty"` // assign/<w>/<id>
	Result     *task.Result     `json:"result,omitempty"`     // results/<id>
	DeadLetter *task.DeadLetter `json:"dead_letter,omitempty"`

	// Problems lists records that exist but are not Paddock's (another tool
	// wrote them), and contradictions between records.
	Problems []string `json:"problems,omitempty"`
}

// PayloadInfo describes a payload without carrying all of it.
type PayloadInfo struct {
	Size    int    `json:"size"`
	Preview string `json:"preview"` // the first bytes as text (task.Printable)
}

// Inspect reads task id's znodes one after the other in the order of a
// task's life (task, assignment, result, dead letter, then the payload), so
// that a task moving on while it is read is seen in one state or the next,
// not in none. A requeue moves a task back to the start: when nothing was
// found, Inspect looks once more. preview bounds the payload bytes returned.
// ErrUnknownTask: nothing of the task is left.
func Inspect(ctx context.Context, c *zkclient.Client, l Layout, id task.ID, preview int) (Inspection, error) {
	in, err := inspect(ctx, c, l, id, preview)
	if errors.Is(err, ErrUnknownTask) {
		in, err = inspect(ctx, c, l, id, preview)
	}
	return in, err
}

func inspect(ctx context.Context, c *zkclient.Client, l Layout, id task.ID, preview int) (Inspection, error) {
	in := Inspection{ID: id, SubmittedAt: id.SubmittedAt().UTC()}
	read := func(path string) ([]byte, bool, error) {
		n, err := getNode(ctx, c, path)
		if errors.Is(err, zk.ErrNoNode) {
			return nil, false, nil
		}
		return n.Data, err == nil, err
	}
	data, isTask, err := read(l.Task(id))
	if err != nil {
		return in, err
	}
	if isTask {
		in.State = StatePending
		in.noteSpec(data, "task")
		if in.Spec != nil && in.Spec.Worker != "" {
			in.State = StateRunning
			ad, ok, err := read(l.Assignment(in.Spec.Worker, id))
			if err != nil {
				return in, err
			}
			in.noteAssignment(ad, ok)
		}
	}
	data, isResult, err := read(l.Result(id))
	if err != nil {
		return in, err
	}
	if isResult {
		in.State = StateFinished
		in.noteResult(data)
	}
	data, isDead, err := read(l.DeadLetter(id))
	if err != nil {
		return in, err
	}
	if isDead {
		in.State = StateDead
		in.noteDeadLetter(data, isTask)
	}
	data, hasPayload, err := read(l.Payload(id))
	if err != nil {
		return in, err
	}
	if hasPayload {
		in.Payload = &PayloadInfo{Size: len(data)}
		if preview > 0 {
			in.Payload.Preview = task.Printable(data, preview)
		}
	}
	if in.State == "" {
		return in, ErrUnknownTask
	}
	return in, nil
}

// StateOf is the state Inspect finds, for messages naming it.
func StateOf(ctx context.Context, c *zkclient.Client, l Layout, id task.ID) (State, error) {
	in, err := Inspect(ctx, c, l, id, 0)
	return in.State, err
}

func (in *Inspection) problem(s string) { in.Problems = append(in.Problems, s) }

func (in *Inspection) noteSpec(data []byte, where string) {
	s, err := task.DecodeSpec(data)
	if err != nil {
		in.problem(where + " record: " + err.Error())
		return
	}
	in.Spec = &s
	in.Kind, in.Attempts, in.MaxAttempts = s.Kind, s.Attempts, s.AttemptLimit()
	in.Worker, in.LastWorker, in.Epoch = s.Worker, s.LastWorker, s.Epoch
	in.AssignedAt = s.AssignedAt
	if !s.SubmittedAt.IsZero() {
		in.SubmittedAt = s.SubmittedAt
	}
}

func (in *Inspection) noteAssignment(data []byte, ok bool) {
	if !ok {
		in.problem("the task names worker " + in.Worker + " but assign/" + in.Worker + "/" + string(in.ID) + " does not exist")
		return
	}
	a, err := task.DecodeAssignment(data)
	if err != nil {
		in.problem("assignment record: " + err.Error())
		return
	}
	in.Assignment = &a
	in.Master, in.AssignedAt, in.Epoch = a.Master, a.AssignedAt, a.Epoch
}

func (in *Inspection) noteResult(data []byte) {
	r, err := task.DecodeResult(data)
	if err != nil {
		in.problem("result record: " + err.Error())
		return
	}
	in.Result = &r
	if in.Kind == "" {
		in.Kind = r.Kind
	}
	in.Attempts, in.Worker, in.StartedAt, in.FinishedAt = r.Attempts, r.Worker, r.StartedAt, r.FinishedAt
	if r.Epoch != 0 {
		in.Epoch = r.Epoch
	}
}

func (in *Inspection) noteDeadLetter(data []byte, isTask bool) {
	if isTask {
		in.problem("both a task and a dead letter exist")
	}
	d, err := task.DecodeDeadLetter(data)
	if err != nil {
		in.problem("dead letter record: " + err.Error())
		return
	}
	in.DeadLetter = &d
	in.Attempts, in.LastWorker, in.DeadAt = d.Attempts, d.LastWorker, d.At
	if in.Spec == nil {
		// The task's spec as it was; a malformed one is the reason itself
		// (the dead letter keeps its text), not a further problem.
		if s, err := task.DecodeSpec([]byte(d.Spec)); err == nil {
			in.Spec = &s
			in.Kind, in.MaxAttempts, in.Epoch = s.Kind, s.AttemptLimit(), s.Epoch
			if !s.SubmittedAt.IsZero() {
				in.SubmittedAt = s.SubmittedAt
			}
			in.AssignedAt = s.AssignedAt
		}
	}
}
