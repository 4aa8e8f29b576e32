//go:build !linux

package transport

import (
	"errors"
	"io"
	"sync"
)

// Poller, where epoll is not available, reads each connection from a goroutine
// of its own. It keeps the Linux poller's contract (one reader per connection,
// ReadClosed once) at the cost of a goroutine per idle connection.
type Poller struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

type watch struct{}

// NewPoller returns a goroutine-per-connection poller.
func NewPoller() (*Poller, error) { return &Poller{}, nil }

// Watch starts delivering what c reads to s.
func (p *Poller) Watch(c *Conn, s Sink) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("transport: poller closed")
	}
	c.poller.Store(p)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 16<<10)
		for {
			n, err := c.nc.Read(buf)
			if n > 0 {
				if ferr := s.Feed(buf[:n]); ferr != nil {
					s.ReadClosed(ferr)
					return
				}
			}
			if errors.Is(err, io.EOF) {
				s.ReadClosed(errEOF)
				return
			}
			if err != nil {
				if !c.closed.Load() {
					s.ReadClosed(err)
				}
				return
			}
		}
	}()
	return nil
}

func (p *Poller) unwatch(*Conn) {}

// Close waits for the reader goroutines; their connections must be closed by
// their owners first.
func (p *Poller) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
