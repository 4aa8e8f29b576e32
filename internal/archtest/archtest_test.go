package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tablecast/tablecast/"

// Groups of packages a rule names. A pattern is an import path, or a path
// ending in "/..." for the path and everything below it; module paths are
// written without the module's prefix ("internal/hub").
var (
	// databaseDrivers: SQL and the drivers the store uses.
	databaseDrivers = []string{"database/sql", "modernc.org/sqlite/...", "github.com/jackc/pgx/...", "github.com/lib/pq/..."}
	redisClient     = []string{"github.com/redis/go-redis/..."}
	// persistence: the table store and the service over it.
	persistence = []string{"internal/store/...", "internal/service/..."}
	// stdlibOnly, as a rule's only: nothing outside the standard library.
	stdlibOnly = []string{}
	// dialects: every package of the socket side.
	dialects = "internal/dialect/..."
)

// A rule says what a package (or packages, with "/...") may link.
type rule struct {
	pkg string
	// forbid: none of these in the package's dependencies, direct or not.
	forbid []string
	// only (when not nil): the package's dependencies outside the standard
	// library are these, and nothing else.
	only []string
	// importedOnlyBy: the only packages whose code imports pkg.
	importedOnlyBy []string
}

// rules are enforced: each line is one rule of docs/architecture.md.
var rules = []rule{
	{pkg: "internal/hub", only: []string{"internal/stream"}},
	{pkg: "internal/hub", forbid: slices.Concat(databaseDrivers, redisClient)},
	{pkg: "internal/hub/...", forbid: databaseDrivers},
	{pkg: dialects, forbid: redisClient},
	{pkg: dialects, forbid: databaseDrivers},
	{pkg: dialects, forbid: persistence},
	{pkg: "internal/event", only: []string{"internal/table", "internal/ot/json0", "internal/jsonscan"}},
	{pkg: "internal/stream", only: stdlibOnly},
	{pkg: "internal/table", only: stdlibOnly},
	{pkg: "internal/ot/json0", only: []string{"internal/jsonscan"}},
	{pkg: "internal/server", importedOnlyBy: []string{"cmd/...", "internal/bench/..."}},
}

// pending are rules the code does not keep yet, each with what breaks it.
// They are checked too: the test fails when one starts to hold, so that
// the change that makes it hold moves it to rules in the same commit.
var pending = []struct {
	rule
	why string
}{}

// pkg is what `go list -json` says of a package.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// load lists the module's packages and everything they depend on.
func load(t *testing.T) map[string]*pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(goBin, "list", "-deps", "-json", module+"...")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(&stdout)
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// matches reports whether an import path is named by a pattern.
func matches(pattern, path string) bool {
	for _, top := range []string{"cmd/", "internal/", "pkg/", "test/"} {
		if strings.HasPrefix(pattern, top) {
			pattern = module + pattern
			break
		}
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchesAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matches(p, path) })
}

// violations lists how the packages break r, one line each.
func (r rule) violations(pkgs map[string]*pkg) []string {
	var out []string
	var subjects []*pkg
	for _, p := range pkgs {
		if matches(r.pkg, p.ImportPath) {
			subjects = append(subjects, p)
		}
	}
	if len(subjects) == 0 {
		return []string{fmt.Sprintf("no package is named by %s", r.pkg)}
	}
	for _, p := range subjects {
		for _, d := range p.Deps {
			dep := pkgs[d]
			switch {
			case matchesAny(r.forbid, d):
				out = append(out, fmt.Sprintf("%s links %s", p.ImportPath, d))
			case r.only != nil && dep != nil && !dep.Standard && !matchesAny(r.only, d):
				out = append(out, fmt.Sprintf("%s links %s, which is not among %v and the standard library", p.ImportPath, d, r.only))
			}
		}
	}
	if r.importedOnlyBy != nil {
		for _, p := range pkgs {
			if matchesAny(r.importedOnlyBy, p.ImportPath) || matches(r.pkg, p.ImportPath) {
				continue
			}
			for _, imp := range p.Imports {
				if matches(r.pkg, imp) {
					out = append(out, fmt.Sprintf("%s imports %s; only %v may", p.ImportPath, imp, r.importedOnlyBy))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestImportRules: the module keeps the import rules of
// docs/architecture.md ("Layers and import rules"), and the pending ones are still
// broken (a pending rule that holds is moved to rules).
func TestImportRules(t *testing.T) {
	pkgs := load(t)
	for _, r := range rules {
		if v := r.violations(pkgs); len(v) > 0 {
			t.Errorf("rule %+v is broken:\n\t%s", r, strings.Join(v, "\n\t"))
		}
	}
	for _, p := range pending {
		if v := p.violations(pkgs); len(v) == 0 {
			t.Errorf("pending rule %+v now holds: move it to rules", p.rule)
		} else {
			t.Logf("pending rule %+v (%s): %d violations, the first: %s", p.rule, p.why, len(v), v[0])
		}
	}
}

// TestRulesSeeABreak: the check itself finds a violation, on packages made
// up for the purpose (a rule that can never fail proves nothing).
func TestRulesSeeABreak(t *testing.T) {
	pkgs := map[string]*pkg{
		module + "internal/hub":        {ImportPath: module + "internal/hub", Deps: []string{"context", module + "internal/stream", "github.com/redis/go-redis/v9"}},
		module + "internal/stream":     {ImportPath: module + "internal/stream", Deps: []string{"context"}},
		module + "internal/web":        {ImportPath: module + "internal/web", Imports: []string{module + "internal/server"}},
		module + "internal/server":     {ImportPath: module + "internal/server"},
		"context":                      {ImportPath: "context", Standard: true},
		"github.com/redis/go-redis/v9": {ImportPath: "github.com/redis/go-redis/v9"},
	}
	for _, tc := range []struct {
		rule rule
		want int
	}{
		{rules[0], 1},            // only stream: go-redis is not
		{rules[1], 1},            // no Redis client
		{rules[len(rules)-1], 1}, // internal/web imports internal/server
		{rule{pkg: "internal/stream", only: nil, forbid: redisClient}, 0},
	} {
		if got := tc.rule.violations(pkgs); len(got) != tc.want {
			t.Errorf("rule %+v: %d violations %q, want %d", tc.rule, len(got), got, tc.want)
		}
	}
}
