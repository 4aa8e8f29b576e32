//go:build !unix

package gcpace

import "time"

// processCPU is not read on this platform: allocation alone tells when the
// server is quiet.
func processCPU() time.Duration { return 0 }
