package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3". When it
// is not, the module's version from the build info is used: `go install
// github.com/tablecast/tablecast/cmd/tablecast@v1.2.3` records v1.2.3 there.
var version = ""

// versionCmd runs `tablecast version`.
func versionCmd(args []string, w io.Writer) error {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			fmt.Fprint(w, "usage: tablecast version\n\nPrints the version, the commit, the Go version and the platform.\n")
			return nil
		default:
			return fmt.Errorf("unexpected argument %q", a)
		}
	}
	printVersion(w)
	return nil
}

// moduleVersion is version when set by -ldflags, else the main module's
// version from the build info (a tagged `go install` gives v1.2.3, a
// build in a checkout gives "(devel)" or a pseudo-version), else "dev".
func moduleVersion(info *debug.BuildInfo, ok bool) string {
	if version != "" {
		return version
	}
	if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

func printVersion(w io.Writer) {
	commit, modified := "unknown", false
	info, ok := debug.ReadBuildInfo()
	if ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		commit += "+dirty"
	}
	fmt.Fprintf(w, "tablecast %s\ncommit %s\n%s %s/%s\n", moduleVersion(info, ok), commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
