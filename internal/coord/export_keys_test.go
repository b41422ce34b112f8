package coord

// SetSubmitReplyHook makes SubmitMany pass each batch's outcome through h
// (see submitReplyHook), until the returned func undoes it.
func SetSubmitReplyHook(h func(err error) error) (undo func()) {
	submitReplyHook.Store(&h)
	return func() { submitReplyHook.Store(nil) }
}
