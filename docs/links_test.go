package docs

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The rule this test enforces: the repository is its own reference. No
// Markdown file and no Go comment sends a reader outside it:
//
//   - A relative path (a Markdown link's target, or a ../ path written in
//     the text or a comment) must resolve inside the repository, and a
//     Markdown link's target must exist.
//   - Nothing names the folder "shared" beside the repository (the
//     specification and notes the project began from, which a clone does
//     not have) or another local
//     path outside the repository (/work/, /home/, /tmp/ in a link).
//   - A Markdown link (or autolink) to http(s) may only go to a local or
//     example address (localhost, 127.0.0.1, example.com and the like):
//     the reference of tablecast is here, not on a third party's site.
//     Bare URLs that are names rather than links (json0's type URI
//     http://sharejs.org/types/JSONv0, an SVG namespace, example origins)
//     may appear as text, and Go comments may cite standards by URL; neither
//     is the project's reference.

var (
	mdLink      = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	mdAutolink  = regexp.MustCompile(`<(https?://[^>\s]+)>`)
	mdRefDef    = regexp.MustCompile(`(?m)^\s*\[[^\]]+\]:\s*(\S+)`)
	upPath      = regexp.MustCompile(`(?:^|[\s(\x60"'])((?:\.\./)+[A-Za-z0-9_.\-/]*)`)
	localAbs    = regexp.MustCompile(`(?:^|[\s(\x60"'])(/(?:work|home|Users|root)/[A-Za-z0-9_.\-/]+)`)
	sharedName  = regexp.MustCompile(`\.\./shared\b|\bshared/(?:spec|notes|seeds)/`)
	localHosts  = regexp.MustCompile(`^https?://(localhost|127\.0\.0\.\d+|\[::1\]|([a-z0-9-]+\.)*example\.(com|org|net))([:/]|$)`)
	skippedDirs = map[string]bool{".git": true, "node_modules": true, "dist": true, "bin": true, "screenshots": true}
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// inside reports whether target, relative to dir, resolves inside root.
func inside(root, dir, target string) (string, bool) {
	p := filepath.Clean(filepath.Join(dir, target))
	rel, err := filepath.Rel(root, p)
	return p, err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkText returns what breaks the rule in text, from file.
func checkText(root, file, text string, markdown bool) []string {
	var bad []string
	errorf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	dir := filepath.Dir(file)
	rel, _ := filepath.Rel(root, file)
	if m := sharedName.FindString(text); m != "" {
		errorf("%s names %q, a folder outside the repository", rel, m)
	}
	for _, m := range upPath.FindAllStringSubmatch(text, -1) {
		if _, ok := inside(root, dir, m[1]); !ok {
			errorf("%s: %q leads outside the repository", rel, m[1])
		}
	}
	for _, m := range localAbs.FindAllStringSubmatch(text, -1) {
		errorf("%s: %q is a local path outside the repository", rel, m[1])
	}
	if !markdown {
		return bad
	}
	var targets []string
	for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
		targets = append(targets, m[1])
	}
	for _, m := range mdRefDef.FindAllStringSubmatch(text, -1) {
		targets = append(targets, m[1])
	}
	for _, m := range mdAutolink.FindAllStringSubmatch(text, -1) {
		targets = append(targets, m[1])
	}
	for _, target := range targets {
		switch {
		case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"):
			if !localHosts.MatchString(target) {
				errorf("%s links to %s: the reference must stay in the repository", rel, target)
			}
		case strings.HasPrefix(target, "#"), strings.HasPrefix(target, "mailto:"):
		case strings.Contains(target, "://"):
			errorf("%s links to %s", rel, target)
		default:
			path, _, _ := strings.Cut(target, "#")
			if path == "" {
				continue
			}
			p, ok := inside(root, dir, path)
			if !ok {
				errorf("%s links to %s, outside the repository", rel, target)
				continue
			}
			if _, err := os.Stat(p); err != nil {
				errorf("%s links to %s, which does not exist", rel, target)
			}
		}
	}
	return bad
}

// TestNoLinkLeavesTheRepository applies the rule above to every Markdown
// file and every Go comment of the repository.
func TestNoLinkLeavesTheRepository(t *testing.T) {
	root := repoRoot(t)
	var mdFiles, goFiles int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (skippedDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(path, ".md"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			mdFiles++
			for _, msg := range checkText(root, path, string(b), true) {
				t.Error(msg)
			}
		case strings.HasSuffix(path, ".go"):
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			goFiles++
			for _, cg := range f.Comments {
				for _, c := range cg.List {
					for _, msg := range checkText(root, path, c.Text, false) {
						t.Error(msg)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if mdFiles < 5 || goFiles < 100 {
		t.Fatalf("checked %d Markdown and %d Go files: is the root right?", mdFiles, goFiles)
	}
}

// TestLinkRuleCatchesEscapes: the checks find what they are meant to.
func TestLinkRuleCatchesEscapes(t *testing.T) {
	root := repoRoot(t)
	for _, tt := range []struct {
		text     string
		markdown bool
	}{
		{"see `../shared/spec/http-api.md`", true},
		{"[spec](../../outside.md)", true},
		{"[docs](https://baserow.io/docs)", true},
		{"<https://github.com/share/sharedb>", true},
		{"[gone](docs/no-such-file.md)", true},
		{"// as in ../../../elsewhere/x.go", false},
		{"read /work/shared/spec/config.md", false},
	} {
		if len(checkText(root, filepath.Join(root, "README.md"), tt.text, tt.markdown)) == 0 {
			t.Errorf("%q passed the link rule", tt.text)
		}
	}
	for _, ok := range []string{"[ops](docs/operations.md#several-nodes)", "<http://localhost:3000/>", "http://sharejs.org/types/JSONv0 is json0's name", "[x](#a-quick-tour)"} {
		if bad := checkText(root, filepath.Join(root, "README.md"), ok, true); len(bad) > 0 {
			t.Errorf("%q failed the link rule: %v", ok, bad)
		}
	}
}
