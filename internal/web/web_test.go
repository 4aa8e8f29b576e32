package web

import (
	jsclient "github.com/tablecast/tablecast/clients/js"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPages(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api", http.StatusTeapot) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	cases := []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="/static/app.js">`},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/?token=x&table=3", 200, "text/html; charset=utf-8", `role="grid"`},
		{"GET", "/admin", 200, "text/html; charset=utf-8", `<script type="module" src="/static/admin.js">`},
		{"GET", "/admin/", 200, "text/html; charset=utf-8", "API key"},
		{"GET", "/static/app.js", 200, "text/javascript; charset=utf-8", "X-WebSocket-Id"},
		{"GET", "/static/admin.js", 200, "text/javascript; charset=utf-8", "/api/ws/stats"},
		{"GET", "/static/tableview.js", 200, "text/javascript; charset=utf-8", "export class TableView"},
		{"GET", "/static/ui.js", 200, "text/javascript; charset=utf-8", "export function toast"},
		{"GET", "/static/tablecast.js", 200, "text/javascript; charset=utf-8", string(jsclient.Module)}, // the client's entry
		{"GET", "/static/tablecast/errors.js", 200, "text/javascript; charset=utf-8", "export class TablecastError"},
		{"GET", "/static/tablecast/token.js", 200, "text/javascript; charset=utf-8", "export class TokenRenewal"},
		{"GET", "/static/tablecast/tablecast.js", 404, "", ""}, // the entry is not a part
		{"GET", "/static/tablecast/app.js", 404, "", ""},       // nor are the pages' files
		{"GET", "/static/errors.js", 404, "", ""},
		{"GET", "/static/app.css", 200, "text/css; charset=utf-8", "role=\"grid\""},
		{"GET", "/static/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/static/index.html", 404, "", ""},
		{"GET", "/static/missing.js", 404, "", ""},
		{"GET", "/static/..%2fweb.go", 404, "", ""},
		{"GET", "/static/", 404, "", ""},
		{"GET", "/nothing", 404, "", ""},
		{"POST", "/", 405, "", ""},
		{"GET", "/api/anything", 418, "", ""}, // API paths stay the API's
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, ct, tc.contentType)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s %s: body lacks %q", tc.method, tc.path, tc.contains)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s %s: no %s header", tc.method, tc.path, h)
			}
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("Referrer-Policy %q: a deep link's token could leak", got)
		}
	}
}

// TestNoExternalResources: the pages load nothing from other origins.
func TestNoExternalResources(t *testing.T) {
	check := func(path string, b []byte) {
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) && !(path == "favicon.svg" && bad == "http://") {
				t.Errorf("%s mentions %q", path, bad)
			}
		}
	}
	check(clientFile, jsclient.Module)
	parts, _ := fs.Glob(jsclient.Parts(), "*.js")
	if len(parts) == 0 {
		t.Fatal("the client has no parts embedded")
	}
	for _, name := range parts {
		b, _ := fs.ReadFile(jsclient.Parts(), name)
		check("tablecast/"+name, b)
		if !strings.Contains(string(jsclient.Module), "'./tablecast/"+name+"'") && !strings.Contains(partsText(parts), "'./"+name+"'") {
			t.Errorf("no module imports tablecast/%s", name)
		}
	}
	err := fs.WalkDir(Static(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Static(), path)
		if err != nil {
			return err
		}
		check(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// partsText is the client's parts' text, run together.
func partsText(names []string) string {
	var b strings.Builder
	for _, n := range names {
		t, _ := fs.ReadFile(jsclient.Parts(), n)
		b.Write(t)
	}
	return b.String()
}
