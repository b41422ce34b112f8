package proctest

import (
	"sync"
	"time"
)

// SubmitOutcome is how a submit ended, as the client that sent it saw it.
type SubmitOutcome string

// The outcomes of a submit.
const (
	// SubmitAcked: ZooKeeper answered that the submit multi was applied.
	SubmitAcked SubmitOutcome = "acknowledged"
	// SubmitFailed: ZooKeeper answered that it was not applied.
	SubmitFailed SubmitOutcome = "failed"
	// SubmitUnknown: no answer (the connection was lost while the multi
	// was in flight): it may or may not have been applied.
	SubmitUnknown SubmitOutcome = "unknown"
)

// ClientTask is one task as the client that submitted it saw it.
type ClientTask struct {
	ID        string
	Kind      string
	Payload   []byte
	Want      string // the output a successful result must carry
	Submitted time.Time
	Outcome   SubmitOutcome
	Err       string // the submit's error, unless acknowledged

	CancelAsked time.Time // when the client asked to cancel it (zero: never)
	Result      *Result   // the result the client read (nil: none)
	ReadAt      time.Time
	Collected   bool
	// Absent: once everything was healed, the client found neither the
	// task nor a result (for an unknown submit: it was not applied).
	Absent bool
}

// ClientHistory is what a client did and saw, recorded as it happened: the
// submits with their outcomes, the cancels it asked for, the results it
// read and collected. It is the [Checker]'s evidence that does not come
// from Paddock's logs. Safe for concurrent use.
type ClientHistory struct {
	mu    sync.Mutex
	tasks map[string]*ClientTask
	order []string
}

// NewClientHistory returns an empty history.
func NewClientHistory() *ClientHistory {
	return &ClientHistory{tasks: map[string]*ClientTask{}}
}

// Submitted records a submit and its outcome.
func (h *ClientHistory) Submitted(t ClientTask) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.tasks[t.ID]; !dup {
		h.order = append(h.order, t.ID)
	}
	h.tasks[t.ID] = &t
}

func (h *ClientHistory) update(id string, f func(*ClientTask)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.tasks[id]; ok {
		f(t)
	}
}

// CancelAsked records that the client asked to cancel id at at.
func (h *ClientHistory) CancelAsked(id string, at time.Time) {
	h.update(id, func(t *ClientTask) { t.CancelAsked = at })
}

// Read records the result the client read for id.
func (h *ClientHistory) Read(id string, r Result, at time.Time) {
	h.update(id, func(t *ClientTask) { t.Result, t.ReadAt = &r, at })
}

// Collected records that the client collected id's result.
func (h *ClientHistory) Collected(id string) {
	h.update(id, func(t *ClientTask) { t.Collected = true })
}

// Absent records that the client found no trace of id.
func (h *ClientHistory) Absent(id string) {
	h.update(id, func(t *ClientTask) { t.Absent = true })
}

// Tasks returns a copy of every task, in submit order.
func (h *ClientHistory) Tasks() []ClientTask {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]ClientTask, len(h.order))
	for i, id := range h.order {
		out[i] = *h.tasks[id]
	}
	return out
}

// Get returns a copy of task id.
func (h *ClientHistory) Get(id string) (ClientTask, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tasks[id]
	if !ok {
		return ClientTask{}, false
	}
	return *t, true
}
