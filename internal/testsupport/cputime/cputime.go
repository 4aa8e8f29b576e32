// Package cputime gives benchmarks the CPU time their process has used, for
// figures per op that a busy machine moves less than it moves time per op.
package cputime
