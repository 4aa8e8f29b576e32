package transport

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the server side of a loopback TCP connection as a Conn,
// and the client side.
func tcpPair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, client
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// TestTryWriteBuffers: one buffer and several are written whole and
// removed; what a full socket does not take stays, in order, for
// WriteBuffers.
func TestTryWriteBuffers(t *testing.T) {
	c, client := tcpPair(t)
	var frames net.Buffers // a paced writer's backlog: many frames in one writev
	for i := range 32 {
		frames = append(frames, bytes.Repeat([]byte{byte('a' + i%26)}, 208))
	}
	for _, bufs := range []net.Buffers{
		{[]byte("one")},
		{[]byte("a"), []byte("bc"), []byte("def")},
		{[]byte("x"), nil, []byte("yz"), {}},
		{{}},
		frames,
	} {
		want := bytes.Join(bufs, nil)
		n, err := c.TryWriteBuffers(&bufs)
		if err != nil || n != int64(len(want)) || len(bufs) != 0 {
			t.Fatalf("TryWriteBuffers = %d, %v, %d buffers left; want %d, nil, 0", n, err, len(bufs), len(want))
		}
		if got := readN(t, client, len(want)); !bytes.Equal(got, want) {
			t.Fatalf("read %q, want %q", got, want)
		}
	}

	// Nobody reads: the socket fills up and takes part of 16 MiB.
	var bufs net.Buffers
	var want []byte
	for i := range 16 {
		b := bytes.Repeat([]byte{byte('A' + i%26)}, 1<<20)
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	n, err := c.TryWriteBuffers(&bufs)
	if err != nil || n <= 0 || n >= int64(len(want)) || len(bufs) == 0 {
		t.Fatalf("TryWriteBuffers on a full socket = %d, %v, %d buffers left; want part of %d", n, err, len(bufs), len(want))
	}
	type read struct {
		b   []byte
		err error
	}
	done := make(chan read)
	go func() {
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, len(want))
		_, err := io.ReadFull(client, b)
		done <- read{b, err}
	}()
	if _, err := c.WriteBuffers(&bufs, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || !bytes.Equal(r.b, want) {
		t.Fatalf("read error %v, or the bytes read are not the bytes written, in order", r.err)
	}
}
