package zkclient

import (
	"fmt"
	"sync"
)

// Session is one ZooKeeper session. Ephemeral znodes live exactly as long as
// it does: once Done is closed they are gone (or going), and whoever created
// them must build them again under the client's next session.
type Session struct {
	id   int64
	done chan struct{}
	once sync.Once
}

func newSession(id int64) *Session { return &Session{id: id, done: make(chan struct{})} }

// ID is the server-assigned session id (the EphemeralOwner of its znodes).
func (s *Session) ID() int64 { return s.id }

// Done is closed when the session has expired or its client was closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// Alive reports whether the session has not ended yet.
func (s *Session) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s *Session) end() { s.once.Do(func() { close(s.done) }) }

func (s *Session) String() string { return fmt.Sprintf("0x%x", s.id) }
