package master

import "github.com/paddock-zk/paddock/internal/task"

// WithBeforeRead returns cfg with f called before each pipelined read of
// task records the leader makes.
func WithBeforeRead(cfg Config, f func(ids []task.ID)) Config {
	cfg.beforeRead = f
	return cfg
}
