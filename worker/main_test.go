package worker_test

import (
	"testing"

	"github.com/paddock-zk/paddock/internal/zktest"
)

// One ZooKeeper serves the package; each test works under its own root.
var shared *zktest.Server

func TestMain(m *testing.M) { zktest.MainNoLeaks(m, &shared) }
