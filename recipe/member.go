package recipe

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Member is the data of a candidate in a leader queue (an election, Role
// Match's applicants): who is standing, so that others can tell whom they
// follow and an operator can find the process.
type Member struct {
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// Self describes this process as id.
func Self(id string) Member {
	h, _ := os.Hostname()
	return Member{ID: id, Host: h, PID: os.Getpid(), Started: time.Now().UTC()}
}

// DecodeMember parses candidate data; failures wrap ErrMalformed.
func DecodeMember(b []byte) (Member, error) {
	var m Member
	if err := json.Unmarshal(b, &m); err != nil {
		return Member{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return m, nil
}
