//go:build unix

package store

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the test process has used (user and system),
// for benchmarks that report CPU per op: under a busy machine it moves
// less than the time per op does.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
