package coord

import (
	"context"

	"github.com/paddock-zk/paddock/internal/task"
)

// SetWaitHook makes Wait call h at the points where a concurrent change
// decides its outcome (see waitHook), until the returned func undoes it.
func SetWaitHook(h func(id task.ID, point string)) (undo func()) {
	waitHook.Store(&h)
	return func() { waitHook.Store(nil) }
}

// RetryLanded is retryLanded: a test cannot lose a reply at will, so it
// asks the decision the lost reply leads to.
func (q *Queue) RetryLanded(ctx context.Context, id task.ID, e task.AttemptError) (bool, error) {
	return q.retryLanded(ctx, id, e)
}
