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
// writing thread's CPU per call (thread-ns/write) and the whole process's
// (process-ns/write: the readers' too, the same for every case): by
// write(2) or writev through the runtime's system call entry (unix.Write,
// unix.Writev), or raw (writeNoWait), with readers that drain each socket
// at once or every 20 ms. On loopback the sending call also runs the
// receiving side's TCP, so what the readers do changes what a write costs.
func BenchmarkLoopbackWrite(b *testing.B) {
	frame := make([]byte, 208)
	iov := [][]byte{frame}
	var rawIov []unix.Iovec
	calls := map[string]func(fd int) error{
		"write":  func(fd int) error { _, err := unix.Write(fd, frame); return err },
		"writev": func(fd int) error { _, err := unix.Writev(fd, iov); return err },
		"raw":    func(fd int) error { _, err := writeNoWait(uintptr(fd), iov, &rawIov); return err },
	}
	for _, bc := range []struct {
		name, call string
		readEvery  time.Duration
	}{
		{"write/eager", "write", 0},
		{"writev/eager", "writev", 0},
		{"raw/eager", "raw", 0},
		{"write/lazy", "write", 20 * time.Millisecond},
		{"raw/lazy", "raw", 20 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fds := loopbackPeers(b, 200, bc.readEvery)
			call := calls[bc.call]
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			thread0, proc0 := rusage(b, unix.RUSAGE_THREAD), rusage(b, unix.RUSAGE_SELF)
			b.ResetTimer()
			for i := range b.N {
				if err := call(fds[i%len(fds)]); err != nil && err != unix.EAGAIN {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((rusage(b, unix.RUSAGE_THREAD)-thread0).Nanoseconds())/float64(b.N), "thread-ns/write")
			b.ReportMetric(float64((rusage(b, unix.RUSAGE_SELF)-proc0).Nanoseconds())/float64(b.N), "process-ns/write")
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

// rusage is the CPU time, user and system, of the calling thread
// (unix.RUSAGE_THREAD) or the process (unix.RUSAGE_SELF).
func rusage(b *testing.B, who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
