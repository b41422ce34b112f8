package main

import (
	"strings"
	"testing"

	"github.com/paddock-zk/paddock/internal/cli"
)

// A role's --data is refused, before anything is written, unless a worker
// could run it: the check is task.ParseArgv, the worker's own decoder.
func TestRoleAddDataIsAnArgv(t *testing.T) {
	for _, data := range []string{"sleep 1", `[""]`, `[]`, `["a",1]`, `"sh"`, "[\"\xff\""} {
		_, err := run(t, "role", "add", "r1", "--data", data)
		if exitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "--data must be a JSON array of strings") {
			t.Errorf("--data %q: exit %d (%v), want a usage error", data, exitCode(err), err)
		}
	}
	for _, data := range []string{"", `["my-shard","--id","7"]`} {
		if err := checkRoleData(data); err != nil {
			t.Errorf("--data %q: %v", data, err)
		}
	}
}
