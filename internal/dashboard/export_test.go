package dashboard

// Looping reports whether the reading loop runs: tests wait for it to end
// before they check that nothing more is read.
func (h *Handler) Looping() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.looping
}
