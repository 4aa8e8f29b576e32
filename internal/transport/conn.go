package transport

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// Sink receives what a watched connection reads. Feed is never called
// concurrently for one connection. ReadClosed is called once, when the read
// side ends by itself (EOF, a read error, or an error returned by Feed); it is
// not called after the connection was closed through Conn.Close.
type Sink interface {
	Feed(data []byte) error
	ReadClosed(err error)
}

// Conn is a server-side WebSocket connection after the upgrade. Writes are
// vectored (net.Buffers, writev on Linux) so a writer can flush many queued
// frames with one system call.
type Conn struct {
	nc     net.Conn
	raw    syscall.RawConn
	poller atomic.Pointer[Poller]
	watch  *watch // guarded by poller.mu

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// consume drops the first n bytes from v.
func consume(v *net.Buffers, n int64) {
	for len(*v) > 0 {
		first := int64(len((*v)[0]))
		if first > n {
			(*v)[0] = (*v)[0][n:]
			return
		}
		n -= first
		(*v)[0] = nil
		*v = (*v)[1:]
	}
}

// Upgrade performs the WebSocket handshake on an HTTP request the caller has
// already authorised. Bytes the client sent right after its handshake (they may
// already sit in net/http's buffer) are returned so the caller can feed them
// before watching the connection.
func Upgrade(w http.ResponseWriter, r *http.Request, timeout time.Duration) (*Conn, []byte, error) {
	u := ws.HTTPUpgrader{Timeout: timeout}
	nc, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			_ = nc.Close()
		}
		return nil, nil, fmt.Errorf("transport: upgrade: %w", err)
	}
	early := buffered(rw)
	c, err := newConn(nc)
	if err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	return c, early, nil
}

func newConn(nc net.Conn) (*Conn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errors.New("transport: connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("transport: raw conn: %w", err)
	}
	return &Conn{nc: nc, raw: raw}, nil
}

func buffered(rw *bufio.ReadWriter) []byte {
	if rw == nil || rw.Reader == nil || rw.Reader.Buffered() == 0 {
		return nil
	}
	b, _ := rw.Reader.Peek(rw.Reader.Buffered())
	return append([]byte(nil), b...)
}

// WriteBuffers writes every buffer (writev where the platform has it),
// waiting for the peer as long as it makes progress: it fails with
// os.ErrDeadlineExceeded only when the peer took nothing for timeout (0: no
// limit). A deadline on the whole batch would close a client that reads
// steadily but slower than a large backlog needs. bufs is consumed.
func (c *Conn) WriteBuffers(bufs *net.Buffers, timeout time.Duration) (int64, error) {
	var total int64
	for {
		if timeout > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
		}
		n, err := bufs.WriteTo(c.nc)
		total += n
		if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) || len(*bufs) == 0 {
			return total, err
		}
	}
}

// Close stops watching the connection and closes it. It is idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.stopWatching()
		c.closeErr = c.nc.Close()
	})
	return c.closeErr
}

// stopWatching marks the connection closed and takes it off its poller.
// Watch re-checks closed after publishing the poller, so one of the two
// always sees the other.
func (c *Conn) stopWatching() {
	c.closed.Store(true)
	if p := c.poller.Load(); p != nil {
		p.unwatch(c)
	}
}

// CloseAfter closes the connection the way RFC 6455 asks a server to: it
// stops writing (the close frame has been written), then reads and discards
// what the client still sends for up to linger, so that unread data does not
// make the kernel reset the connection and lose the frames just written.
func (c *Conn) CloseAfter(linger time.Duration) error {
	c.closeOnce.Do(func() {
		c.stopWatching()
		if tc, ok := c.nc.(*net.TCPConn); ok && linger > 0 {
			_ = tc.CloseWrite()
			_ = tc.SetReadDeadline(time.Now().Add(linger))
			var buf [512]byte
			for {
				if _, err := tc.Read(buf[:]); err != nil {
					break
				}
			}
		}
		c.closeErr = c.nc.Close()
	})
	return c.closeErr
}
