// Package sharedbtest runs the ShareDB acceptance suite: the unmodified
// sharedb npm client, at its newest major (sharedb) and at 4.x (sharedb4,
// the version Teable pins), driven from Node (acceptance.test.js) against
// a tablecast node started here, on SQLite and, when TABLECAST_TEST_POSTGRES
// is set, on PostgreSQL.
//
// The Node dependencies are installed with `npm ci` in this folder (.ci/run
// does it). Without node or them the test is skipped with a message, and
// fails under CI=true.
package sharedbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/server"
	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
)

const testSecret = "sharedb-acceptance-secret"

// TestMain checks that the nodes the tests start leave nothing running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The client packages: the newest major and 4.x (npm aliases in
// package.json, exact versions in package-lock.json).
var clients = []string{"sharedb", "sharedb4"}

// The suites: the protocol (acceptance), values and acks (values), and
// ops built by Teable's own op builders (teable).
var suites = []string{"acceptance.test.js", "values.test.js", "teable.test.js"}

func TestShareDBClient(t *testing.T) {
	if testing.Short() {
		t.Skip("the ShareDB acceptance suite runs Node: not in -short")
	}
	dir := suiteDir(t)
	t.Run("sqlite", func(t *testing.T) {
		runSuites(t, dir, "sqlite://:memory:", clients)
	})
	t.Run("postgres", func(t *testing.T) {
		runSuites(t, dir, pgtest.FreshDatabase(t), clients[:1])
	})
}

// suiteDir returns this folder once node and the npm dependencies are
// there; otherwise it skips (fails under CI).
func suiteDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else {
		for _, pkg := range append([]string{"ws", "reconnecting-websocket", "@teable/core"}, clients...) {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
				missing = "node_modules/" + pkg + " is missing"
				break
			}
		}
	}
	if missing != "" {
		msg := "ShareDB acceptance suite not run: " + missing + ": run `cd test/sharedb && npm ci`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// runSuites starts a node on the database and runs the suite once per
// client package.
func runSuites(t *testing.T, dir, dbURL string, pkgs []string) {
	base := startNode(t, dbURL)
	tokens := map[string]string{}
	for _, user := range []string{"alice", "bob", "carol"} {
		tok, err := auth.Sign([]byte(testSecret), auth.Claims{Subject: user, Name: user}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		tokens[user] = tok
	}
	tokJSON, err := json.Marshal(tokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		t.Run(pkg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", append([]string{"--test", "--test-reporter=spec"}, suites...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(),
				"TABLECAST_HTTP="+base,
				"TABLECAST_TOKENS="+string(tokJSON),
				"SHAREDB_PKG="+pkg,
				"NO_COLOR=1",
			)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if err != nil {
				t.Fatalf("the ShareDB suite failed with %s (%v):\n%s", pkg, err, out.String())
			}
			t.Logf("%s:\n%s", pkg, summary(out.String()))
		})
	}
}

// summary keeps the suite's result lines.
func summary(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "✔") || strings.HasPrefix(l, "✖") || strings.HasPrefix(l, "ℹ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// startNode starts a node on 127.0.0.1 and stops it when the test ends.
func startNode(t *testing.T, dbURL string) string {
	t.Helper()
	args := []string{"--jwt-secret", testSecret, "--node-id", "sharedb-acceptance", "--database-url", dbURL,
		"--connect-rate", "off"}
	cfg, err := config.Load(args, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.Load(%q): %v", args, err)
	}
	node, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(context.Background(), ln); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			t.Errorf("node shutdown: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
