// Package web serves tablecast's browser pages from files embedded in the
// binary: the live grid at / and the admin dashboard at /admin. Nothing is
// fetched from anywhere else; the pages are plain JavaScript modules that
// talk to the REST API and the native socket with the client of clients/js.
package web

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	jsclient "github.com/tablecast/tablecast/clients/js"
)

// The JavaScript client is served from clients/js: its entry module as
// /static/tablecast.js, the parts it imports as /static/tablecast/{name}.
const clientFile = "tablecast.js"

//go:embed static
var files embed.FS

// Static returns the embedded files but the client (tests read them).
func Static() fs.FS {
	sub, _ := fs.Sub(files, "static")
	return sub
}

// contentSecurityPolicy keeps the pages to their own origin: scripts and
// styles from /static only, sockets and API calls to this server.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Register mounts the pages on mux: GET /, GET /admin and GET /static/.
// Other paths stay with the API's routes.
func Register(mux Mux) {
	RegisterApp(mux)
	RegisterAdmin(mux)
	RegisterStatic(mux)
}

// RegisterApp mounts the table app's page, GET /.
func RegisterApp(mux Mux) {
	h := handler{fs: Static()}
	mux.Handle("GET /{$}", h.page("index.html"))
}

// RegisterAdmin mounts the admin dashboard's page, GET /admin.
func RegisterAdmin(mux Mux) {
	h := handler{fs: Static()}
	mux.Handle("GET /admin", h.page("admin.html"))
	mux.Handle("GET /admin/{$}", h.page("admin.html"))
}

// RegisterStatic mounts the files the pages load, GET /static/ (on each
// listener that serves a page).
func RegisterStatic(mux Mux) {
	h := handler{fs: Static(), client: true}
	mux.Handle("GET /static/{name}", http.HandlerFunc(h.asset))
	parts := handler{fs: jsclient.Parts()}
	mux.Handle("GET /static/tablecast/{name}", http.HandlerFunc(parts.asset))
}

type handler struct {
	fs fs.FS
	// client: the handler of /static/, which serves the client's entry
	// module as tablecast.js.
	client bool
}

func headers(w http.ResponseWriter, contentType string) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	// Deep links carry a token in the query string: never send it on.
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	// The files change with the binary, which has no build stamp to key a
	// long cache on: revalidate every time (they are small).
	hd.Set("Cache-Control", "no-cache")
}

func (h handler) page(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(h.fs, name)
		if err != nil {
			http.Error(w, "page missing from this build", http.StatusInternalServerError)
			return
		}
		headers(w, "text/html; charset=utf-8")
		_, _ = w.Write(b)
	})
}

func (h handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) || strings.HasSuffix(name, ".html") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.fs, name)
	if h.client && name == clientFile {
		b, err = jsclient.Module, nil
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	headers(w, ct)
	_, _ = w.Write(b)
}

// Mux is where the pages register (an *http.ServeMux).
type Mux interface {
	Handle(pattern string, handler http.Handler)
}
