package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// replyDropper is a TCP proxy that can swallow what the server sends while
// still forwarding what the client sends: requests are applied, their
// replies are lost (a connection that fails after the request went out).
type replyDropper struct {
	ln     net.Listener
	target string
	drop   atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newReplyDropper(t *testing.T, target string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *replyDropper) Addr() string { return p.ln.Addr().String() }

func (p *replyDropper) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); s.Close(); c.Close() }()
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && !p.drop.Load() {
					if _, werr := c.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.Close()
			s.Close()
		}()
	}
}

// Drop starts or stops swallowing the server's replies.
func (p *replyDropper) Drop(on bool) { p.drop.Store(on) }

// Reset closes every open connection (the client reconnects).
func (p *replyDropper) Reset() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *replyDropper) close() {
	p.ln.Close()
	p.Reset()
	p.wg.Wait()
}

// A worker's completion is applied but its reply is lost, and the client
// collects the result before the worker's retry. The worker's retry finds
// its assignment gone; it must not report its own applied completion as
// "dropped: reassigned, cancelled or finished elsewhere".
//
// (Seen first in TestEnsemble/faults, where the servers stopping under a
// completion did the same. Results stay exactly-once either way; what is
// wrong is the worker's account: its log says the work was thrown away,
// and it never logs "task finished" for a task it did finish.)
func TestWorkerCompletionReplyLost(t *testing.T) {
	r := newRecorder(t, "A worker's completion is applied but its reply is lost",
		"One master, one worker reaching ZooKeeper through a proxy that can swallow the server's replies, a client waiting to collect "+
			"the result (`client result ID --wait --collect`). While the task runs the proxy starts swallowing replies: the worker's "+
			"completion multi is applied, its reply lost. Once the client has collected the result, the worker's connection is reset; it "+
			"reconnects (same session) and retries its completion. Expected: the worker recognises its own completion and logs "+
			"\"task finished\" (or at least does not claim the task was reassigned, cancelled or finished elsewhere).")
	zk := standalone(t)
	e := newEnv(t, zk.Addr())
	e.SessionTimeout = 4 * time.Second // the session must survive the reset
	r.Setup(standaloneSetup(e, 1, "1 (concurrency 1), through a reply-swallowing proxy", "client submit, client result --wait --collect", "sleep 0.5 s"))
	m := e.Leader("m1")
	px := newReplyDropper(t, zk.Addr())
	w := e.ReadyWorker(m, "w1", 1, "--zk", px.Addr())
	id := e.Submit("sleep", "0.5")
	c := e.Client("result", id, "--wait", "--collect", "--json")
	st := w.WaitLog(pt.StartTimeout, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
	r.Line("the worker started the task", st)
	px.Drop(true)
	r.Event(time.Now(), "the proxy swallows the server's replies to the worker")
	if code := c.Wait(10 * time.Second); code != 0 || !strings.Contains(c.Stdout(), `"worker":"w1"`) {
		t.Fatalf("client result --wait --collect: exit %d, stdout %q, stderr %q", code, c.Stdout(), c.Stderr())
	}
	r.Event(c.ExitedAt(), "the client read the result (from w1: its completion was applied) and collected it")
	px.Drop(false)
	px.Reset()
	reset := time.Now()
	r.Event(reset, "the worker's connection is reset; it reconnects with the same session")
	l := w.WaitLog(15*time.Second, pt.All(pt.AnyOf(pt.Msg(pt.MsgFinished), pt.Msg(pt.MsgDropped), pt.Msg(pt.MsgCompletionFailed),
		pt.Msg(pt.MsgOutcomeUnknown)), pt.Field("task", id)))
	r.Event(l.TS, "the worker logged %q (%s)", l.Msg, l.Str("error"))
	if _, err := w.FindLog(0, pt.All(pt.Msg(pt.MsgSessionExpired), pt.After(st.TS))); err == nil {
		t.Fatalf("the worker's session expired: the scenario needs it to survive")
	}
	// The worker cannot tell its own applied completion, collected at once,
	// from a cancel collected as fast: "outcome unknown" is the honest
	// report; "dropped" (revoked, finished elsewhere) would be wrong.
	if l.Msg != pt.MsgFinished && l.Msg != pt.MsgOutcomeUnknown {
		r.Fact("bug", fmt.Sprintf("the worker's completion was applied (the client collected its result), but the worker logged %q (%s)", l.Msg, l.Str("error")))
		t.Errorf("the worker's completion of %s was applied (the client read its result, worker w1, and collected it), "+
			"but after its lost reply the worker logged %q (error %q) instead of %q or %q:\n  %s",
			id, l.Msg, l.Str("error"), pt.MsgFinished, pt.MsgOutcomeUnknown, l.Raw)
	}
	// Nothing else may happen to the task: no rerun, one result.
	time.Sleep(500 * time.Millisecond) // let a wrong rerun show (not a synchronisation)
	if n := len(pt.Filter(w.Logs(), pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))); n != 1 {
		t.Errorf("the task was started %d times, want 1", n)
	}
	// The results themselves are right: one, from w1, collected.
	var res pt.Result
	if err := json.Unmarshal([]byte(c.Stdout()), &res); err != nil {
		t.Fatalf("client result --json: %v: %q", err, c.Stdout())
	}
	ck := e.Checker()
	ck.Submitted, ck.Results, ck.Tree, ck.Collected = []string{id}, map[string]pt.Result{id: res}, e.Tree(), true
	ck.FaultsEnded, ck.Bound = reset, 5*time.Second
	r.Check(ck)
}
