//go:build unix

package gcpace

import (
	"testing"
	"time"
)

// processCPU reads the process's CPU time, which grows as the process works.
// (Where it cannot be read it returns 0, and quiet falls back on allocation
// alone; on Unix that would be a bug, so this fails rather than skips.)
func TestProcessCPU(t *testing.T) {
	before := processCPU()
	if before <= 0 {
		t.Fatalf("processCPU() = %v, want the CPU time used so far", before)
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for processCPU() < before+20*time.Millisecond {
		for i := range 1 << 16 {
			x += i
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %v after 5 s of work", processCPU())
		}
	}
	_ = x
}
