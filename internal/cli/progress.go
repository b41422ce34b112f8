package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progressEvery bounds how often the progress line is redrawn: often enough
// to look alive, rarely enough to cost nothing next to the work.
const progressEvery = 250 * time.Millisecond

// Progress redraws one line on a terminal while long work runs (run,
// submit --count). It draws nothing when w is not a terminal, so logs and
// pipes get only the final answer.
type Progress struct {
	w      io.Writer
	render func() string
	stop   chan struct{}
	done   sync.WaitGroup
	once   sync.Once
}

// StartProgress starts redrawing render's line on w when enabled and w is a
// terminal. Stop must be called; it clears the line.
func StartProgress(w io.Writer, enabled bool, render func() string) *Progress {
	p := &Progress{w: w, render: render, stop: make(chan struct{})}
	if !enabled || !IsTerminal(w) {
		return p
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(p.w, "\r\033[K%s", p.render())
			case <-p.stop:
				fmt.Fprint(p.w, "\r\033[K")
				return
			}
		}
	}()
	return p
}

// Stop ends the redrawing and clears the line, so what is printed next
// starts on a clean line.
func (p *Progress) Stop() {
	p.once.Do(func() { close(p.stop) })
	p.done.Wait()
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
