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

// tcpPair is a connected loopback pair: the server side as a Conn, the
// client side plain, both with small socket buffers so that a large write
// waits for the reader.
func tcpPair(t *testing.T) (*Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		accepted <- nc
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc := <-accepted
	if nc == nil {
		t.Fatal("accept failed")
	}
	// Fixed, small buffers (well above loopback's 64 KiB segments: smaller
	// ones stall TCP itself), so that a large write waits for the reader.
	_ = nc.(*net.TCPConn).SetWriteBuffer(256 << 10)
	_ = client.(*net.TCPConn).SetReadBuffer(256 << 10)
	c, err := newConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = client.Close() })
	return c, client.(*net.TCPConn)
}

// A reader that keeps reading, in bursts with pauses shorter than the
// timeout, gets a batch that takes it several timeouts to read: the
// timeout bounds a stall, not the whole batch.
func TestWriteBuffersWaitsForAReaderThatProgresses(t *testing.T) {
	c, client := tcpPair(t)
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
	c, _ := tcpPair(t)
	payload := make([]byte, 8<<20)
	bufs := net.Buffers{payload}
	n, err := c.WriteBuffers(&bufs, 100*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= int64(len(payload)) {
		t.Fatalf("WriteBuffers to a reader that reads nothing: wrote %d, err %v", n, err)
	}
}
