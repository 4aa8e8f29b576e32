package baserow

import (
	"context"
	"errors"

	"github.com/tablecast/tablecast/internal/hub"
)

// addPage answers {"page":...}: page_add once the page's subscription is
// in place, page_add_failed with an error word otherwise. Adding a page
// the socket holds answers page_add again.
//
// Permissions are checked before subscribing, and once more after: a
// member removed between the first check and the subscription (whose
// revocation found nothing to end yet) loses the page at once
// (page_discard).
func (s *session) addPage(ctx context.Context, m message) {
	name, ok := m.str("page")
	typ := pageTypes[name]
	if !ok || typ == nil {
		s.refusePage(m, errInvalid)
		return
	}
	p := &page{typ: typ}
	if !typ.parse(m, p) {
		s.conn.Send(pageFrame(TypePageAddFailed, &name, p.echo, ErrWordInvalid))
		return
	}
	if err := typ.authorize(ctx, s.env(), p); err != nil {
		s.failed(name, p, err)
		return
	}
	reply := func(hub.SubscribeResult) []byte { return pageFrame(TypePageAdd, &name, p.echo, "") }
	if held := s.find(p.key); held != nil {
		s.mu.Lock()
		held.token = p.token // a view page re-added with a newer token keeps it
		s.mu.Unlock()
		if _, err := s.srv.hub.Subscribe(ctx, s.conn, hub.SubscribeRequest{
			Collection: held.collection, Document: held.document, Reply: reply,
		}); err != nil {
			s.failed(name, p, err)
		}
		return
	}
	if !s.hold(p) {
		return // the socket is gone
	}
	if p.needsDefs() {
		if err := s.srv.render.defs.Ensure(ctx, p.tableID); err != nil {
			if s.take(p) {
				s.srv.render.release(p)
			}
			s.failed(name, p, err)
			return
		}
	}
	if _, err := s.srv.hub.Subscribe(ctx, s.conn, hub.SubscribeRequest{
		Collection: p.collection, Document: p.document, Reply: reply,
	}); err != nil {
		if s.take(p) {
			s.srv.render.release(p)
		}
		s.failed(name, p, err)
		return
	}
	s.recheck(ctx, p)
}

// recheck authorises a page again once its subscription exists, and ends
// it (page_discard) when it may no longer be held. A page revoked while
// it was being subscribed (whose page_discard may have gone before its
// page_add) gets page_discard again, after its page_add; one revoked since
// has had its page_discard, and gets no second.
func (s *session) recheck(ctx context.Context, p *page) {
	s.mu.Lock()
	p.added = true
	s.mu.Unlock()
	name := p.typ.name()
	again := page{typ: p.typ, key: p.key, tableID: p.tableID, rowID: p.rowID, slug: p.slug, token: p.token}
	err := p.typ.authorize(ctx, s.env(), &again)
	if err == nil && again.collection == p.collection && again.document == p.document {
		if !s.holds(p) && !s.told(p) {
			s.conn.Send(pageFrame(TypePageDiscard, &name, p.echo, ""))
		}
		return
	}
	if err != nil && errorWord(err) == ErrWordUnavailable {
		s.srv.log.Error("baserow: page re-check failed; the page is ended", "page", p.key, "err", err)
	}
	if s.drop(ctx, p) || !s.told(p) {
		s.conn.Send(pageFrame(TypePageDiscard, &name, p.echo, ""))
	}
}

// told reports whether a revocation sent p's page_discard after its
// page_add.
func (s *session) told(p *page) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.told
}

// failed answers page_add_failed; a failure of the server's own is logged
// and told as "unavailable".
func (s *session) failed(name string, p *page, err error) {
	switch {
	case errors.Is(err, hub.ErrTooManySubscriptions):
		err = errTooMany
	case errors.Is(err, hub.ErrClosed):
		err = errUnavailable
	}
	if errorWord(err) == ErrWordUnavailable && !errors.Is(err, errUnavailable) {
		s.srv.log.Error("baserow: page refused on a server failure", "page", p.key, "err", err)
	}
	s.conn.Send(pageFrame(TypePageAddFailed, &name, p.echo, errorWord(err)))
}

// removePage answers {"remove_page":...} with page_discard, whether or not
// the socket held the page; an unknown page or unusable parameters have no
// effect.
func (s *session) removePage(ctx context.Context, m message) {
	name, ok := m.str("remove_page")
	typ := pageTypes[name]
	if !ok || typ == nil {
		return
	}
	p := &page{typ: typ}
	if !typ.parse(m, p) {
		return
	}
	if held := s.find(p.key); held != nil {
		s.drop(ctx, held)
	}
	s.conn.Send(pageFrame(TypePageDiscard, &name, p.echo, ""))
}

// hold counts a page from just before its subscription is made.
func (r *Renderer) hold(p *page) { r.pages.change(p, +1) }

// release stops counting a page; the definitions of a table whose last
// table or view page went are forgotten.
func (r *Renderer) release(p *page) {
	r.pages.change(p, -1)
	if p.needsDefs() && !r.pages.rendersFor(p.tableID) {
		r.defs.Drop(p.tableID)
	}
}

// needsDefs reports whether the page's events are rendered with the
// table's definitions: table and view pages (row pages get no events).
func (p *page) needsDefs() bool {
	switch p.typ.(type) {
	case tablePage, viewPage:
		return true
	}
	return false
}
