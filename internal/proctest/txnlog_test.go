package proctest

import (
	"path/filepath"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/internal/zktest"
)

func TestTxnLogDump(t *testing.T) {
	srv := zktest.Start(t)
	c := ConnectZK(t, srv.Addr())
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/a", []byte("x"), 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(&zk.CheckVersionRequest{Path: "/a", Version: 0}, &zk.SetDataRequest{Path: "/a", Data: []byte("y"), Version: 0}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Multi(&zk.CheckVersionRequest{Path: "/a", Version: 1}, &zk.CheckVersionRequest{Path: "/a", Version: 7}, &zk.CreateRequest{Path: "/b", Acl: acl})
	t.Logf("failed multi: %v", err)
	_, err = c.Multi(&zk.CheckVersionRequest{Path: "/nope", Version: -1}, &zk.CreateRequest{Path: "/b", Acl: acl})
	t.Logf("failed multi: %v", err)
	c2 := ConnectZK(t, srv.Addr())
	if _, err := c2.Create("/e", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	zktest.Eventually(t, 5e9, "e gone", func() bool { ok, _, _ := c.Exists("/e"); return !ok })
	h, err := ReadTxnLogs(nil, filepath.Join(srv.Dir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range h.Txns {
		t.Logf("%s %s closed=%v ops=%+v", ZxidString(tx.Zxid), describeTxn(tx), tx.Closed, tx.Ops)
	}
	t.Logf("gaps %v conflicts %v files %d", h.Gaps(), h.Conflicts, h.Files)
}
