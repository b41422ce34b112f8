package proctest

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"
)

// RootTxns is what ZooKeeper's transaction log says happened under one
// Paddock root (docs/PROTOCOL.md): which znodes of each task were created
// and how often, every take-over, every assignment, and every leader write
// with the fence it carried. It is built by replaying the log in zxid
// order, so each write is judged against the state of the tree at its own
// zxid, not against what any process believed.
type RootTxns struct {
	Root string
	// Creates counts the successful creates of tasks/<shard>/<id>,
	// data/<shard>/<id> and results/<shard>/<id>, by part and task id.
	Creates map[string]map[string]int
	// ResultAt is when each task's (first) result was created.
	ResultAt map[string]time.Time
	// TakeOvers are the epoch bumps, in order.
	TakeOvers []TakeOver
	// Assignments are every assignment created, in order.
	Assignments []AssignTxn
	// LeaderWrites counts the fenced multis ZooKeeper applied.
	LeaderWrites int
	// Refused are the fenced multis ZooKeeper refused because a fence
	// check failed: writes of a leader that was no longer one.
	Refused []RefusedWrite
	// Problems are writes that the fence should have stopped but that
	// were applied: the "deposed writes applied".
	Problems []string
	// Txns counts the transactions under the root.
	Txns int
	// Incomplete says why the log read may not be the whole history:
	// zxids missing, logs that disagree, nothing under the root.
	Incomplete []string
}

// TakeOver is one epoch bump ("take-over").
type TakeOver struct {
	Zxid      int64
	At        time.Time
	Epoch     int64
	Leader    string // the epoch record's leader
	Candidate string // the candidacy the take-over was checked against
}

// AssignTxn is one assignment: created by the leader of Epoch at At,
// deleted (completed, cancelled, taken back) at Deleted (zero: never).
type AssignTxn struct {
	Zxid    int64
	At      time.Time
	Deleted time.Time
	Worker  string
	Task    string
	Epoch   int64 // the epoch the assignment record carries
}

// RefusedWrite is a leader multi that failed at one of its fence checks.
type RefusedWrite struct {
	Zxid    int64
	At      time.Time
	Session int64
	// Why: "epoch moved" (its candidacy check passed, its epoch check
	// failed: a newer leader took over) or "candidacy gone" (its first
	// check failed: its session had expired; attributed to a master by
	// its session, which created candidacies).
	Why       string
	Candidate string // for "epoch moved": the candidacy it checked
}

// The parts of a task's znodes that RootTxns counts.
const (
	PartTasks   = "tasks"
	PartData    = "data"
	PartResults = "results"
)

// KeepPaddockData keeps the data a [RootTxns] reads (epoch, candidacies,
// assignments, task records) and drops payloads and results.
func KeepPaddockData(root string) KeepData {
	return func(p string) bool {
		rel, ok := strings.CutPrefix(p, root+"/")
		if !ok {
			return false
		}
		return rel == "epoch" || strings.HasPrefix(rel, "master/") || strings.HasPrefix(rel, "assign/") || strings.HasPrefix(rel, "tasks/")
	}
}

// candidacy is a live election candidate during the replay.
type candidacy struct {
	session int64
	id      string
}

// txnReplay is the state of a replay of one root's history.
type txnReplay struct {
	r          *RootTxns
	candidates map[string]candidacy // path -> owner
	masterSess map[int64]bool       // sessions that created a candidacy
	version    int32                // the epoch znode's version
	current    TakeOver             // the latest take-over
	holder     map[string]string    // partition znode -> the candidacy whose take-over bumped it last
	open       map[string]int       // assignment path -> index in r.Assignments
}

// AnalyzeTxns replays h for the Paddock tree under root.
func AnalyzeTxns(h *TxnHistory, root string) *RootTxns {
	r := &RootTxns{Root: root, ResultAt: map[string]time.Time{}, Creates: map[string]map[string]int{
		PartTasks: {}, PartData: {}, PartResults: {},
	}}
	p := &txnReplay{r: r, candidates: map[string]candidacy{}, masterSess: map[int64]bool{}, open: map[string]int{}, holder: map[string]string{}}
	// A deposed master's refused write may come on a new session (the
	// library opens one when the old expired) before that session stands
	// again: know every session that ever stood before replaying.
	for _, t := range h.Txns {
		for _, op := range t.Ops {
			if isCreate(op.Type) && p.isCandidate(op.Path) {
				p.masterSess[t.Session] = true
			}
		}
	}
	for _, t := range h.Txns {
		p.apply(t)
	}
	r.Incomplete = append(h.Gaps(), h.Conflicts...)
	if r.Txns == 0 {
		r.Incomplete = append(r.Incomplete, fmt.Sprintf("no transaction under %s in %d log files", root, h.Files))
	}
	return r
}

func (p *txnReplay) rel(path string) (string, bool) {
	return strings.CutPrefix(path, p.r.Root+"/")
}

func (p *txnReplay) isCandidate(path string) bool {
	rel, ok := p.rel(path)
	return ok && strings.HasPrefix(rel, "master/candidate-")
}

func (p *txnReplay) isEpoch(path string) bool { return path == p.r.Root+"/epoch" }

// partitionsTotal is coord.Partitions (proctest does not import coord).
const partitionsTotal = 16

func (p *txnReplay) isPartition(path string) bool {
	rel, ok := p.rel(path)
	return ok && strings.HasPrefix(rel, "partitions/")
}

func (p *txnReplay) apply(t Txn) {
	if t.Type == TxnCloseSession {
		p.closeSession(t)
		return
	}
	under := false
	for _, op := range t.Ops {
		if _, ok := p.rel(op.Path); ok {
			under = true
		}
	}
	if !under && !p.masterSess[t.Session] {
		return
	}
	p.r.Txns++
	if t.Failed() {
		p.refused(t)
		return
	}
	switch {
	case p.takeOver(t):
		p.checkTakeOver(t)
	case p.fenced(t):
		p.checkFenced(t)
	case p.fencedByParts(t):
		p.checkPartFenced(t)
	default:
		p.checkUnfenced(t)
	}
	for _, op := range t.Ops {
		p.track(t, op)
	}
}

// takeOver: check(own candidacy), setData(epoch), setData(each partition
// it takes; all of them for a single leader).
func (p *txnReplay) takeOver(t Txn) bool {
	if len(t.Ops) < 2 || t.Ops[0].Type != TxnCheck || !p.isCandidate(t.Ops[0].Path) ||
		t.Ops[1].Type != TxnSetData || !p.isEpoch(t.Ops[1].Path) {
		return false
	}
	for _, op := range t.Ops[2:] {
		if op.Type != TxnSetData || !p.isPartition(op.Path) {
			return false
		}
	}
	return true
}

// fencedByParts: check(own candidacy), check(each partition it leads),
// the write: the fence of one of several leaders.
func (p *txnReplay) fencedByParts(t Txn) bool {
	return len(t.Ops) >= 2 && t.Ops[0].Type == TxnCheck && p.isCandidate(t.Ops[0].Path) &&
		t.Ops[1].Type == TxnCheck && p.isPartition(t.Ops[1].Path)
}

// checkPartFenced judges an applied write of one of several leaders: each
// partition it checked must have been taken over last by its candidacy,
// and every task it assigns or rewrites must be of one of them.
func (p *txnReplay) checkPartFenced(t Txn) {
	p.r.LeaderWrites++
	cand := t.Ops[0].Path
	led := map[string]bool{}
	i := 1
	for ; i < len(t.Ops) && t.Ops[i].Type == TxnCheck && p.isPartition(t.Ops[i].Path); i++ {
		if h := p.holder[t.Ops[i].Path]; h != cand {
			p.problem(t, "a write of candidacy %s fenced on %s was applied while %q had taken that partition over", path.Base(cand), t.Ops[i].Path, path.Base(h))
		}
		led[path.Base(t.Ops[i].Path)] = true
	}
	for _, op := range t.Ops[i:] {
		rel, _ := p.rel(op.Path)
		parts := strings.Split(rel, "/")
		if len(parts) != 3 || len(parts[2]) != 20 || !(parts[0] == "assign" && isCreate(op.Type) || parts[0] == "tasks" && op.Type == TxnSetData) {
			continue
		}
		if shard := parts[2][18:]; !led[shard[:1]] {
			p.problem(t, "%s written by candidacy %s, which does not lead its partition %s", op.Path, path.Base(cand), shard[:1])
		}
	}
}

// fenced: check(own candidacy), check(epoch), the write.
func (p *txnReplay) fenced(t Txn) bool {
	return len(t.Ops) >= 2 && t.Ops[0].Type == TxnCheck && p.isCandidate(t.Ops[0].Path) &&
		t.Ops[1].Type == TxnCheck && p.isEpoch(t.Ops[1].Path)
}

// refused records a failed multi that failed at a fence check.
func (p *txnReplay) refused(t Txn) {
	at, code := t.FailedAt()
	w := RefusedWrite{Zxid: t.Zxid, At: t.Time, Session: t.Session}
	switch {
	case at == 1 && t.Ops[0].Type == TxnCheck && p.isCandidate(t.Ops[0].Path):
		// The check after the candidacy's: the epoch, or with several
		// leaders its first partition, was taken over by another. (A
		// failed multi logs no paths: a refusal at a later partition check
		// cannot be told from an item's.)
		w.Why, w.Candidate = "epoch moved", t.Ops[0].Path
	case at == 0 && code == ZKErrNoNode && len(t.Ops) >= 2 && p.masterSess[t.Session]:
		w.Why = "candidacy gone"
	default:
		return
	}
	p.r.Refused = append(p.r.Refused, w)
}

func (p *txnReplay) problem(t Txn, format string, args ...any) {
	p.r.Problems = append(p.r.Problems, fmt.Sprintf("zxid %s at %s (session 0x%x): %s", ZxidString(t.Zxid),
		t.Time.UTC().Format("15:04:05.000"), t.Session, fmt.Sprintf(format, args...)))
}

// leader is the lowest candidacy: the one the election makes leader.
func (p *txnReplay) leader() string {
	var best string
	for c := range p.candidates {
		if best == "" || seqOf(c) < seqOf(best) {
			best = c
		}
	}
	return best
}

// seqOf is the sequence number ZooKeeper appended to a candidacy.
func seqOf(candidate string) string {
	return candidate[strings.LastIndex(candidate, "-")+1:]
}

func (p *txnReplay) checkTakeOver(t Txn) {
	cand := t.Ops[0].Path
	for _, op := range t.Ops[2:] {
		p.holder[op.Path] = cand
	}
	// The front candidacy takes every partition; with several leaders,
	// the others take some (which ones is the setting's: not in the log).
	if l := p.leader(); l != cand && len(t.Ops)-2 == partitionsTotal {
		p.problem(t, "take-over checked against %s, but the leading candidacy then was %q", path.Base(cand), path.Base(l))
	}
	var e Epoch
	if err := json.Unmarshal(t.Ops[1].Data, &e); err != nil {
		p.problem(t, "take-over wrote an epoch record that does not parse: %v", err)
	}
	if e.Epoch != p.current.Epoch+1 {
		p.problem(t, "take-over went from epoch %d to %d", p.current.Epoch, e.Epoch)
	}
	if id := p.candidates[cand].id; id != e.Leader {
		p.problem(t, "take-over by %s's candidacy names %q as leader", id, e.Leader)
	}
	p.current = TakeOver{Zxid: t.Zxid, At: t.Time, Epoch: e.Epoch, Leader: e.Leader, Candidate: cand}
	p.r.TakeOvers = append(p.r.TakeOvers, p.current)
}

// checkFenced judges an applied leader write against the tree at its
// zxid: its candidacy must be the one that took the current epoch (and
// still lead), its epoch check the current version, and every assignment
// or task record it writes must carry the current epoch.
func (p *txnReplay) checkFenced(t Txn) {
	p.r.LeaderWrites++
	cand := t.Ops[0].Path
	if cand != p.current.Candidate {
		p.problem(t, "a write of candidacy %s was applied while epoch %d belonged to %s (a deposed leader's write)",
			path.Base(cand), p.current.Epoch, path.Base(p.current.Candidate))
	}
	if l := p.leader(); l != cand {
		p.problem(t, "a write of candidacy %s was applied while the leading candidacy was %q", path.Base(cand), path.Base(l))
	}
	if v := t.Ops[1].Version - 1; v != p.version {
		p.problem(t, "a write fenced on epoch version %d was applied at version %d", v, p.version)
	}
	for _, op := range t.Ops[2:] {
		if e, ok := p.epochWritten(op); ok && e != p.current.Epoch {
			p.problem(t, "%s written with epoch %d during epoch %d (a deposed leader's write)", op.Path, e, p.current.Epoch)
		}
	}
}

// epochWritten is the epoch an assignment, or a task record naming a
// worker (an assign's rewrite), carries.
func (p *txnReplay) epochWritten(op TxnOp) (int64, bool) {
	rel, _ := p.rel(op.Path)
	parts := strings.Split(rel, "/")
	var rec struct {
		Epoch  int64  `json:"epoch"`
		Worker string `json:"worker"`
	}
	switch {
	case len(parts) == 3 && parts[0] == "assign" && isCreate(op.Type):
	case len(parts) == 3 && parts[0] == "tasks" && op.Type == TxnSetData:
	default:
		return 0, false
	}
	if json.Unmarshal(op.Data, &rec) != nil || (parts[0] == "tasks" && rec.Worker == "") {
		return 0, false
	}
	return rec.Epoch, true
}

// checkUnfenced: nothing but a fenced multi may create an assignment,
// rewrite a task record or move the epoch.
func (p *txnReplay) checkUnfenced(t Txn) {
	for _, op := range t.Ops {
		rel, ok := p.rel(op.Path)
		if !ok {
			continue
		}
		parts := strings.Split(rel, "/")
		switch {
		case len(parts) == 3 && parts[0] == "assign" && isCreate(op.Type):
			p.problem(t, "assignment %s created without the leader's fence", op.Path)
		case len(parts) == 3 && parts[0] == "tasks" && op.Type == TxnSetData:
			p.problem(t, "task %s rewritten without the leader's fence", op.Path)
		case rel == "epoch" && op.Type == TxnSetData:
			p.problem(t, "epoch moved without a candidacy check")
		}
	}
}

func isCreate(typ int32) bool {
	return typ == TxnCreate || typ == TxnCreate2 || typ == TxnCreateContainer || typ == TxnCreateTTL
}

// track follows what the later checks need: candidacies, the epoch's
// version, task znodes created, assignments open.
func (p *txnReplay) track(t Txn, op TxnOp) {
	rel, ok := p.rel(op.Path)
	if !ok {
		return
	}
	parts := strings.Split(rel, "/")
	switch {
	case isCreate(op.Type) && p.isCandidate(op.Path):
		var m struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(op.Data, &m)
		p.candidates[op.Path] = candidacy{session: t.Session, id: m.ID}
	case op.Type == TxnDelete && p.isCandidate(op.Path):
		delete(p.candidates, op.Path)
	case rel == "epoch" && op.Type == TxnSetData:
		p.version = op.Version
	case len(parts) == 3 && parts[0] == "assign" && isCreate(op.Type):
		var a struct {
			Epoch int64 `json:"epoch"`
		}
		_ = json.Unmarshal(op.Data, &a)
		p.open[op.Path] = len(p.r.Assignments)
		p.r.Assignments = append(p.r.Assignments, AssignTxn{Zxid: t.Zxid, At: t.Time, Worker: parts[1], Task: parts[2], Epoch: a.Epoch})
	case len(parts) == 3 && parts[0] == "assign" && op.Type == TxnDelete:
		if i, ok := p.open[op.Path]; ok {
			p.r.Assignments[i].Deleted = t.Time
			delete(p.open, op.Path)
		}
	case len(parts) == 3 && isCreate(op.Type):
		if m := p.r.Creates[parts[0]]; m != nil {
			m[parts[2]]++
		}
		if _, seen := p.r.ResultAt[parts[2]]; parts[0] == PartResults && !seen {
			p.r.ResultAt[parts[2]] = t.Time
		}
	}
}

// closeSession deletes the session's ephemerals: the paths ZooKeeper
// logged, and (for servers that log none) every candidacy it owned.
func (p *txnReplay) closeSession(t Txn) {
	for _, c := range t.Closed {
		delete(p.candidates, c)
	}
	for c, o := range p.candidates {
		if o.session == t.Session {
			delete(p.candidates, c)
		}
	}
}

// EpochAt is the epoch current at instant at (0 before the first
// take-over).
func (r *RootTxns) EpochAt(at time.Time) int64 {
	var e int64
	for _, t := range r.TakeOvers {
		if t.At.After(at) {
			break
		}
		e = t.Epoch
	}
	return e
}

// RefusedBy counts the refused writes by reason.
func (r *RootTxns) RefusedBy() map[string]int {
	out := map[string]int{}
	for _, w := range r.Refused {
		out[w.Why]++
	}
	return out
}
