//go:build !linux

package transport

import (
	"errors"
	"net"
	"os"
	"time"
)

// TryWriteBuffers writes what the socket takes within a millisecond; see the
// Linux version for the contract.
func (c *Conn) TryWriteBuffers(bufs *net.Buffers) (int64, error) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Millisecond))
	n, err := bufs.WriteTo(c.nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}
