package transport

import (
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkLoopbackWrite writes 208-byte frames (a bench fanout delivery)
// round-robin to 200 loopback sockets, one call per frame, and reports the
// writing thread's CPU per call (thread-ns/write): by write(2) or by
// writev, with readers that drain each socket at once or every 20 ms. On
// loopback the sending call also runs the receiving side's TCP, so what the
// readers do changes what a write costs.
func BenchmarkLoopbackWrite(b *testing.B) {
	for _, bc := range []struct {
		name      string
		vectored  bool
		readEvery time.Duration
	}{
		{"write/eager", false, 0},
		{"writev/eager", true, 0},
		{"write/lazy", false, 20 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fds := loopbackPeers(b, 200, bc.readEvery)
			frame := make([]byte, 208)
			iov := [][]byte{frame}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU(b)
			b.ResetTimer()
			for i := range b.N {
				fd := fds[i%len(fds)]
				var err error
				if bc.vectored {
					_, err = unix.Writev(fd, iov)
				} else {
					_, err = unix.Write(fd, frame)
				}
				if err != nil && err != unix.EAGAIN {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((threadCPU(b)-cpu0).Nanoseconds())/float64(b.N), "thread-ns/write")
		})
	}
}

// loopbackPeers returns the descriptors of n accepted loopback sockets
// (non-blocking, as the runtime leaves them) whose peers are read by a
// goroutine each: at once, or every readEvery.
func loopbackPeers(b *testing.B, n int, readEvery time.Duration) []int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var fds []int
	var wg sync.WaitGroup
	b.Cleanup(wg.Wait) // cleanups run last first: after the sockets below close
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close(); _ = c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				if readEvery > 0 {
					time.Sleep(readEvery)
				}
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		raw, err := s.(*net.TCPConn).SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
		_ = raw.Control(func(fd uintptr) { fds = append(fds, int(fd)) })
	}
	return fds
}

// threadCPU is the calling thread's CPU time, user and system.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
