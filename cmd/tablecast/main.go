// Command tablecast is the real-time server for table databases. This file and
// its siblings only parse the command line and wire packages together.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `tablecast: real-time collaboration for table databases

usage:
  tablecast serve [flags]      run the server (--dev for a local, insecure setup)
  tablecast token --sub USER   print a JWT signed with the configured secret
  tablecast bench SCENARIO     load-test a server (idle, fanout)
  tablecast migrate            apply the store's migrations and exit
  tablecast version            print version information

Run 'tablecast COMMAND --help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "token":
		err = token(args[1:], stdout)
	case "bench":
		err = bench(args[1:], stdout, stderr)
	case "migrate":
		err = migrate(args[1:], stdout)
	case "version", "--version", "-v":
		printVersion(stdout)
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
