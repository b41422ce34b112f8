package master_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// Znodes under tasks/ that are not Paddock's tasks (another tool's, another
// language's client with a bug) are never left there: a client waiting on
// one would hang. A task id in the wrong shard has a result path, computed
// from its id: it is dead-lettered as malformed, and a client waiting on
// the id gets that result. A name that is not a task id has none: it is
// removed, with its payload, and the master says so.
func TestTaskZnodesThatAreNotPaddocksAreNeverLeft(t *testing.T) {
	e := newEnv(t)
	e.master("m1", shared.Addr(), time.Hour)
	e.worker("w", shared.Addr(), 2)
	e.waitLog(10*time.Second, "w", "worker registered")

	misplaced := task.NewID(time.Now())
	var own int
	fmt.Sscanf(misplaced.Shard(), "%x", &own)
	wrong := fmt.Sprintf("%02x", (own+1)%256) // any shard but its own
	spec := fmt.Sprintf(`{"kind":"echo","submitted_at":"%s","size":1,"attempts":0}`, time.Now().UTC().Format(time.RFC3339Nano))
	e.writeRaw(e.l.Data()+"/"+wrong+"/"+string(misplaced), "x", e.l.TaskShard(wrong)+"/"+string(misplaced), spec)

	lower := task.NewID(time.Now())
	upper := strings.ToUpper(string(lower))
	uuid := "0b6f8a3c-5d2e-4f1a-9c7b-3e8d2a1f6b40"
	strays := map[string]string{ // task znode -> its payload ("" none)
		e.l.TaskShard(lower.Shard()) + "/" + upper: e.l.Data() + "/" + lower.Shard() + "/" + upper,
		e.l.TaskShard("40") + "/" + uuid:           e.l.Data() + "/40/" + uuid,
		e.l.TaskShard("00") + "/not-a-task-at-all": "",
	}
	for p, payload := range strays {
		if payload != "" {
			e.writeRaw(payload, "payload", p, spec)
		} else {
			e.writeRaw(p, "")
		}
	}

	// The submitter waits for the result where the id says it goes (the
	// task znode is not where the id says, so no existence check).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := e.q.WaitSubmitted(ctx, misplaced)
	if err != nil {
		t.Fatalf("a task id in the wrong shard: %v", err)
	}
	if r.Status != task.Dead || !strings.HasPrefix(r.Error, task.ReasonMalformed) || !strings.Contains(r.Error, "shard") {
		t.Fatalf("a task id in the wrong shard: result %+v, want dead, malformed, naming the shard", r)
	}
	data, _, err := e.ctl.Get(context.Background(), e.l.DeadLetter(misplaced))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := task.DecodeDeadLetter(data); err != nil || d.Reason != task.ReasonMalformed || d.Spec != spec {
		t.Fatalf("dead letter %+v %v, want reason malformed and the record verbatim", d, err)
	}
	gone := func(p string) bool {
		st, err := e.ctl.Exists(context.Background(), p)
		return err == nil && st == nil
	}
	for _, p := range []string{e.l.TaskShard(wrong) + "/" + string(misplaced), e.l.Data() + "/" + wrong + "/" + string(misplaced)} {
		zktest.Eventually(t, 10*time.Second, p+" to go", func() bool { return gone(p) })
	}
	for p, payload := range strays {
		zktest.Eventually(t, 10*time.Second, p+" to be removed", func() bool { return gone(p) && (payload == "" || gone(payload)) })
		zktest.Eventually(t, 10*time.Second, "a log line saying that "+p+" was removed", func() bool {
			for _, le := range e.logs.FilterMessage("removed a znode under tasks/ that is not a task").All() {
				if le.ContextMap()["path"] == p {
					return true
				}
			}
			return false
		})
	}
	// The master carries on.
	if r := e.wait(e.submit("echo", "fine", 0), 20*time.Second); r.Status != task.Succeeded {
		t.Fatalf("%+v", r)
	}
}
