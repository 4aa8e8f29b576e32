//go:build !unix

package hub

import "time"

// processCPU: not told on this platform.
func processCPU() (time.Duration, bool) { return 0, false }
