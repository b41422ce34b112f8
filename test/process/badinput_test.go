package process

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// A payload over the limit is refused before anything is written.
func TestBadInputPayloadTooLarge(t *testing.T) {
	e := newEnv(t)
	e.Init()
	conn := e.ZKConn()
	before := countTree(t, conn, e.Root)
	file := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(file, make([]byte, 600<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	o := e.RunClient(30*time.Second, "submit", "--kind", "echo", "--data-file", file)
	if o.Code == 0 {
		t.Fatalf("a 600 KiB payload was accepted: stdout %q", o.Stdout)
	}
	if !strings.Contains(o.Stderr, "524288") || !strings.Contains(o.Stderr, "nothing was submitted") {
		t.Errorf("exit %d; the message does not name the limit (524288 bytes) or say nothing was written: %q", o.Code, o.Stderr)
	}
	t.Logf("exit %d: %s", o.Code, strings.TrimSpace(o.Stderr))
	if after := countTree(t, conn, e.Root); after != before {
		t.Errorf("znodes under tasks/data: %v before, %v after the refused submit", before, after)
	}
}

func countTree(t *testing.T, conn *zk.Conn, root string) [2]int {
	t.Helper()
	var n [2]int
	for i, kind := range []string{"tasks", "data"} {
		c, err := pt.CountChildren(conn, root, kind)
		if err != nil {
			t.Fatal(err)
		}
		n[i] = c
	}
	return n
}

// A task of a kind no worker runs waits for one; with a routing timeout it
// is then dead-lettered (exit 3) with an error naming the kind.
func TestBadInputUnknownKind(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	e.ReadyWorker(m, "w1", 2)
	o := e.RunClient(30*time.Second, "submit", "--kind", "nosuch", "--data", "x", "--routing-timeout", "1s", "--wait")
	if o.Code != 3 {
		t.Errorf("exit %d, want 3", o.Code)
	}
	if !strings.Contains(o.Stdout+o.Stderr, `"nosuch"`) {
		t.Errorf("the error does not name the kind: stdout %q stderr %q", o.Stdout, o.Stderr)
	}
	t.Logf("exit %d: %s", o.Code, strings.TrimSpace(o.Stdout))
	e.History().Check(t)
}

// newID is a task id as docs/PROTOCOL.md defines it: 11 hex digits of the
// time in ms, then 9 random hex digits.
func newID(t *testing.T) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%011x%s", time.Now().UnixMilli(), hex.EncodeToString(b[:])[:9])
}

// Garbage written straight into a task znode is dead-lettered as malformed,
// and the master keeps assigning the other tasks.
func TestBadInputMalformedTask(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	e.ReadyWorker(m, "w1", 2)
	conn := e.ZKConn()
	id := newID(t)
	_, err := conn.Multi(
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "data", id), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "tasks", id), Data: []byte("not json"), Acl: zk.WorldACL(zk.PermAll)},
	)
	if err != nil {
		t.Fatalf("create the malformed task: %v", err)
	}
	ids := e.SubmitN(3, "echo", "after garbage")
	m.WaitLog(10*time.Second, pt.All(pt.Msg(pt.MsgDeadLettered), pt.Field("task", id)))
	results := e.WaitResults(30*time.Second, ids)
	h := e.History()
	h.Check(t)
	pt.Require(t, "results of the good tasks", h.Results(ids, results))

	tr := e.Tree()
	d, ok := tr.Dead[id]
	switch {
	case !ok:
		t.Errorf("no dead letter for %s", id)
	case d.Reason != "malformed" || d.Spec != "not json":
		t.Errorf("dead letter %+v, want reason malformed and the spec verbatim", d)
	}
	// docs/PROTOCOL.md: the detail is the decoder's error, which starts
	// with "malformed: ", and the dead result's error is "<reason>: <detail>".
	if !strings.HasPrefix(d.Detail, "malformed: ") {
		t.Errorf("dead letter detail %q, want the decoder's error", d.Detail)
	}
	if r, ok := tr.Results[id]; !ok || r.Status != "dead" || r.Error != "malformed: "+d.Detail {
		t.Errorf("result of the malformed task: %q, want the error %q", tr.RawResults[id], "malformed: "+d.Detail)
	}
	if _, ok := tr.Tasks[id]; ok {
		t.Errorf("the malformed task is still under tasks/")
	}
	o := e.RunClient(10*time.Second, "result", id)
	if o.Code != 3 || !strings.Contains(o.Stdout, "malformed") {
		t.Errorf("client result %s: exit %d, stdout %q; want exit 3 naming malformed", id, o.Code, o.Stdout)
	}
}

// A client pointed at an address where no ZooKeeper listens gives up after
// --connect-timeout, exits 1 and says why.
func TestBadInputUnreachable(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := e.Start("client-status", "client", "", e.Bins.Client,
		[]string{"status", "--zk", addr, "--connect-timeout", "2s"})
	code := p.Wait(30 * time.Second)
	took := p.ExitedAt().Sub(p.Started)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(p.Stderr(), "cannot reach ZooKeeper") || !strings.Contains(p.Stderr(), addr) {
		t.Errorf("unclear message: %q", p.Stderr())
	}
	atMost(t, "client status against an unreachable ZooKeeper (--connect-timeout 2s)", took, 3*time.Second)
	if took < 2*time.Second {
		t.Errorf("gave up after %v, before --connect-timeout 2s", took)
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(p.Stderr()))
}

// An unknown flag is a usage error: exit 2.
func TestBadInputBogusFlag(t *testing.T) {
	e := newEnv(t)
	for _, bin := range []string{e.Bins.Master, e.Bins.Worker, e.Bins.Client, e.Bins.Election} {
		p := e.Start(filepath.Base(bin)+"-bogus", filepath.Base(bin), "", bin, []string{"--bogus-flag"})
		if code := p.Wait(10 * time.Second); code != 2 {
			t.Errorf("%s --bogus-flag: exit %d, want 2; stderr %q", filepath.Base(bin), code, p.Stderr())
		}
		if !strings.Contains(p.Stderr(), "bogus-flag") {
			t.Errorf("%s --bogus-flag: the message does not name the flag: %q", filepath.Base(bin), p.Stderr())
		}
	}
}
