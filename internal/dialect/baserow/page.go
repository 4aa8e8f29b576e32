package baserow

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
)

// The collections of the pages (see the package doc). '/' is outside the
// names native clients and the admin API accept, so no app channel can
// take one of them.
const (
	tablePrefix = "br/table/"
	rowPrefix   = "br/row/"
	viewPrefix  = "br/view/"
)

func tableCollection(t int64) string { return tablePrefix + strconv.FormatInt(t, 10) }
func rowCollection(t int64) string   { return rowPrefix + strconv.FormatInt(t, 10) }
func viewCollection(t int64) string  { return viewPrefix + strconv.FormatInt(t, 10) }

// StreamOf names the stream of one of the dialect's collections: table:T
// for br/table/T, br/row/T and br/view/T, workspace:W for br/ws/W. The server joins it to the table
// store's hub.ExternalStreams.
func StreamOf(collection string) (string, bool) {
	if w, ok := workspaceOfCollection(collection); ok {
		return "workspace:" + strconv.FormatInt(w, 10), true
	}
	t, ok := collectionTable(collection)
	if !ok {
		return "", false
	}
	return "table:" + strconv.FormatInt(t, 10), true
}

// collectionTable reads the table id of one of the dialect's collections.
func collectionTable(collection string) (int64, bool) {
	rest, ok := strings.CutPrefix(collection, "br/")
	if !ok {
		return 0, false
	}
	kind, id, ok := strings.Cut(rest, "/")
	if !ok || (kind != "table" && kind != "row" && kind != "view") {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return 0, false
	}
	return n, true
}

// pageType is one kind of page: the parameters it reads, who may add it,
// and the hub channel that carries its events. A new page type is one
// file that implements it and one entry in pageTypes.
type pageType interface {
	// name is the page's name on the wire ("table").
	name() string
	// parse reads the page's parameters from a message: only the keys the
	// page lists, a missing one being null. It always fills p.echo (the
	// parameters as page_add and page_discard repeat them) and p.key (what
	// remove_page matches), and reports whether the parameters are usable.
	parse(m message, p *page) bool
	// authorize checks that the socket may hold the page and fills in the
	// channel (p.collection, p.document) and the ids the renderer needs.
	authorize(ctx context.Context, env pageEnv, p *page) error
}

// pageTypes is the registry of pages, by wire name.
var pageTypes = map[string]pageType{
	tablePage{}.name(): tablePage{},
	rowPage{}.name():   rowPage{},
	viewPage{}.name():  viewPage{},
}

// pageEnv is what a page type's authorize may use.
type pageEnv struct {
	store     Store
	userID    string // "" for an anonymous socket
	anonymous bool
}

// page is one page a socket holds (or asks for).
type page struct {
	typ  pageType
	key  string // type name and identity: "table:7", "row:7/9", "view:<slug>"
	echo []byte // the parameters as a JSON object

	tableID int64
	rowID   int64  // row pages
	viewID  int64  // view pages
	slug    string // view pages
	token   string // view pages: the token given, to check again

	collection string
	document   string

	// Under the session's mu: added, the page's page_add is queued (its
	// subscription was made), so a page_discard sent from then on follows
	// it; told, a revocation sent page_discard after that (recheck need
	// not send another).
	added, told bool
}

// echoParams writes the parameters object: each key with the value read
// (a normalised id, a string) or, when it could not be read, what the
// client sent (null when nothing).
type echoParams struct{ w buf }

func (e *echoParams) add(m message, key string, ok bool, write func(w *buf)) {
	if len(e.w.b) == 0 {
		e.w.raw("{")
	} else {
		e.w.raw(",")
	}
	e.w.str(key)
	e.w.raw(":")
	switch raw, sent := m[key]; {
	case ok:
		write(&e.w)
	case sent && len(raw) > 0:
		e.w.bytes(raw)
	default:
		e.w.raw("null")
	}
}

func (e *echoParams) done() []byte {
	if len(e.w.b) == 0 {
		return []byte("{}")
	}
	e.w.raw("}")
	return e.w.b
}

// storeRefusal maps a Store error to the page's refusal; other errors are
// the server's.
func storeRefusal(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, event.ErrNotFound):
		return errNotFound
	case errors.Is(err, event.ErrForbidden), errors.Is(err, event.ErrUnauthorized):
		return errForbidden
	}
	return err
}
