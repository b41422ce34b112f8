package proctest

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// TestReadTxnLogs writes through a real server and reads its log back:
// plain writes, an applied multi, multis that failed (logged with errors in
// place of their ops), an ephemeral and the close that deleted it.
func TestReadTxnLogs(t *testing.T) {
	srv := zktest.Start(t)
	c := ConnectZK(t, srv.Addr())
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/a", []byte("x"), 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(&zk.CheckVersionRequest{Path: "/a", Version: 0}, &zk.SetDataRequest{Path: "/a", Data: []byte("y"), Version: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(&zk.CheckVersionRequest{Path: "/a", Version: 1}, &zk.CheckVersionRequest{Path: "/a", Version: 7}, &zk.CreateRequest{Path: "/b", Acl: acl}); err == nil {
		t.Fatal("a multi with a stale version was applied")
	}
	if _, err := c.Multi(&zk.CheckVersionRequest{Path: "/nope", Version: -1}, &zk.CreateRequest{Path: "/b", Acl: acl}); err == nil {
		t.Fatal("a multi checking a missing node was applied")
	}
	c2 := ConnectZK(t, srv.Addr())
	if _, err := c2.Create("/e", []byte("eph"), zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	zktest.Eventually(t, 10*time.Second, "the ephemeral gone", func() bool { ok, _, _ := c.Exists("/e"); return !ok })

	h, err := ReadTxnLogs(func(p string) bool { return p != "/e" }, filepath.Join(srv.Dir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	var got []Txn
	for _, tx := range h.Txns {
		if tx.Type != TxnCreateSession {
			tx.Session, tx.Zxid, tx.Time = 0, 0, time.Time{}
			got = append(got, tx)
		}
	}
	want := []Txn{
		{Type: TxnCreate, Ops: []TxnOp{{Type: TxnCreate, Path: "/a", Data: []byte("x")}}},
		{Type: TxnMulti, Ops: []TxnOp{{Type: TxnCheck, Path: "/a", Version: 1}, {Type: TxnSetData, Path: "/a", Data: []byte("y"), Version: 1}}},
		{Type: TxnMulti, Ops: []TxnOp{{Type: TxnCheck, Path: "/a", Version: 2}, {Type: TxnError, Err: ZKErrBadVersion}, {Type: TxnError, Err: ZKErrRuntimeInconsistency}}},
		{Type: TxnMulti, Ops: []TxnOp{{Type: TxnError, Err: ZKErrNoNode}, {Type: TxnError, Err: ZKErrRuntimeInconsistency}}},
		{Type: TxnCreate, Ops: []TxnOp{{Type: TxnCreate, Path: "/e", Ephemeral: true}}},
		{Type: TxnCloseSession, Closed: []string{"/e"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read\n%+v\nwant\n%+v", got, want)
	}
	if !h.Txns[1].Time.After(time.Now().Add(-time.Minute)) || h.Files != 1 || len(h.Gaps()) != 0 || len(h.Conflicts) != 0 {
		t.Errorf("time %v, %d files, gaps %v, conflicts %v", h.Txns[1].Time, h.Files, h.Gaps(), h.Conflicts)
	}
	if at, code := got[2].FailedAt(); !got[2].Failed() || at != 1 || code != ZKErrBadVersion || got[1].Failed() {
		t.Errorf("FailedAt = %d %d", at, code)
	}
}

func TestTxnGaps(t *testing.T) {
	h := &TxnHistory{Txns: []Txn{{Zxid: 0x100000001}, {Zxid: 0x100000002}, {Zxid: 0x100000005}, {Zxid: 0x200000001}}}
	if g := h.Gaps(); len(g) != 1 || g[0] != "zxids 0x100000003 to 0x100000004 missing" {
		t.Errorf("gaps %v", g)
	}
}

// txnB builds a history of transactions under root /r, one zxid apart.
type txnB struct {
	h   TxnHistory
	sec float64
}

func (b *txnB) add(session int64, typ int32, ops ...TxnOp) {
	b.sec++
	b.h.Txns = append(b.h.Txns, Txn{Zxid: int64(len(b.h.Txns) + 1), Session: session, Time: at(b.sec), Type: typ, Ops: ops})
}

func (b *txnB) multi(session int64, ops ...TxnOp) { b.add(session, TxnMulti, ops...) }

func create(p, data string) TxnOp { return TxnOp{Type: TxnCreate, Path: p, Data: []byte(data)} }
func del(p string) TxnOp          { return TxnOp{Type: TxnDelete, Path: p} }
func set(p, data string, v int32) TxnOp {
	return TxnOp{Type: TxnSetData, Path: p, Data: []byte(data), Version: v}
}
func check(p string, v int32) TxnOp { return TxnOp{Type: TxnCheck, Path: p, Version: v} }
func fail(code int32) TxnOp         { return TxnOp{Type: TxnError, Err: code} }

// TestAnalyzeTxns replays a history with two take-overs, leader writes,
// writes the fence refused, and writes it should have refused.
func TestAnalyzeTxns(t *testing.T) {
	const (
		m1, m2, m1again, client, worker = 1, 2, 3, 9, 4
		candA, candB, candC             = "/r/master/candidate-a-0000000000", "/r/master/candidate-b-0000000001", "/r/master/candidate-c-0000000002"
		id1, id2                        = "0000000000000000aa00", "0000000000000000bb00"
	)
	b := &txnB{}
	b.add(client, TxnCreate, create("/r/epoch", `{"epoch":0}`))
	b.add(m1, TxnCreate, create(candA, `{"id":"m1"}`))
	b.multi(m1, check(candA, 1), set("/r/epoch", `{"epoch":1,"leader":"m1"}`, 1))
	b.multi(client, create("/r/data/00/"+id1, "p"), create("/r/tasks/00/"+id1, `{"kind":"echo"}`))
	b.multi(m1, check(candA, 1), check("/r/epoch", 2), set("/r/tasks/00/"+id1, `{"worker":"w1","epoch":1}`, 1), create("/r/assign/w1/"+id1, `{"epoch":1}`))
	b.add(m2, TxnCreate, create(candB, `{"id":"m2"}`))
	b.add(m1, TxnCloseSession) // m1's session expires (no paths logged: an old server)
	b.h.Txns[len(b.h.Txns)-1].Ops = nil
	b.multi(m2, check(candB, 1), set("/r/epoch", `{"epoch":2,"leader":"m2"}`, 2))
	b.multi(m1again, fail(ZKErrNoNode), fail(ZKErrRuntimeInconsistency), fail(ZKErrRuntimeInconsistency)) // m1 wakes on a new session
	b.add(m1again, TxnCreate, create(candC, `{"id":"m1"}`))
	b.multi(m1again, check(candC, 1), fail(ZKErrBadVersion), fail(ZKErrRuntimeInconsistency))
	b.multi(worker, fail(ZKErrNoNode), fail(ZKErrRuntimeInconsistency)) // a worker's dropped completion: not a leader's
	// Writes the fence should have refused.
	b.multi(m1again, check(candC, 1), check("/r/epoch", 3), create("/r/assign/w2/"+id2, `{"epoch":1}`))
	b.multi(m2, check(candB, 1), check("/r/epoch", 3), create("/r/assign/w2/"+id2, `{"epoch":1}`))
	b.add(client, TxnCreate, create("/r/assign/w3/"+id2, `{"epoch":2}`))
	// The worker completes id1; a second result of id1 after it was collected.
	b.multi(worker, del("/r/assign/w1/"+id1), del("/r/tasks/00/"+id1), create("/r/results/00/"+id1, `{}`))
	b.multi(client, del("/r/results/00/"+id1), del("/r/data/00/"+id1))
	b.add(worker, TxnCreate, create("/r/results/00/"+id1, `{}`))
	b.add(client, TxnCreate, create("/other/assign/w1/"+id1, `{}`)) // another root: ignored

	r := AnalyzeTxns(&b.h, "/r")
	if len(r.TakeOvers) != 2 || r.TakeOvers[1].Epoch != 2 || r.TakeOvers[1].Leader != "m2" || r.TakeOvers[1].Candidate != candB {
		t.Errorf("take-overs %+v", r.TakeOvers)
	}
	if r.LeaderWrites != 3 || r.Txns != 16 {
		t.Errorf("%d leader writes, %d txns", r.LeaderWrites, r.Txns)
	}
	if by := r.RefusedBy(); len(r.Refused) != 2 || by["candidacy gone"] != 1 || by["epoch moved"] != 1 || r.Refused[1].Candidate != candC {
		t.Errorf("refused %+v", r.Refused)
	}
	if len(r.Problems) != 5 {
		t.Errorf("%d problems, want 5 (a deposed candidacy's write: not the epoch's, not leading, its stale epoch; "+
			"the leader's write of a stale epoch; an unfenced assignment):\n%v", len(r.Problems), r.Problems)
	}
	if r.Creates[PartTasks][id1] != 1 || r.Creates[PartData][id1] != 1 || r.Creates[PartResults][id1] != 2 || !r.ResultAt[id1].Equal(at(16)) {
		t.Errorf("creates %v, result at %v", r.Creates, r.ResultAt)
	}
	if a := r.Assignments; len(a) != 4 || a[0].Worker != "w1" || a[0].Epoch != 1 || !a[0].Deleted.Equal(at(16)) || !a[1].Deleted.IsZero() {
		t.Errorf("assignments %+v", a)
	}
	if r.EpochAt(at(5)) != 1 || r.EpochAt(at(8)) != 2 || r.EpochAt(at(0)) != 0 {
		t.Error("EpochAt")
	}
	if len(r.Incomplete) != 0 {
		t.Errorf("incomplete: %v", r.Incomplete)
	}
}

// Two servers of one ensemble logged the same failed multi, one with the
// ops that passed as themselves, the other as errors keeping their records
// (ZooKeeper 3.8, seen in the soak): the same transaction, failed at the
// same op.
func TestFailedMultiLoggedTwoWays(t *testing.T) {
	checkRec := []byte{0, 0, 0, 3, '/', 'a', 'b', 0, 0, 0, 1} // path "/ab", version 1
	passed, err := decodeOp(TxnError, checkRec, nil)
	if err != nil || passed.Err != zkOK {
		t.Fatalf("an op logged as an error with its own record: %+v %v", passed, err)
	}
	a := Txn{Session: 7, Type: TxnMulti, Ops: []TxnOp{check("/ab", 1), check("/cd", 2), fail(ZKErrNoNode)}}
	b := Txn{Session: 7, Type: TxnMulti, Ops: []TxnOp{passed, passed, fail(ZKErrNoNode)}}
	if !sameTxn(a, b) || !sameTxn(b, a) {
		t.Error("the two records of one failed multi differ")
	}
	if at, code := b.FailedAt(); at != 2 || code != ZKErrNoNode {
		t.Errorf("FailedAt = %d, %d", at, code)
	}
	c := Txn{Session: 7, Type: TxnMulti, Ops: []TxnOp{check("/ab", 1), check("/cd", 2), fail(ZKErrBadVersion)}}
	if sameTxn(a, c) {
		t.Error("multis failed with other errors are the same")
	}
}
