package worker

import "github.com/paddock-zk/paddock/internal/task"

// RetryPolicy is w's default retry policy for kind, from the live
// settings.
func RetryPolicy(w *Worker, kind string) *task.RetryPolicy { return w.retry.policy(kind) }
