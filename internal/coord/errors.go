package coord

import "github.com/go-zookeeper/zk"

// ErrNoAuth is ZooKeeper's refusal of a request on a znode whose ACL
// belongs to another identity (see "Access control" in docs/PROTOCOL.md):
// the process was started without the --zk-auth the tree was created with.
var ErrNoAuth = zk.ErrNoAuth
