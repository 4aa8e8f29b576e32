package baserow

import (
	"context"
	"strconv"
)

// viewPage is {"page":"view","slug":S,"token":K}: a public view's
// projection of its table's events (projection.go), for anyone, anonymous
// sockets included. A view with a password needs the token of
// POST /api/views/{slug}/public/auth.
type viewPage struct{}

func (viewPage) name() string { return "view" }

// maxSlug bounds a slug; the store's are 43 characters of base64url.
const maxSlug = 128

func validSlug(s string) bool {
	if len(s) == 0 || len(s) > maxSlug {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (viewPage) parse(m message, p *page) bool {
	var e echoParams
	slug, ok := m.str("slug")
	ok = ok && validSlug(slug)
	e.add(m, "slug", ok, func(w *buf) { w.str(slug) })
	token, hasToken := m.str("token")
	tokenOK := hasToken || !m.present("token")
	e.add(m, "token", hasToken, func(w *buf) { w.str(token) })
	p.echo = e.done()
	p.slug, p.token = slug, token
	p.key = "view:" + slug
	return ok && tokenOK
}

func (viewPage) authorize(ctx context.Context, env pageEnv, p *page) error {
	v, err := env.store.OpenPublicView(ctx, p.slug, p.token)
	if err := storeRefusal(err); err != nil {
		return err
	}
	p.tableID, p.viewID = v.TableID, v.ID
	p.collection = viewCollection(v.TableID)
	p.document = strconv.FormatInt(v.ID, 10)
	return nil
}
