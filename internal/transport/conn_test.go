package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// smallBuffers fixes both sockets' buffers small (well above loopback's
// 64 KiB segments: smaller ones stall TCP itself), so that a large write
// waits for the reader.
func smallBuffers(c *Conn, client net.Conn) {
	_ = c.nc.(*net.TCPConn).SetWriteBuffer(256 << 10)
	_ = client.(*net.TCPConn).SetReadBuffer(256 << 10)
}

// A reader that keeps reading, in bursts with pauses shorter than the
// timeout, gets a batch that takes it several timeouts to read: the
// timeout bounds a stall, not the whole batch.
func TestWriteBuffersWaitsForAReaderThatProgresses(t *testing.T) {
	c, client := tcpPair(t)
	smallBuffers(c, client)
	const (
		timeout = time.Second
		pause   = 50 * time.Millisecond
		burst   = 64 << 10
		// 4 MiB: the two sockets' buffers hold about 1.4 MiB of it, the
		// rest takes the reader about two timeouts. (The writer sees
		// progress only when its send buffer has drained by a third, so
		// the timeout must be well above the pause.)
		bursts = 64
	)
	payload := bytes.Repeat([]byte("0123456789abcdef"), burst*bursts/16)
	got := make(chan []byte, 1)
	go func() {
		var all bytes.Buffer
		buf := make([]byte, burst)
		for {
			n, err := io.ReadFull(client, buf)
			all.Write(buf[:n])
			if err != nil {
				got <- all.Bytes()
				return
			}
			time.Sleep(pause) // a slow reader: the behaviour under test
		}
	}()
	bufs := net.Buffers{payload[:len(payload)/2], payload[len(payload)/2:]}
	n, err := c.WriteBuffers(&bufs, timeout)
	if err != nil || n != int64(len(payload)) || len(bufs) != 0 {
		t.Fatalf("WriteBuffers: wrote %d of %d, %d buffers left, err %v", n, len(payload), len(bufs), err)
	}
	_ = c.nc.Close()
	if b := <-got; !bytes.Equal(b, payload) {
		t.Fatalf("the reader got %d bytes, not the %d written", len(b), len(payload))
	}
}

// A reader that stops reading makes the write fail after the timeout.
func TestWriteBuffersFailsWhenTheReaderStops(t *testing.T) {
	c, client := tcpPair(t)
	smallBuffers(c, client)
	payload := make([]byte, 8<<20)
	bufs := net.Buffers{payload}
	n, err := c.WriteBuffers(&bufs, 100*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= int64(len(payload)) {
		t.Fatalf("WriteBuffers to a reader that reads nothing: wrote %d, err %v", n, err)
	}
}
