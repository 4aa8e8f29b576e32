package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/docs"
	"github.com/tablecast/tablecast/internal/config"
)

// newTestNode builds a node (not started) from serve's flags.
func newTestNode(t *testing.T, opts Options, args ...string) *Node {
	t.Helper()
	args = append([]string{"--jwt-secret", "routes-test", "--api-key", "k", "--database-url", "sqlite://:memory:"}, args...)
	cfg, err := config.Load(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	return n
}

// notAPI are the routes the OpenAPI document leaves out: the web pages.
var notAPI = []string{"GET /{$}", "GET /admin", "GET /admin/{$}", "GET /static/{name}", "GET /static/tablecast/{name}"}

type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		Parameters []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		Responses map[string]any `json:"responses"`
	} `json:"paths"`
}

func readOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var d openAPIDoc
	if err := json.Unmarshal(docs.OpenAPI, &d); err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", d.OpenAPI)
	}
	return d
}

// operations are the document's "METHOD /path" (the ServeMux pattern
// without its {$}).
func (d openAPIDoc) operations() []string {
	var ops []string
	for path, methods := range d.Paths {
		for m := range methods {
			ops = append(ops, strings.ToUpper(m)+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPIListsEveryRoute: every route a node registers (with and
// without the internal listener) is an operation of docs/openapi.json, and
// every operation there is a registered route.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	doc := readOpenAPI(t)
	ops := doc.operations()
	for _, internal := range []bool{false, true} {
		var args []string
		if internal {
			args = []string{"--internal-listen", "127.0.0.1:1"} // never started
		}
		n := newTestNode(t, Options{}, args...)
		registered := map[string]bool{}
		for _, r := range n.Routes() {
			if !strings.Contains(r.Pattern, " ") || slices.Contains(notAPI, r.Pattern) {
				continue // a fallback for a prefix (404, 405), or a page
			}
			op := strings.Replace(r.Pattern, "{$}", "", 1)
			registered[op] = true
			if !slices.Contains(ops, op) {
				t.Errorf("internal=%v: the route %q (%s) is not in docs/openapi.json", internal, r.Pattern, r.Listener)
			}
		}
		for _, op := range ops {
			if !registered[op] {
				t.Errorf("internal=%v: docs/openapi.json has %q, which no route serves", internal, op)
			}
		}
	}
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// TestOpenAPIPathsAreServed sends a request for every operation of the
// document, its path parameters filled in, to the node's routes: each
// reaches the route of its own pattern on the listener the document says
// (the admin API, /readyz and /metrics on the internal one when set).
func TestOpenAPIPathsAreServed(t *testing.T) {
	doc := readOpenAPI(t)
	internalOnly := func(path string) bool {
		return path == "/readyz" || path == "/metrics" || (strings.HasPrefix(path, "/api/ws/") && path != "/api/ws/socket")
	}
	for _, internal := range []bool{false, true} {
		var args []string
		if internal {
			args = []string{"--internal-listen", "127.0.0.1:1"}
		}
		n := newTestNode(t, Options{}, args...)
		for path, methods := range doc.Paths {
			for method, op := range methods {
				declared := map[string]bool{}
				for _, p := range op.Parameters {
					if p.In == "path" {
						declared[p.Name] = true
					}
				}
				for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
					if !declared[m[1]] {
						t.Errorf("%s %s: path parameter %q is not declared", method, path, m[1])
					}
				}
				if len(op.Responses) == 0 {
					t.Errorf("%s %s: no responses", method, path)
				}
				target := pathParam.ReplaceAllString(path, "7")
				req := httptest.NewRequest(strings.ToUpper(method), target, nil)
				mux := n.publicMux
				if internal && internalOnly(path) {
					mux = n.internalMux
				}
				_, pattern := mux.Handler(req)
				if got := strings.Replace(pattern, "{$}", "", 1); got != strings.ToUpper(method)+" "+path {
					t.Errorf("internal=%v: %s %s reaches the route %q", internal, strings.ToUpper(method), target, pattern)
				}
				if internal && internalOnly(path) {
					if _, p := n.publicMux.Handler(req); p == pattern {
						t.Errorf("%s %s is still served on the public listener with an internal one", method, target)
					}
				}
			}
		}
	}
}

// TestOpenAPIRefsResolve: every $ref of the document names a component
// that exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc any
	if err := json.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.(map[string]any)
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				var at any = root
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, ok := at.(map[string]any)
					if !ok || m[part] == nil {
						t.Errorf("$ref %q does not resolve", ref)
						return
					}
					at = m[part]
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(root)
	if refs < 50 {
		t.Fatalf("only %d $refs: is the document whole?", refs)
	}
}

// TestOpenAPIServed: GET /api/openapi.json answers the embedded document.
func TestOpenAPIServed(t *testing.T) {
	n := newTestNode(t, Options{})
	rec := httptest.NewRecorder()
	n.http.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != string(docs.OpenAPI) {
		t.Fatalf("status %d, type %q, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}
