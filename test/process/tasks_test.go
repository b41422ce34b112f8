package process

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	pt "github.com/paddock-zk/paddock/internal/proctest"
)

// listed is one line of `client ls -o json` (JSON Lines).
type listed struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Kind      string `json:"kind"`
	Attempts  int    `json:"attempts"`
	Worker    string `json:"worker"`
	Reason    string `json:"reason"`
	Malformed string `json:"malformed"`
}

func ls(t *testing.T, e *pt.Env, args ...string) []listed {
	t.Helper()
	o := e.RunClient(30*time.Second, append([]string{"ls", "-o", "json"}, args...)...)
	if o.Code != 0 {
		t.Fatalf("client ls %v: exit %d, stderr %q", args, o.Code, o.Stderr)
	}
	var out []listed
	for _, line := range strings.Split(strings.TrimSpace(o.Stdout), "\n") {
		if line == "" {
			continue
		}
		var r listed
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("client ls %v: line %q: %v", args, line, err)
		}
		out = append(out, r)
	}
	return out
}

// A task that keeps killing its worker is dead-lettered; an operator finds
// it with `ls --state dead`, inspects it, reads and collects its dead result
// (the payload stays with the dead letter), requeues it, and it finishes.
func TestTasksFindInspectRequeue(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	w1 := e.ReadyWorker(m, "w1", 1)
	id := e.Submit("sleep", "4", "--max-attempts", "1")
	w1.WaitLog(pt.StartTimeout, pt.All(pt.Msg(pt.MsgStarted), pt.Field("task", id)))
	w1.Kill() // its only attempt dies with it
	m.WaitLog(30*time.Second, pt.All(pt.Msg(pt.MsgDeadLettered), pt.Field("task", id)))

	dead := ls(t, e, "--state", "dead")
	if len(dead) != 1 || dead[0].ID != id || dead[0].Reason != "max-attempts" || dead[0].Kind != "sleep" || dead[0].Worker != "w1" {
		t.Fatalf("ls --state dead: %+v, want %s (max-attempts, sleep, last worker w1)", dead, id)
	}
	o := e.RunClient(30*time.Second, "ls", "--state", "dead")
	if o.Code != 0 || !strings.Contains(o.Stdout, "REASON") || !strings.Contains(o.Stdout, id) || !strings.Contains(o.Stderr, "1 of 1 dead tasks") {
		t.Errorf("ls --state dead (table): exit %d\n%s%s", o.Code, o.Stdout, o.Stderr)
	}
	t.Logf("client ls --state dead:\n%s%s", o.Stdout, o.Stderr)

	o = e.RunClient(30*time.Second, "inspect", id)
	for _, want := range []string{"state:", "dead", "sleep", "1 of 1", "w1", "max-attempts", "1 bytes: 4"} {
		if !strings.Contains(o.Stdout, want) {
			t.Errorf("inspect lacks %q: exit %d\n%s%s", want, o.Code, o.Stdout, o.Stderr)
		}
	}
	t.Logf("client inspect:\n%s", o.Stdout)

	// Reading and collecting the dead result leaves the payload to the
	// dead letter.
	if o := e.RunClient(30*time.Second, "result", id, "--collect"); o.Code != 3 || !strings.Contains(o.Stdout, "dead") {
		t.Errorf("result --collect of the dead task: exit %d, %q", o.Code, o.Stdout)
	}
	tr := e.Tree()
	if _, ok := tr.Results[id]; ok || !tr.Data[id] {
		t.Fatalf("after collecting the dead result: result present %v, payload present %v; want gone, kept", ok, tr.Data[id])
	}

	e.ReadyWorker(m, "w2", 1)
	if o := e.RunClient(30*time.Second, "requeue", e.Submit("echo", "x", "--wait", "--keep")); o.Code != 1 || !strings.Contains(o.Stderr, "finished, not dead") {
		t.Errorf("requeue a finished task: exit %d, %q; want 1 naming its state", o.Code, o.Stderr)
	}
	if o := e.RunClient(30*time.Second, "requeue", id); o.Code != 0 || !strings.Contains(o.Stdout, "requeued "+id) {
		t.Fatalf("requeue: exit %d, %q %q", o.Code, o.Stdout, o.Stderr)
	}
	r := e.WaitResults(30*time.Second, []string{id})[id]
	if r.Status != "succeeded" || r.Worker != "w2" || r.Attempts != 1 {
		t.Errorf("the requeued task: %+v; want succeeded on w2 at its first attempt", r)
	}
	if o := e.RunClient(30*time.Second, "requeue", id); o.Code != 1 || !strings.Contains(o.Stderr, "not dead") {
		t.Errorf("requeue twice: exit %d, %q", o.Code, o.Stderr)
	}
	if left := ls(t, e, "--state", "dead"); len(left) != 0 {
		t.Errorf("dead letters left: %+v", left)
	}
}

// purge without --yes changes nothing and says what would go; with --yes
// it removes results with their payloads and dead letters with theirs.
// A malformed dead letter cannot be requeued, and says so.
func TestTasksPurgeDryRunAndYes(t *testing.T) {
	e := newEnv(t)
	m := e.Leader("m1")
	e.ReadyWorker(m, "w1", 2)
	done := e.Submit("echo", "kept until purged", "--wait", "--keep")
	conn := e.ZKConn()
	bad := newID(t)
	if _, err := conn.Multi(
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "data", bad), Data: []byte("x"), Acl: zk.WorldACL(zk.PermAll)},
		&zk.CreateRequest{Path: pt.TaskPath(e.Root, "tasks", bad), Data: []byte("not json"), Acl: zk.WorldACL(zk.PermAll)},
	); err != nil {
		t.Fatal(err)
	}
	m.WaitLog(30*time.Second, pt.All(pt.Msg(pt.MsgDeadLettered), pt.Field("task", bad)))

	if o := e.RunClient(30*time.Second, "requeue", bad); o.Code != 1 || !strings.Contains(o.Stderr, "malformed") {
		t.Errorf("requeue a malformed task: exit %d, %q", o.Code, o.Stderr)
	}
	if o := e.RunClient(30*time.Second, "requeue", "--dead"); o.Code != 1 || !strings.Contains(o.Stdout, "requeued 0 of 1 dead letters") ||
		!strings.Contains(o.Stderr, "left "+bad) {
		t.Errorf("requeue --dead: exit %d, %q %q", o.Code, o.Stdout, o.Stderr)
	}

	before := e.Tree()
	o := e.RunClient(30*time.Second, "purge", "--finished", "--dead", "--older-than", "0s")
	if o.Code != 0 || !strings.Contains(o.Stdout, "would remove 1 result and 1 dead letter older than 0s (with 2 payloads)") ||
		!strings.Contains(o.Stdout, done) || !strings.Contains(o.Stdout, bad) {
		t.Errorf("dry run: exit %d\n%s%s", o.Code, o.Stdout, o.Stderr)
	}
	t.Logf("client purge (dry run):\n%s", o.Stdout)
	after := e.Tree()
	if len(after.Results) != len(before.Results) || len(after.Dead) != len(before.Dead) || len(after.Data) != len(before.Data) {
		t.Errorf("the dry run changed the tree: %d/%d/%d results/dead/payloads, then %d/%d/%d",
			len(before.Results), len(before.Dead), len(before.Data), len(after.Results), len(after.Dead), len(after.Data))
	}
	if o := e.RunClient(30*time.Second, "purge", "--dead", "--older-than", "1h", "--yes"); o.Code != 0 || !strings.Contains(o.Stdout, "removed 0") {
		t.Errorf("purge of nothing that old: exit %d, %q", o.Code, o.Stdout)
	}

	o = e.RunClient(30*time.Second, "purge", "--dead", "--older-than", "0s", "--yes")
	if o.Code != 0 || !strings.Contains(o.Stdout, "removed 1") {
		t.Errorf("purge --dead --yes: exit %d, %q %q", o.Code, o.Stdout, o.Stderr)
	}
	tr := e.Tree()
	if _, ok := tr.Dead[bad]; ok || tr.Data[bad] {
		t.Errorf("the dead letter or its payload survived")
	}
	if _, ok := tr.Results[bad]; ok {
		t.Errorf("the dead result survived its dead letter's purge")
	}
	o = e.RunClient(30*time.Second, "purge", "--finished", "--older-than", "0s", "--yes", "-o", "json")
	var rep struct {
		Results int `json:"results"`
		Removed struct {
			Removed int `json:"removed"`
		} `json:"removed"`
	}
	if err := json.Unmarshal([]byte(o.Stdout), &rep); o.Code != 0 || err != nil || rep.Results != 1 || rep.Removed.Removed != 1 {
		t.Errorf("purge --finished --yes -o json: exit %d, %q (%v)", o.Code, o.Stdout, err)
	}
	quiescent(t, e, true)
}
