package server

import (
	"net/http"
	"slices"

	"github.com/tablecast/tablecast/internal/httpapi"
)

// Route is one registered route: its ServeMux pattern and the listener
// that serves it ("public", or "internal" with TABLECAST_INTERNAL_LISTEN).
type Route struct {
	Listener string
	Pattern  string
}

// routeMux is a ServeMux that remembers its patterns, so that the node
// can list its routes (the OpenAPI test compares them with the document).
type routeMux struct {
	*http.ServeMux
	listener string
	routes   *[]Route
}

var _ httpapi.Mux = routeMux{}

func (m routeMux) Handle(pattern string, h http.Handler) {
	*m.routes = append(*m.routes, Route{Listener: m.listener, Pattern: pattern})
	m.ServeMux.Handle(pattern, h)
}

func (m routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Routes lists every route the node registered, in registration order.
func (n *Node) Routes() []Route { return slices.Clone(n.routes) }
