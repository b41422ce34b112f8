package proctest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ZooKeeper's transaction log is what the servers actually committed: every
// write, with its zxid, its session and the server's clock, and every multi
// that failed (logged with an error in place of the op that failed). Reading
// it gives a history that does not rely on Paddock's own logs. The format
// (org.apache.zookeeper.server.persistence.FileTxnLog, records in Jute
// binary encoding: big-endian integers, length-prefixed strings, buffers and
// vectors) is stable since ZooKeeper 3.0; this reads the parts the checks
// need and skips the rest.

// Transaction types (ZooDefs.OpCode) as they appear in the log.
const (
	TxnCreate          int32 = 1
	TxnDelete          int32 = 2
	TxnSetData         int32 = 5
	TxnSetACL          int32 = 7
	TxnCheck           int32 = 13
	TxnMulti           int32 = 14
	TxnCreate2         int32 = 15
	TxnCreateContainer int32 = 19
	TxnDeleteContainer int32 = 20
	TxnCreateTTL       int32 = 21
	TxnError           int32 = -1
	TxnCreateSession   int32 = -10
	TxnCloseSession    int32 = -11
)

// ZooKeeper error codes that the checks name.
const (
	ZKErrNoNode     int32 = -101
	ZKErrBadVersion int32 = -103
	ZKErrNodeExists int32 = -110
	// ZKErrRuntimeInconsistency marks the ops of a failed multi after the
	// one that failed (they were not attempted).
	ZKErrRuntimeInconsistency int32 = -2
)

// Txn is one committed transaction.
type Txn struct {
	Zxid    int64
	Session int64     // the client session that issued it
	Time    time.Time // the ZooKeeper leader's clock when it created the txn
	Type    int32
	// Ops are a multi's sub-transactions, or the one operation of a plain
	// create, delete or setData; none for session transactions.
	Ops []TxnOp
	// Closed are the paths a closeSession deleted (the session's
	// ephemerals), when the server logged them (ZooKeeper 3.6 and later).
	Closed []string
}

// TxnOp is one operation of a transaction.
type TxnOp struct {
	Type      int32
	Path      string // empty for an error
	Data      []byte // create and setData, unless the reader dropped it
	Version   int32  // setData: the version after it; check: the version checked + 1 (as ZooKeeper logs it)
	Ephemeral bool   // create
	Err       int32  // TxnError: the ZooKeeper error code
}

// Failed reports whether t is a multi that ZooKeeper refused as a whole:
// one of its ops failed, so none was applied.
func (t Txn) Failed() bool {
	for _, op := range t.Ops {
		if op.Type == TxnError {
			return true
		}
	}
	return t.Type == TxnError
}

// FailedAt is the index of the op a failed multi failed at, and its error
// code; -1 when t did not fail.
func (t Txn) FailedAt() (int, int32) {
	for i, op := range t.Ops {
		if op.Type == TxnError && op.Err != ZKErrRuntimeInconsistency && op.Err != zkOK {
			return i, op.Err
		}
	}
	return -1, 0
}

// ZxidString formats a zxid as ZooKeeper does (0x<epoch><counter>).
func ZxidString(z int64) string { return fmt.Sprintf("0x%x", z) }

// TxnHistory is the union of the transaction logs of every server of an
// ensemble, in zxid order. Every committed transaction was logged by a
// quorum, so with never more than a minority down at once, the union holds
// every one even though each server's own log may miss some (a server that
// rejoins catches up from a snapshot).
type TxnHistory struct {
	Txns []Txn
	// Conflicts are zxids that two logs hold with different contents: two
	// servers disagree on history (a ZooKeeper bug, or a log read torn).
	Conflicts []string
	// Files is how many log files were read.
	Files int
}

// KeepData decides whether the reader keeps the data of a create or
// setData on path (results and payloads are large and rarely needed).
type KeepData func(path string) bool

// ReadTxnLogs reads the transaction logs (dataDir/version-2/log.*) of each
// of dataDirs and merges them by zxid. keep (nil: keep all) says which ops'
// data to keep.
func ReadTxnLogs(keep KeepData, dataDirs ...string) (*TxnHistory, error) {
	byZxid := map[int64]Txn{}
	h := &TxnHistory{}
	for _, dir := range dataDirs {
		files, err := filepath.Glob(filepath.Join(dir, "version-2", "log.*"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			txns, err := readTxnFile(f, keep)
			if err != nil {
				return nil, fmt.Errorf("proctest: %s: %w", f, err)
			}
			h.Files++
			for _, t := range txns {
				if prev, ok := byZxid[t.Zxid]; ok {
					if !sameTxn(prev, t) {
						h.Conflicts = append(h.Conflicts, fmt.Sprintf("zxid %s: %s holds %s, another log %s", ZxidString(t.Zxid), f, describeTxn(t), describeTxn(prev)))
					}
					continue
				}
				byZxid[t.Zxid] = t
			}
		}
	}
	for _, t := range byZxid {
		h.Txns = append(h.Txns, t)
	}
	sort.Slice(h.Txns, func(i, j int) bool { return h.Txns[i].Zxid < h.Txns[j].Zxid })
	return h, nil
}

// Gaps lists the holes in the history: within one ZooKeeper epoch (the
// zxid's high 32 bits) committed zxids are consecutive, so a missing
// counter is a committed transaction that no log read holds.
func (h *TxnHistory) Gaps() []string {
	var out []string
	for i := 1; i < len(h.Txns); i++ {
		a, b := h.Txns[i-1].Zxid, h.Txns[i].Zxid
		if a>>32 == b>>32 && b != a+1 {
			out = append(out, fmt.Sprintf("zxids %s to %s missing", ZxidString(a+1), ZxidString(b-1)))
		}
	}
	return out
}

func sameTxn(a, b Txn) bool {
	if a.Session != b.Session || a.Type != b.Type || len(a.Ops) != len(b.Ops) {
		return false
	}
	for i := range a.Ops {
		x, y := a.Ops[i], b.Ops[i]
		if passedInFailed(x) && y.Type != TxnError || passedInFailed(y) && x.Type != TxnError {
			continue // the same op that passed, logged as an error by one server (see decodeOp)
		}
		if x.Type != y.Type || x.Path != y.Path || x.Err != y.Err || x.Version != y.Version {
			return false
		}
	}
	return true
}

// passedInFailed is an op of a failed multi that passed, as a server logs
// it when it logs it as an error (see decodeOp).
func passedInFailed(op TxnOp) bool { return op.Type == TxnError && op.Err == zkOK }

func describeTxn(t Txn) string {
	var ops []string
	for _, op := range t.Ops {
		switch op.Type {
		case TxnError:
			ops = append(ops, fmt.Sprintf("error(%d)", op.Err))
		default:
			ops = append(ops, fmt.Sprintf("%s %s", txnTypeName(op.Type), op.Path))
		}
	}
	return fmt.Sprintf("[%s session 0x%x %s: %s]", txnTypeName(t.Type), t.Session, t.Time.UTC().Format("15:04:05.000"), strings.Join(ops, ", "))
}

func txnTypeName(t int32) string {
	switch t {
	case TxnCreate, TxnCreate2, TxnCreateContainer, TxnCreateTTL:
		return "create"
	case TxnDelete, TxnDeleteContainer:
		return "delete"
	case TxnSetData:
		return "setData"
	case TxnCheck:
		return "check"
	case TxnMulti:
		return "multi"
	case TxnError:
		return "error"
	case TxnCreateSession:
		return "createSession"
	case TxnCloseSession:
		return "closeSession"
	}
	return fmt.Sprintf("type%d", t)
}

// txnLogMagic is "ZKLG", the header of every log file.
const txnLogMagic = 0x5a4b4c47

// readTxnFile reads one log file up to its end: the first entry of length
// zero (the file is preallocated with zeros), or one whose checksum does
// not match (a write torn by a kill -9: never acknowledged, so never
// committed on this server's behalf).
func readTxnFile(name string, keep KeepData) ([]Txn, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil // created, nothing written yet
		}
		return nil, err
	}
	if m := binary.BigEndian.Uint32(hdr[:4]); m != txnLogMagic {
		return nil, fmt.Errorf("not a ZooKeeper transaction log (magic %#x)", m)
	}
	var out []Txn
	for {
		var pre [12]byte
		if _, err := io.ReadFull(r, pre[:]); err != nil {
			return out, nil
		}
		crc := binary.BigEndian.Uint64(pre[:8])
		n := int32(binary.BigEndian.Uint32(pre[8:]))
		if n <= 0 || crc == 0 {
			return out, nil
		}
		buf := make([]byte, n+1) // the entry and its end-of-record byte
		if _, err := io.ReadFull(r, buf); err != nil {
			return out, nil
		}
		if uint64(adler32.Checksum(buf[:n])) != crc || buf[n] != 'B' {
			return out, nil
		}
		t, err := decodeTxn(buf[:n], keep)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", len(out), err)
		}
		out = append(out, t)
	}
}

// jute decodes ZooKeeper's binary records. Errors stick: after the first,
// every read returns zero values and err says what went wrong.
type jute struct {
	b   []byte
	err error
}

func (j *jute) take(n int) []byte {
	if j.err != nil {
		return nil
	}
	if n < 0 || n > len(j.b) {
		j.err = fmt.Errorf("record truncated: want %d bytes, %d left", n, len(j.b))
		return nil
	}
	v := j.b[:n]
	j.b = j.b[n:]
	return v
}

func (j *jute) int() int32 {
	if b := j.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (j *jute) long() int64 {
	if b := j.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (j *jute) bool() bool {
	if b := j.take(1); b != nil {
		return b[0] != 0
	}
	return false
}

func (j *jute) buffer() []byte {
	n := j.int()
	if n < 0 {
		return nil
	}
	return j.take(int(n))
}

func (j *jute) string() string { return string(j.buffer()) }

// acls skips a vector of ACLs (perms, scheme, id).
func (j *jute) acls() {
	n := j.int()
	for i := int32(0); i < n && j.err == nil; i++ {
		j.int()
		j.string()
		j.string()
	}
}

func decodeTxn(b []byte, keep KeepData) (Txn, error) {
	j := &jute{b: b}
	t := Txn{Session: j.long()}
	j.int() // cxid
	t.Zxid = j.long()
	t.Time = time.UnixMilli(j.long())
	t.Type = j.int()
	switch t.Type {
	case TxnMulti:
		n := j.int()
		for i := int32(0); i < n && j.err == nil; i++ {
			typ := j.int()
			sub := j.buffer()
			op, err := decodeOp(typ, sub, keep)
			if err != nil {
				return t, fmt.Errorf("zxid %s op %d: %w", ZxidString(t.Zxid), i, err)
			}
			t.Ops = append(t.Ops, op)
		}
	case TxnCloseSession:
		// ZooKeeper 3.6+ logs the ephemerals the close deletes; older
		// servers log no body.
		if len(j.b) >= 4 {
			n := j.int()
			for i := int32(0); i < n && j.err == nil; i++ {
				t.Closed = append(t.Closed, j.string())
			}
		}
	case TxnCreateSession:
	default:
		op, err := decodeOp(t.Type, j.b, keep)
		if err != nil {
			return t, fmt.Errorf("zxid %s: %w", ZxidString(t.Zxid), err)
		}
		t.Ops = []TxnOp{op}
	}
	return t, j.err
}

// decodeOp decodes one operation's record (a plain transaction's body, or a
// multi's sub-transaction). Types the checks do not need keep only their
// type.
func decodeOp(typ int32, b []byte, keep KeepData) (TxnOp, error) {
	j := &jute{b: b}
	op := TxnOp{Type: typ}
	data := func() {
		d := j.buffer()
		if keep == nil || keep(op.Path) {
			op.Data = append([]byte(nil), d...)
		}
	}
	switch typ {
	case TxnCreate, TxnCreate2:
		op.Path = j.string()
		data()
		j.acls()
		op.Ephemeral = j.bool()
	case TxnCreateContainer, TxnCreateTTL:
		op.Path = j.string()
		data()
	case TxnDelete, TxnDeleteContainer:
		op.Path = j.string()
	case TxnSetData:
		op.Path = j.string()
		data()
		op.Version = j.int()
	case TxnCheck:
		op.Path = j.string()
		op.Version = j.int()
	case TxnSetACL:
		op.Path = j.string()
	case TxnError:
		if len(b) != 4 {
			// Not an ErrorTxn's one int but another op's record: the
			// servers of one ensemble have been seen to log an op that
			// passed, ahead of the one that failed a multi, either with its
			// own type or as an error keeping its own payload (ZooKeeper
			// 3.8, the same zxid). Its code is not in the record: it
			// passed.
			op.Err = zkOK
			break
		}
		op.Err = j.int()
	}
	return op, j.err
}

// zkOK is ZooKeeper's code for no error.
const zkOK int32 = 0
