package bench

import (
	"context"
	"strconv"
	"strings"
	"sync"
)

// credit lets the rows writers run only as far ahead of the subscribers as
// a window allows: write i waits until i < allowed. The bench process
// raises allowed as the slowest subscriber reads (rowsRun.feedCredit), in
// the writer child through "allow N" lines on its stdin. At --rate 0 this
// makes the writers go as fast as every subscriber keeps up, which is what
// the server sustains; without it the writes outrun the sockets into the
// send queues until those overflow (docs/benchmarks.md, bench rows).
type credit struct {
	mu      sync.Mutex
	allowed int
	raised  chan struct{} // closed and replaced when allowed grows
}

func newCredit(allowed int) *credit {
	return &credit{allowed: allowed, raised: make(chan struct{})}
}

// raise lets writes below allowed go; a lower value changes nothing.
func (c *credit) raise(allowed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if allowed <= c.allowed {
		return
	}
	c.allowed = allowed
	close(c.raised)
	c.raised = make(chan struct{})
}

// wait returns once write i may go, or ctx ended. A nil credit never waits.
func (c *credit) wait(ctx context.Context, i int) {
	if c == nil {
		return
	}
	for {
		c.mu.Lock()
		ok, raised := i < c.allowed, c.raised
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-raised:
		}
	}
}

// allowLine is the line that carries allowed to a writer child.
func allowLine(allowed int) string { return "allow " + strconv.Itoa(allowed) + "\n" }

// parseAllowLine reads an allowLine (without its newline).
func parseAllowLine(line string) (int, bool) {
	v, ok := strings.CutPrefix(line, "allow ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}
