package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	tcbench "github.com/tablecast/tablecast/internal/bench"
)

// bench runs `tablecast bench`; internal/bench parses its flags and does
// the work. Ctrl-C ends a run early; what was measured is still printed.
func bench(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return tcbench.Main(ctx, args, stdout, stderr)
}
