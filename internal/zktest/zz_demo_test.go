package zktest

import (
	"testing"
	"time"
)

func TestDemoHang(t *testing.T) {
	s := Start(t)
	t.Logf("pid %d", s.PID())
	time.Sleep(time.Minute)
}
