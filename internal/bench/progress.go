package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress shows how a phase advances: one line rewritten in place on a
// terminal, plain lines at a slower pace otherwise (logs, CI).
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration

	mu      sync.Mutex // serialises writes to w
	lastLen int        // length of the line shown in place
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, every: 5 * time.Second}
	if isTerminal(w) {
		p.tty, p.every = true, 200*time.Millisecond
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// notef prints one line of information.
func (p *progress) notef(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// clearLocked erases the in-place line. p.mu must be held.
func (p *progress) clearLocked() {
	if p.tty && p.lastLen > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lastLen))
		p.lastLen = 0
	}
}

// phase shows name advancing towards total (0: unknown), as told by count,
// until the returned function is called; that prints the final line.
func (p *progress) phase(name string, total int64, count func() int64) (end func()) {
	start := time.Now()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.show(name, total, count(), time.Since(start), false)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			p.show(name, total, count(), time.Since(start), true)
		})
	}
}

func (p *progress) show(name string, total, n int64, elapsed time.Duration, final bool) {
	rate := float64(n) / max(elapsed.Seconds(), 1e-9)
	line := fmt.Sprintf("%s: %d", name, n)
	if total > 0 {
		line += fmt.Sprintf("/%d (%.0f%%)", total, 100*float64(n)/float64(total))
	}
	line += fmt.Sprintf(", %s/s, %.1fs", formatValue(&rate), elapsed.Seconds())
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if len(line) < p.lastLen {
		pad = strings.Repeat(" ", p.lastLen-len(line))
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.lastLen = len(line)
	if final {
		fmt.Fprintln(p.w)
		p.lastLen = 0
	}
}
