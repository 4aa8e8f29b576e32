//go:build linux

package transport

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Poller watches idle connections with one epoll instance and one goroutine,
// so that an idle connection holds no goroutine and no read buffer. When a
// connection becomes readable a reader takes it: it reads until the socket
// would block, hands the bytes to the connection's Sink and re-arms the
// descriptor (EPOLLONESHOT: at most one reader per connection at a time).
//
// A reader is not tied to a connection. When it is done with one it waits a
// while (readerIdle) for the next readable connection, whichever it is; the
// loop starts a new reader only when none is waiting. A reader's stack, grown
// by the work its Sink did (a submit runs on it, down to the SQL commit), is
// kept for the next message rather than grown and copied again from a new
// goroutine's few kilobytes each time. At most maxIdleReaders wait at once,
// for readerIdle, so the readers left over from a burst are a bounded cost
// for a moment, not one per connection.
//
// Every goroutine the Poller starts is tracked: Close stops the loop and the
// waiting readers, and waits for them all.
type Poller struct {
	epfd   int
	wakefd int

	mu      sync.RWMutex
	watches map[int32]*watch // by file descriptor
	nextGen uint32

	ready chan *watch   // unbuffered: a send succeeds only if a reader waits
	wait  time.Duration // readerIdle when the Poller started
	done  chan struct{} // closed by Close: waiting readers end
	idle  atomic.Int32  // readers waiting on ready
	// started and ended count the readers started and ended, for the tests.
	started, ended atomic.Int64

	wg     sync.WaitGroup
	closed atomic.Bool
}

type watch struct {
	conn *Conn
	sink Sink
	fd   int32
	gen  uint32
}

const (
	readEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	readBuf    = 16 << 10

	// maxIdleReaders bounds the readers waiting for work: about the
	// connections that are readable together in a burst (a commit's batch
	// acknowledges some tens of submits at once; with 100 clients submitting,
	// 64 were too few: one message in eight started a reader).
	maxIdleReaders = 128
)

// readerIdle is how long a reader waits for work before it ends: long
// enough to be reused under a steady load (a reader's wait is a few
// milliseconds at a few hundred messages a second), short enough that a
// server whose connections went idle soon holds no reader at all. A
// variable for the tests, read when a Poller starts.
var readerIdle = 100 * time.Millisecond

var bufPool = sync.Pool{New: func() any { b := make([]byte, readBuf); return &b }}

// NewPoller starts an epoll loop.
func NewPoller() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("transport: epoll_create: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("transport: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wakefd)
		return nil, fmt.Errorf("transport: epoll_ctl wake: %w", err)
	}
	p := &Poller{epfd: epfd, wakefd: wakefd, watches: make(map[int32]*watch),
		ready: make(chan *watch), done: make(chan struct{}), wait: readerIdle}
	p.wg.Add(1)
	go p.loop()
	return p, nil
}

// Watch starts delivering what c reads to s.
func (p *Poller) Watch(c *Conn, s Sink) error {
	if p.closed.Load() {
		return errors.New("transport: poller closed")
	}
	var fd int
	if err := c.raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return fmt.Errorf("transport: fd: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.closed.Load() {
		return errors.New("transport: connection closed")
	}
	p.nextGen++
	w := &watch{conn: c, sink: s, fd: int32(fd), gen: p.nextGen}
	ev := unix.EpollEvent{Events: readEvents, Fd: w.fd, Pad: int32(w.gen)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("transport: epoll_ctl add: %w", err)
	}
	p.watches[w.fd] = w
	c.watch = w
	c.poller.Store(p)
	if c.closed.Load() { // Close ran meanwhile without seeing the poller
		delete(p.watches, w.fd)
		c.watch = nil
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		return errors.New("transport: connection closed")
	}
	return nil
}

func (p *Poller) forget(w *watch) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.watches[w.fd]; cur == w {
		delete(p.watches, w.fd)
		return true
	}
	return false
}

// unwatch removes c before it is closed, so that its descriptor number can be
// reused safely.
func (p *Poller) unwatch(c *Conn) {
	p.mu.Lock()
	w := c.watch
	c.watch = nil
	if w == nil || p.watches[w.fd] != w {
		p.mu.Unlock()
		return
	}
	delete(p.watches, w.fd)
	p.mu.Unlock()
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(w.fd), nil)
}

func (p *Poller) loop() {
	defer p.wg.Done()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || p.closed.Load() {
			return
		}
		for i := 0; i < n; i++ {
			ev := events[i]
			if ev.Fd == int32(p.wakefd) {
				if p.closed.Load() {
					return
				}
				continue
			}
			p.mu.RLock()
			w := p.watches[ev.Fd]
			p.mu.RUnlock()
			if w == nil || w.gen != uint32(ev.Pad) {
				continue // closed, or the descriptor now belongs to another connection
			}
			select {
			case p.ready <- w:
			default:
				p.wg.Add(1)
				p.started.Add(1)
				go p.reader(w)
			}
		}
	}
}

// reader serves w, then whichever connection the loop hands it next, until it
// has waited readerIdle for one, the Poller closes, or maxIdleReaders others
// are waiting already.
func (p *Poller) reader(w *watch) {
	defer p.wg.Done()
	defer p.ended.Add(1)
	var timer *time.Timer
	rd := newSysRead()
	for {
		p.serve(w, rd)
		if p.idle.Add(1) > maxIdleReaders {
			p.idle.Add(-1)
			return
		}
		if timer == nil {
			timer = time.NewTimer(p.wait)
		} else {
			timer.Reset(p.wait)
		}
		select {
		case w = <-p.ready:
			p.idle.Add(-1)
		case <-timer.C:
			p.idle.Add(-1)
			return
		case <-p.done:
			p.idle.Add(-1)
			timer.Stop()
			return
		}
	}
}

// serve reads w's connection until it would block, then re-arms it.
func (p *Poller) serve(w *watch, rd *sysRead) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := w.conn.readNonBlocking(rd, buf)
		if n > 0 {
			if ferr := w.sink.Feed(buf[:n]); ferr != nil {
				p.end(w, ferr)
				return
			}
		}
		switch {
		case errors.Is(err, unix.EAGAIN):
			// Re-arm under the read lock: Conn.Close must take the write lock
			// (unwatch) before it closes the descriptor, so while w is still
			// registered here its number cannot belong to another connection.
			ev := unix.EpollEvent{Events: readEvents, Fd: w.fd, Pad: int32(w.gen)}
			p.mu.RLock()
			var merr error
			if p.watches[w.fd] == w {
				merr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(w.fd), &ev)
			}
			p.mu.RUnlock()
			if merr != nil {
				p.end(w, fmt.Errorf("transport: epoll_ctl mod: %w", merr))
			}
			return
		case err != nil:
			p.end(w, err)
			return
		case n == 0:
			p.end(w, errEOF)
			return
		}
	}
}

func (p *Poller) end(w *watch, err error) {
	if p.forget(w) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(w.fd), nil)
		w.sink.ReadClosed(err)
	}
}

// Close stops the loop and waits for every reader goroutine to finish. It does
// not close the watched connections: their owner does.
func (p *Poller) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	var one = []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(p.wakefd, one)
	close(p.done)
	p.wg.Wait()
	_ = unix.Close(p.wakefd)
	return unix.Close(p.epfd)
}

// sysRead is one read(2) of a reader, through syscall.RawConn.Read, whose
// function its reader binds once: a closure per read would escape, with
// what it captures, to the heap.
type sysRead struct {
	buf []byte
	n   int
	err error
	fn  func(fd uintptr) bool // bound to read
}

func newSysRead() *sysRead {
	r := &sysRead{}
	r.fn = r.read
	return r
}

func (r *sysRead) read(fd uintptr) bool {
	r.n, r.err = unix.Read(int(fd), r.buf)
	return true
}

// readNonBlocking reads what the socket has into buf without waiting for
// more, with r.
func (c *Conn) readNonBlocking(r *sysRead, buf []byte) (int, error) {
	r.buf, r.n, r.err = buf, 0, nil
	err := c.raw.Read(r.fn)
	n, rerr := r.n, r.err
	r.buf, r.err = nil, nil
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	return n, rerr
}
