package paddock

import (
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
)

// This file holds what the listing, inspection and status calls return:
// the records as Paddock stores them (docs/PROTOCOL.md), converted from
// the protocol's own types field by field. Their JSON is the protocol's,
// byte for byte (a test holds every field to it), because `client ... -o
// json` prints these and scripts read that.

// State is where a task is in its life.
type State string

// The states List selects and Inspect reports.
const (
	// StatePending: submitted, waiting for a worker.
	StatePending State = "pending"
	// StateScheduled: submitted with a NotBefore still ahead, or waiting
	// for its next retry. (Listed by masters and clients that know
	// scheduling; older ones call these tasks pending.)
	StateScheduled State = "scheduled"
	// StateRunning: assigned to a worker.
	StateRunning State = "running"
	// StateFinished: a result nobody has collected yet (status dead
	// included).
	StateFinished State = "finished"
	// StateDead: a dead letter, kept for inspection and Requeue.
	StateDead State = "dead"
)

// ParseState validates a state's name.
func ParseState(s string) (State, error) {
	st, err := coord.ParseState(s)
	return State(st), err
}

// DefaultMaxScan is what a ListOptions.MaxScan of 0 means.
const DefaultMaxScan = coord.DefaultMaxScan

// ListOptions select what List returns.
type ListOptions struct {
	State  State  // "": StatePending
	Kind   string // only tasks of this kind; "": any
	Reason string // dead letters only: only this reason (max-attempts, malformed); "": any
	Limit  int    // at most this many tasks, the oldest; <= 0: all
	// MaxScan bounds the records read that turn out not to match Kind or
	// Reason, so that a filter over a huge backlog answers in about a
	// second; <= 0: 10,000.
	MaxScan int
	// Conns is how many connections may share the reads of a listing of
	// more than 5,000 records (one connection caps near 10,000 reads/s);
	// the extra ones are opened and closed by List. <= 1: the Client's own.
	Conns int
}

// Listing is what List returns.
type Listing struct {
	State State        `json:"state"`
	Total int          `json:"total"` // tasks in that state when listed, before filters
	Tasks []ListedTask `json:"tasks"` // oldest first
	Read  int          `json:"read"`  // records read to find them
	// More: tasks in that state were left unread (Limit, or MaxScan).
	More bool `json:"more"`
	// ScanBound: the listing stopped after MaxScan records that did not
	// match, before reading every task in the state.
	ScanBound bool `json:"scan_bound"`
}

// ListedTask is one task of a Listing, from the record of its state.
type ListedTask struct {
	ID    ID     `json:"id"`
	State State  `json:"state"`
	Kind  string `json:"kind,omitempty"`
	// Since is when the task entered its state (the znode's creation by
	// ZooKeeper's clock): submitted, assigned, finished, dead-lettered.
	Since    time.Time `json:"since,omitzero"`
	Attempts int       `json:"attempts"`
	// Worker: running, the worker running it; finished, the one that ran
	// it; pending and dead, the last worker it was taken back from.
	Worker string `json:"worker,omitempty"`
	Epoch  int64  `json:"epoch,omitempty"`  // running: the epoch of the master that assigned it
	Status Status `json:"status,omitempty"` // finished
	Reason string `json:"reason,omitempty"` // dead
	// Malformed says why the record is not Paddock's (another tool wrote
	// it); the other fields are then what the znode's name and stat tell.
	Malformed string `json:"malformed,omitempty"`
}

func listingFrom(l coord.Listing) Listing {
	return Listing{State: State(l.State), Total: l.Total, Tasks: mapSlice(l.Tasks, listedFrom), Read: l.Read,
		More: l.More, ScanBound: l.ScanBound}
}

func listedFrom(r coord.Listed) ListedTask {
	return ListedTask{ID: ID(r.ID), State: State(r.State), Kind: r.Kind, Since: r.Since, Attempts: r.Attempts,
		Worker: r.Worker, Epoch: r.Epoch, Status: Status(r.Status), Reason: r.Reason, Malformed: r.Malformed}
}

// Inspection is everything ZooKeeper holds about one task, wherever it
// is. The records are as stored (nil where absent or unreadable); the
// summary fields above them come from whichever record knows best.
type Inspection struct {
	ID    ID    `json:"id"`
	State State `json:"state"`

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

	// Payload: nil once it is gone (collected with the result).
	Payload *PayloadInfo `json:"payload"`

	Spec       *TaskSpec   `json:"spec,omitempty"`       // the task record, or the dead letter's copy
	Assignment *Assignment `json:"assignment,omitempty"` // the running assignment
	Result     *Result     `json:"result,omitempty"`
	DeadLetter *DeadLetter `json:"dead_letter,omitempty"`

	// Problems lists records that exist but are not Paddock's (another
	// tool wrote them), and contradictions between records.
	Problems []string `json:"problems,omitempty"`
}

// PayloadInfo describes a payload without carrying all of it.
type PayloadInfo struct {
	Size    int    `json:"size"`
	Preview string `json:"preview"` // the first bytes as text: invalid UTF-8 replaced, cut with a marker
}

// TaskSpec is a task's record while it is pending or running: what its
// client asked for, and what the master and workers have written since.
type TaskSpec struct {
	Kind             string       `json:"kind"`
	TimeoutMS        int64        `json:"timeout_ms,omitempty"`
	MaxAttempts      int          `json:"max_attempts,omitempty"`
	SubmittedAt      time.Time    `json:"submitted_at"`
	Client           string       `json:"client,omitempty"`
	Size             int          `json:"size"` // of the payload
	Retry            *RetryPolicy `json:"retry,omitempty"`
	NotBefore        time.Time    `json:"not_before,omitzero"`
	RoutingTimeoutMS int64        `json:"routing_timeout_ms,omitempty"`
	// Key is the znode name of the task's idempotency key (a SHA-256 of
	// Task.Key, not the key itself).
	Key string `json:"key,omitempty"`
	// Payload is the copy of a small payload (at most 256 bytes) that the
	// client wrote in the record, for the worker to run with without
	// reading the payload's own znode; nil when there is none.
	Payload []byte `json:"payload,omitzero"`
	// Retries counts the failures retried so far; Errors keeps them.
	Retries       int            `json:"retries,omitempty"`
	Errors        []AttemptError `json:"errors,omitempty"`
	ErrorsDropped int            `json:"errors_dropped,omitempty"`
	// Attempts counts assignments so far; Worker holds it now ("" while
	// pending); LastWorker is the one it was last taken back from.
	Attempts   int       `json:"attempts"`
	Worker     string    `json:"worker,omitempty"`
	LastWorker string    `json:"last_worker,omitempty"`
	Epoch      int64     `json:"epoch,omitempty"`
	AssignedAt time.Time `json:"assigned_at,omitzero"`
}

// Timeout is the task's execution limit; 0: none.
func (s TaskSpec) Timeout() time.Duration { return fromMillis(s.TimeoutMS) }

// RoutingTimeout is how long the task may wait for a worker of its kind;
// 0: forever.
func (s TaskSpec) RoutingTimeout() time.Duration { return fromMillis(s.RoutingTimeoutMS) }

func specFrom(s task.Spec) TaskSpec {
	return TaskSpec{
		Kind: s.Kind, TimeoutMS: s.TimeoutMS, MaxAttempts: s.MaxAttempts, SubmittedAt: s.SubmittedAt,
		Client: s.Client, Size: s.Size, Retry: mapPtr(s.Retry, retryFrom), NotBefore: s.NotBefore,
		RoutingTimeoutMS: s.RoutingTimeoutMS, Key: s.Key, Payload: s.Payload, Retries: s.Retries,
		Errors: mapSlice(s.Errors, attemptErrorFrom), ErrorsDropped: s.ErrorsDropped,
		Attempts: s.Attempts, Worker: s.Worker, LastWorker: s.LastWorker, Epoch: s.Epoch, AssignedAt: s.AssignedAt,
	}
}

// Assignment is the record a master writes for the worker that runs a task.
type Assignment struct {
	Kind        string    `json:"kind"`
	TimeoutMS   int64     `json:"timeout_ms,omitempty"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts"`
	Epoch       int64     `json:"epoch"`
	Master      string    `json:"master"`
	SubmittedAt time.Time `json:"submitted_at"`
	AssignedAt  time.Time `json:"assigned_at"`
	// Retries counts the failed executions retried before this assignment
	// (the Spec's retries), so a handler knows without reading the Spec.
	Retries int `json:"retries,omitempty"`
	// Payload is the Spec's Payload, copied by the master: the payload the
	// worker runs with when present.
	Payload []byte `json:"payload,omitzero"`
}

func assignmentFrom(a task.Assignment) Assignment {
	return Assignment{Kind: a.Kind, TimeoutMS: a.TimeoutMS, Attempt: a.Attempt, MaxAttempts: a.MaxAttempts,
		Epoch: a.Epoch, Master: a.Master, SubmittedAt: a.SubmittedAt, AssignedAt: a.AssignedAt, Retries: a.Retries,
		Payload: a.Payload}
}

// DeadLetter says why a task was given up on. Spec is its task record
// verbatim (it may be what was malformed).
type DeadLetter struct {
	ID         ID        `json:"id"`
	Reason     string    `json:"reason"` // max-attempts or malformed
	Detail     string    `json:"detail"`
	Attempts   int       `json:"attempts"`
	LastWorker string    `json:"last_worker,omitempty"`
	At         time.Time `json:"at"`
	Spec       string    `json:"spec"`
}

func deadLetterFrom(d task.DeadLetter) DeadLetter {
	return DeadLetter{ID: ID(d.ID), Reason: d.Reason, Detail: d.Detail, Attempts: d.Attempts,
		LastWorker: d.LastWorker, At: d.At, Spec: d.Spec}
}

func inspectionFrom(in coord.Inspection) Inspection {
	return Inspection{
		ID: ID(in.ID), State: State(in.State), Kind: in.Kind, Attempts: in.Attempts, MaxAttempts: in.MaxAttempts,
		Worker: in.Worker, LastWorker: in.LastWorker, Epoch: in.Epoch, Master: in.Master,
		SubmittedAt: in.SubmittedAt, AssignedAt: in.AssignedAt, StartedAt: in.StartedAt,
		FinishedAt: in.FinishedAt, DeadAt: in.DeadAt,
		Payload:    mapPtr(in.Payload, func(p coord.PayloadInfo) PayloadInfo { return PayloadInfo(p) }),
		Spec:       mapPtr(in.Spec, specFrom),
		Assignment: mapPtr(in.Assignment, assignmentFrom),
		Result:     mapPtr(in.Result, resultFrom),
		DeadLetter: mapPtr(in.DeadLetter, deadLetterFrom),
		Problems:   in.Problems,
	}
}

// ClusterStatus is a snapshot of a deployment, read without writing
// anything; `client status -o json` prints it (docs/PROTOCOL.md,
// "status", documents every field).
type ClusterStatus struct {
	Root   string         `json:"root"`
	Epoch  EpochInfo      `json:"epoch"`
	Leader *recipe.Member `json:"leader"` // nil: no master
	// TakingOver: the leader was elected but has not taken over yet (for
	// a moment after a failover), so it assigns nothing so far.
	TakingOver bool            `json:"taking_over"`
	Backups    []recipe.Member `json:"backups"` // in line order
	Workers    []WorkerStatus  `json:"workers"`
	Pending    int             `json:"pending"`
	Running    int             `json:"running"`
	Finished   int             `json:"finished"` // results not yet collected
	Dead       int             `json:"dead"`     // dead letters
	// Submitted and Ended only grow: their difference between two
	// readings over the time apart is the throughput.
	Submitted  int64               `json:"submitted_total"`
	Ended      int64               `json:"ended_total"`
	RecentDead []DeadSummary       `json:"recent_dead"` // the newest dead letters, newest first
	Roles      []recipe.RoleStatus `json:"roles"`
	Applicants []recipe.Member     `json:"applicants"` // waiting for a role, the next first
	// At is when the reading began (the reader's clock).
	At time.Time `json:"at"`
	// WaitingForKind counts, by kind, the due tasks that no live worker
	// can run: they stay pending until a worker of that kind registers
	// (or their routing timeout ends them). The leader publishes it.
	WaitingForKind map[string]int `json:"waiting_for_kind,omitempty"`
	// Partitions says who leads each partition of the tasks, as each
	// leader recorded at its take-over (several leaders: master.leaders).
	Partitions []PartitionStatus `json:"partitions,omitempty"`
	// OldestPendingSeconds: only a leading master knows it (the status
	// page shows it); nil here.
	OldestPendingSeconds *float64 `json:"oldest_pending_seconds,omitempty"`
	// Scheduled: the tasks (counted in Pending) that the leader holds
	// until they are due; only a leading master knows it; nil here.
	Scheduled *int `json:"scheduled,omitempty"`
	// Throughput: only a reader that keeps earlier readings knows it (the
	// status page, `client status --watch`); nil here.
	Throughput *Throughput `json:"throughput,omitempty"`
}

// PartitionStatus is one partition of the tasks (the 16 shards whose
// first hex digit is Partition) and the master that last took it over.
type PartitionStatus struct {
	Partition string    `json:"partition"`
	Epoch     int64     `json:"epoch"`
	Leader    string    `json:"leader"`
	Since     time.Time `json:"since"`
}

// EpochInfo is the epoch record: each new leader increments Epoch.
type EpochInfo struct {
	Epoch  int64     `json:"epoch"`
	Leader string    `json:"leader,omitempty"`
	Since  time.Time `json:"since,omitzero"`
}

// WorkerStatus is one registered worker and its load.
type WorkerStatus struct {
	recipe.Member
	Concurrency int      `json:"concurrency"`
	Kinds       []string `json:"kinds"` // the kinds it runs
	Version     string   `json:"version,omitempty"`
	Draining    bool     `json:"draining,omitempty"` // stopping: it takes no more tasks
	Name        string   `json:"name"`
	Running     int      `json:"running"`
	Valid       bool     `json:"valid"` // its registration parsed
}

// DeadSummary is a dead letter without the task's data.
type DeadSummary struct {
	ID         string    `json:"id"` // a string: a dead letter another tool wrote may not be named by an ID
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail"`
	Attempts   int       `json:"attempts"`
	LastWorker string    `json:"last_worker,omitempty"`
	At         time.Time `json:"at,omitzero"`
}

// Throughput is how fast tasks were submitted and ended over a window.
type Throughput struct {
	WindowSeconds      float64 `json:"window_seconds"`
	EndedPerSecond     float64 `json:"ended_per_second"`
	SubmittedPerSecond float64 `json:"submitted_per_second"`
}

func statusFrom(s coord.Status) ClusterStatus {
	return ClusterStatus{
		Root: s.Root, Epoch: EpochInfo(s.Epoch), Leader: s.Leader, TakingOver: s.TakingOver, Backups: s.Backups,
		Workers: mapSlice(s.Workers, workerStatusFrom), Pending: s.Pending, Running: s.Running,
		Finished: s.Finished, Dead: s.Dead, Submitted: s.Submitted, Ended: s.Ended,
		RecentDead: mapSlice(s.RecentDead, func(d coord.DeadSummary) DeadSummary { return DeadSummary(d) }),
		Roles:      s.Roles, Applicants: s.Applicants, At: s.At, OldestPendingSeconds: s.OldestPendingSeconds,
		WaitingForKind: s.WaitingForKind, Scheduled: s.Scheduled,
		Partitions: mapSlice(s.Partitions, func(p coord.PartitionStatus) PartitionStatus {
			return PartitionStatus{Partition: p.Partition, Epoch: p.Epoch, Leader: p.Leader, Since: p.Since}
		}),
		Throughput: mapPtr(s.Throughput, func(t coord.Throughput) Throughput { return Throughput(t) }),
	}
}

func workerStatusFrom(w coord.WorkerStatus) WorkerStatus {
	return WorkerStatus{Member: w.Member, Concurrency: w.Concurrency, Kinds: w.Kinds, Version: w.Version,
		Draining: w.Draining, Name: w.Name, Running: w.Running, Valid: w.Valid}
}

// Requeued is what RequeueDead did.
type Requeued struct {
	Requeued []ID              `json:"requeued"`
	Failed   map[string]string `json:"failed,omitempty"` // task id -> why it was left
	Matched  int               `json:"matched"`          // dead letters with the reason asked for
}

func requeuedFrom(r coord.Requeued) Requeued {
	return Requeued{Requeued: mapSlice(r.Requeued, func(id task.ID) ID { return ID(id) }), Failed: r.Failed, Matched: r.Matched}
}

// PurgeOptions select what FindPurgeable finds.
type PurgeOptions struct {
	Finished bool      // results (with their payloads)
	Dead     bool      // dead letters (with their payloads and dead results)
	Before   time.Time // only those whose znode was created before this, by ZooKeeper's clock
}

// Purgeable is a result or a dead letter that Purge would remove, with
// what goes along.
type Purgeable struct {
	ID      ID        `json:"id"`
	State   State     `json:"state"`   // finished (a result) or dead (a dead letter)
	Created time.Time `json:"created"` // its znode's creation
	// Payload: the task's payload goes too.
	Payload bool `json:"payload"`
	// Result (dead only): the dead result goes too.
	Result bool `json:"result,omitempty"`
	// DeadLetter (finished only): a dead letter keeps the payload, so only
	// the result goes.
	DeadLetter bool `json:"dead_letter,omitempty"`
}

func (p Purgeable) old() coord.Old {
	return coord.Old{ID: task.ID(p.ID), State: coord.State(p.State), Created: p.Created, Payload: p.Payload,
		Result: p.Result, DeadLetter: p.DeadLetter}
}

func purgeableFrom(o coord.Old) Purgeable {
	return Purgeable{ID: ID(o.ID), State: State(o.State), Created: o.Created, Payload: o.Payload,
		Result: o.Result, DeadLetter: o.DeadLetter}
}

// Purged is what Purge did.
type Purged struct {
	Removed int `json:"removed"`
	// Left changed under every try (collected, requeued, ...) and are
	// still there: a later Purge looks at them again.
	Left int `json:"left"`
}
