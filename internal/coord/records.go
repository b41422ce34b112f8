package coord

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
)

// WorkerInfo is the data of a worker's registration, published through
// discovery: what the master needs to route tasks to it.
type WorkerInfo struct {
	recipe.Member
	Concurrency int      `json:"concurrency"`
	Kinds       []string `json:"kinds"`
	Version     string   `json:"version,omitempty"`
	Draining    bool     `json:"draining,omitempty"`
}

// Epoch is the data of the epoch znode. Each new leader increments Epoch;
// the znode's version is the fencing token its writes are checked against.
type Epoch struct {
	Epoch  int64     `json:"epoch"`
	Leader string    `json:"leader,omitempty"`
	Since  time.Time `json:"since,omitzero"`
}

func mustEncodeEpoch(e Epoch) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}

// DecodeWorkerInfo parses registration data; failures wrap task.ErrMalformed.
func DecodeWorkerInfo(b []byte) (WorkerInfo, error) {
	var w WorkerInfo
	if err := json.Unmarshal(b, &w); err != nil {
		return WorkerInfo{}, fmt.Errorf("%w: %v", task.ErrMalformed, err)
	}
	if w.Concurrency < 1 {
		return WorkerInfo{}, fmt.Errorf("%w: concurrency %d < 1", task.ErrMalformed, w.Concurrency)
	}
	return w, nil
}

// DecodeEpoch parses epoch data; failures wrap task.ErrMalformed.
func DecodeEpoch(b []byte) (Epoch, error) {
	var e Epoch
	if len(b) == 0 {
		return e, nil
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return Epoch{}, fmt.Errorf("%w: %v", task.ErrMalformed, err)
	}
	return e, nil
}
