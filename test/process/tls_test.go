package process

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/proctest"
	"github.com/paddock-zk/paddock/internal/zktest"
)

// TestTasksOverTLS runs a master, a worker and clients against a ZooKeeper
// that serves only a TLS port (secureClientPort, client certificates
// required), with digest auth on top: tasks run as usual. A client that
// does not trust the server's CA, or presents no certificate, fails with a
// clear error and writes nothing.
func TestTasksOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own ZooKeeper")
	}
	srv, err := zktest.Launch(t.TempDir(), 0, zktest.WithTickTime(tickTime), zktest.WithTLS())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f := srv.TLS()
	e := proctest.NewEnv(t, bins, srv.Addr())
	e.Flags = []string{"--zk-tls-ca", f.CA, "--zk-tls-cert", f.ClientCert, "--zk-tls-key", f.ClientKey, "--zk-auth", "paddock:secret"}

	m := e.Leader("m1")
	e.ReadyWorker(m, "w1", 4)
	ids := e.SubmitN(5, "echo", "over TLS")
	for id, r := range e.WaitResults(60*time.Second, ids) {
		if r.Status != "succeeded" || r.Output != "over TLS" {
			t.Errorf("%s: %+v", id, r)
		}
	}

	// Without the CA, the system's roots do not vouch for the server.
	e.Flags = []string{"--zk-tls-cert", f.ClientCert, "--zk-tls-key", f.ClientKey, "--connect-timeout", "3s"}
	o := e.RunClient(30*time.Second, "submit", "--kind", "echo", "--data", "x")
	if o.Code != 1 || !strings.Contains(o.Stderr, "certificate") || !strings.Contains(o.Stderr, "--zk-tls-ca") {
		t.Errorf("a client without the CA: exit %d, stderr %q", o.Code, o.Stderr)
	}
	t.Logf("without the CA: %s", o.Stderr)
	// Without a client certificate, a server that requires one refuses.
	e.Flags = []string{"--zk-tls-ca", f.CA, "--connect-timeout", "3s"}
	o = e.RunClient(30*time.Second, "submit", "--kind", "echo", "--data", "x")
	if o.Code != 1 || !strings.Contains(o.Stderr, "--zk-tls-cert") {
		t.Errorf("a client without a certificate: exit %d, stderr %q", o.Code, o.Stderr)
	}
	t.Logf("without a certificate: %s", o.Stderr)
	// Plain TCP to the TLS port.
	e.Flags = []string{"--connect-timeout", "3s"}
	o = e.RunClient(30*time.Second, "status")
	if o.Code != 1 || !strings.Contains(o.Stderr, "cannot reach ZooKeeper") {
		t.Errorf("a plain client: exit %d, stderr %q", o.Code, o.Stderr)
	}
}
