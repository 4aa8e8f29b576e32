package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoBuiltinPrint: no shipped code calls the builtins print or println.
// They write to the process's stderr, past the structured log, and are
// what a debugging session leaves behind (one did, in internal/gcpace,
// printing a line after every garbage collection). Tests may use them.
func TestNoBuiltinPrint(t *testing.T) {
	root := filepath.Join("..", "..")
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		calls, err := builtinPrints(path)
		if err != nil {
			return err
		}
		found = append(found, calls...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("builtin print call: %s (log through slog, or write to an io.Writer the caller gives)", f)
	}
}

// builtinPrints parses one file and returns the positions of its calls to
// the builtins print and println: identifiers of that name the parser did
// not resolve to a declaration in the file.
func builtinPrints(path string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return nil, err
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			// Obj (deprecated in favour of go/types) is enough: the file is the scope that matters.
			if id, ok := call.Fun.(*ast.Ident); ok && (id.Name == "print" || id.Name == "println") && id.Obj == nil {
				out = append(out, fset.Position(call.Pos()).String())
			}
		}
		return true
	})
	return out, nil
}

// TestNoBuiltinPrintSeesOne: the check finds a call in a file made for the
// purpose, and not one to a function of that name the file declares.
func TestNoBuiltinPrintSeesOne(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"bad.go":  "package x\n\nfunc f() { println(\"pace\", 1) }\n",
		"good.go": "package x\n\nfunc print(...any) {}\n\nfunc g() { print(1); println := func() {}; println() }\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := builtinPrints(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"bad.go": 1, "good.go": 0}[name]; len(got) != want {
			t.Errorf("%s: %d calls found %q, want %d", name, len(got), got, want)
		}
	}
}
