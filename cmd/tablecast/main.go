// Command tablecast is the real-time server for table databases. This file and
// its siblings only parse the command line and wire packages together.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
)

const usage = `tablecast: real-time collaboration for table databases

usage:
  tablecast serve [flags]      run the server (--dev for a local, insecure setup)
  tablecast token --sub USER   print a JWT signed with the configured secret
  tablecast bench SCENARIO     load-test a server (idle, fanout, rows, recover, ops, pages, webhooks)
  tablecast migrate            apply the store's migrations and exit
  tablecast healthcheck        exit 0 when the server's /healthz answers (containers)
  tablecast version            print version information

Run 'tablecast COMMAND --help' for a command's flags.
`

func main() {
	stop := cpuProfile(os.Getenv("TABLECAST_CPU_PROFILE"))
	stopTrace := serverTrace(os.Getenv("TABLECAST_TRACE"), os.Args[1:])
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stopTrace()
	stop()
	os.Exit(code)
}

// serverTrace writes an execution trace (runtime/trace, read with `go tool
// trace`) of a `tablecast serve` process to path.<pid> (the TABLECAST_TRACE
// variable, for measuring; see docs/benchmarks.md) until the returned
// function is called. Only the server is traced: set for `bench`, the
// variable reaches the server it starts and leaves the load generator's
// processes alone. An empty path does nothing.
func serverTrace(path string, args []string) func() {
	if path == "" || len(args) == 0 || args[0] != "serve" {
		return func() {}
	}
	f, err := os.Create(path + "." + strconv.Itoa(os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "tablecast: TABLECAST_TRACE: %v\n", err)
		return func() {}
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintf(os.Stderr, "tablecast: TABLECAST_TRACE: %v\n", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		trace.Stop()
		_ = f.Close()
	}
}

// cpuProfile writes a CPU profile of the whole process to path.<pid> (the
// TABLECAST_CPU_PROFILE variable, for measuring; see docs/benchmarks.md;
// the pid tells `bench` from the server it starts) until the returned
// function is called. An empty path does nothing.
func cpuProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path + "." + strconv.Itoa(os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "tablecast: TABLECAST_CPU_PROFILE: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "tablecast: TABLECAST_CPU_PROFILE: %v\n", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stdout, stderr)
	case "token":
		err = token(args[1:], stdout)
	case "bench":
		err = bench(args[1:], stdout, stderr)
	case "migrate":
		err = migrate(args[1:], stdout)
	case "healthcheck":
		err = healthcheck(args[1:], stdout)
	case "version", "--version", "-v":
		err = versionCmd(args[1:], stdout)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "tablecast: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "tablecast %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
