package replay

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Progress intervals: a terminal line is rewritten often, a log gets a line now and then.
const (
	terminalEvery = 200 * time.Millisecond
	logEvery      = 5 * time.Second
)

// progress reports a run's counts on w: one line rewritten in place on a terminal, a line per
// interval otherwise, and always a final line. A nil *progress (no writer) does nothing.
type progress struct {
	w    io.Writer
	tty  bool
	snap func() Summary

	mu   sync.Mutex // serialises writes to w
	stop chan struct{}
	done chan struct{}
}

// startProgress starts reporting snap() on w; nil w gives a nil *progress.
func startProgress(w io.Writer, snap func() Summary) *progress {
	if w == nil {
		return nil
	}
	p := &progress{w: w, tty: isTerminal(w), snap: snap, stop: make(chan struct{}), done: make(chan struct{})}
	every := logEvery
	if p.tty {
		every = terminalEvery
	}
	go p.loop(every)
	return p
}

// isTerminal is a dependency-free terminal check: a character device is taken for one.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) loop(every time.Duration) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.line(p.snap().String(), false)
		}
	}
}

// line writes s as the progress line; final ends a terminal's rewritten line.
func (p *progress) line(s string, final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.tty:
		fmt.Fprintf(p.w, "replay: %s\n", s)
	case final:
		fmt.Fprintf(p.w, "\r\033[Kreplay: %s\n", s)
	default:
		fmt.Fprintf(p.w, "\r\033[Kreplay: %s", s)
	}
}

// note writes msg on a line of its own; on a terminal the next tick redraws the progress line.
func (p *progress) note(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "replay: %s\n", msg)
}

// finish stops the ticks and writes the final line.
func (p *progress) finish(s Summary) {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.line(s.String(), true)
}
