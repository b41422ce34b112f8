package coord

import "github.com/paddock-zk/paddock/internal/task"

// SetWaitHook makes Wait call h at the points where a concurrent change
// decides its outcome (see waitHook), until the returned func undoes it.
func SetWaitHook(h func(id task.ID, point string)) (undo func()) {
	waitHook.Store(&h)
	return func() { waitHook.Store(nil) }
}
