package process

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/proctest"
)

// TestDaemonsNotifySystemd plays systemd's part for Type=notify units: a
// master and a worker given NOTIFY_SOCKET send READY=1 once they stand in
// the election / are registered, and STOPPING=1 when told to stop.
func TestDaemonsNotifySystemd(t *testing.T) {
	e := proctest.NewEnv(t, bins, zkConnect)
	for _, role := range []string{"master", "worker"} {
		sock := filepath.Join(t.TempDir(), "notify")
		ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		args := append(e.Flags, "--zk", e.ZK, "--root", e.Root, "--id", role+"1", "--session-timeout", e.SessionTimeout.String())
		bin := map[string]string{"master": e.Bins.Master, "worker": e.Bins.Worker}[role]
		p := e.Start(role, role, role+"1", bin, args, "NOTIFY_SOCKET="+sock)
		expect := func(want string) {
			t.Helper()
			buf := make([]byte, 256)
			_ = ln.SetReadDeadline(time.Now().Add(proctest.StartTimeout))
			n, err := ln.Read(buf)
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("%s: got %q (%v), want %q", role, buf[:n], err, want)
			}
		}
		expect("READY=1")
		p.Term()
		expect("STOPPING=1")
		if code := p.Wait(20 * time.Second); code != 0 {
			t.Fatalf("%s exited %d after SIGTERM", role, code)
		}
	}
}
