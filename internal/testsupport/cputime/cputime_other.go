//go:build !unix

package cputime

import "time"

// Process reports false: this platform does not tell a process's CPU time.
func Process() (time.Duration, bool) { return 0, false }
