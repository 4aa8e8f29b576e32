//go:build linux

package transport

import (
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// longWaits makes the readers of the Pollers the test starts wait for
// work longer than it takes.
func longWaits(t *testing.T) {
	old := readerIdle
	readerIdle = time.Hour
	t.Cleanup(func() { readerIdle = old })
}

// A reader that waited readerIdle for work ends: a server whose
// connections are idle holds none.
func TestPollerReaderEnds(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, client := tcpPair(t)
	s := &chanSink{got: make(chan string, 1)}
	if err := p.Watch(c, s); err != nil {
		t.Fatal(err)
	}
	write(t, client, "x")
	<-s.got
	for p.ended.Load() != 1 { // after readerIdle
		runtime.Gosched()
	}
	write(t, client, "y")
	if got := <-s.got; got != "y" {
		t.Fatalf("got %q after the reader ended", got)
	}
	if n := p.started.Load(); n != 2 {
		t.Fatalf("%d readers started, want a new one after the first ended", n)
	}
}

// chanSink hands every Feed's bytes to a channel.
type chanSink struct{ got chan string }

func (s *chanSink) Feed(b []byte) error { s.got <- string(b); return nil }
func (*chanSink) ReadClosed(error)      {}

// waitIdle waits until n readers wait for work.
func waitIdle(p *Poller, n int32) {
	for p.idle.Load() != n {
		runtime.Gosched()
	}
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// A reader that is done with one connection serves the next readable one,
// whichever it is: messages on several connections, one after the other,
// start one reader.
func TestPollerReusesAReader(t *testing.T) {
	longWaits(t)
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const conns = 3
	var clients [conns]net.Conn
	var sinks [conns]*chanSink
	for i := range clients {
		c, client := tcpPair(t)
		sinks[i] = &chanSink{got: make(chan string, 1)}
		if err := p.Watch(c, sinks[i]); err != nil {
			t.Fatal(err)
		}
		clients[i] = client
	}
	for round := 0; round < 2; round++ {
		for i, client := range clients {
			msg := string(rune('a'+i)) + string(rune('0'+round))
			write(t, client, msg)
			if got := <-sinks[i].got; got != msg {
				t.Fatalf("connection %d got %q, want %q", i, got, msg)
			}
			waitIdle(p, 1)
		}
	}
	if n := p.started.Load(); n != 1 {
		t.Fatalf("%d readers started for messages one at a time, want 1", n)
	}
}

// Readers busy together each take a connection; once done, no more than
// maxIdleReaders of them wait, and Close ends those that do.
func TestPollerBoundsIdleReaders(t *testing.T) {
	longWaits(t)
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	const conns = maxIdleReaders + 8
	release := make(chan struct{})
	var fed sync.WaitGroup
	fed.Add(conns)
	for i := 0; i < conns; i++ {
		c, client := tcpPair(t)
		s := blockSink{release: release, fed: &fed}
		if err := p.Watch(c, s); err != nil {
			t.Fatal(err)
		}
		write(t, client, "x")
	}
	fed.Wait() // every connection's reader is in Feed: one reader each
	if n := p.started.Load(); n != conns {
		t.Fatalf("%d readers started for %d connections readable together", n, conns)
	}
	close(release)
	waitIdle(p, maxIdleReaders)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := p.idle.Load(); n != 0 {
		t.Fatalf("%d readers still wait after Close", n)
	}
}

// blockSink's Feed waits for release.
type blockSink struct {
	release chan struct{}
	fed     *sync.WaitGroup
}

func (s blockSink) Feed([]byte) error { s.fed.Done(); <-s.release; return nil }
func (blockSink) ReadClosed(error)    {}
