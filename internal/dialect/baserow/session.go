package baserow

import (
	"context"
	"slices"
	"sync"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/dialect/admission"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/transport"
)

// session is one Baserow socket: its parser, identity, rate limit and the
// pages it holds. Feed is called by one reader at a time; the fields below
// mu are also touched by the hub (RevokedFrame, Closed).
//
// Lock order: session.mu -> pagesIndex.mu. No hub lock is held when the
// hub calls RevokedFrame or Closed.
type session struct {
	srv       *Server
	conn      *hub.Conn
	parser    transport.Parser
	userID    string // "" when anonymous
	anonymous bool

	mu     sync.Mutex
	pages  []*page // a few per socket: a slice costs less than a map
	closed bool    // the hub forgot the connection: no page may be added

	admission.Base // the socket's context, store deadline and admission
}

var (
	_ transport.Sink    = (*session)(nil)
	_ hub.Session       = (*session)(nil)
	_ hub.SessionCloser = (*session)(nil)
)

// Feed implements transport.Sink.
func (s *session) Feed(data []byte) error {
	s.conn.Touch()
	return s.parser.Feed(data, s.onMessage)
}

// ReadClosed implements transport.Sink.
func (s *session) ReadClosed(err error) { admission.ReadClosed(s.conn, err, nil) }

// DisconnectFrames implements hub.Session. Baserow's front end treats
// force_disconnect as a forced logout (its only use in Baserow is a
// password change ending the user's sessions) and reconnects on any close
// without it, re-adding its pages with the token it holds then. So the
// server's closes that a new socket mends (token expiry, shutdown, a slow
// consumer, a lapsed heartbeat, rate abuse) are the close frame alone;
// force_disconnect goes first only when an admin ended the user's
// connections, and never to an anonymous socket (a public view's visitor
// has no login to be sent to).
func (s *session) DisconnectFrames(d hub.Disconnect) []byte {
	closeFrame := transport.CloseFrame(ws.StatusCode(d.Code), d.Reason)
	if d.Code != hub.DisconnectKicked.Code || s.anonymous {
		return closeFrame
	}
	return append(forceDisconnectFrame(ReasonDisconnected), closeFrame...)
}

// RevokedFrame implements hub.Session: the page lost (its member removed,
// its view made private) is discarded.
func (s *session) RevokedFrame(collection, document string) []byte {
	s.mu.Lock()
	var gone *page
	for i, p := range s.pages {
		if p.collection == collection && p.document == document {
			gone = p
			gone.told = gone.added
			s.pages = append(s.pages[:i], s.pages[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if gone == nil {
		return nil // already removed by the client
	}
	s.srv.render.release(gone)
	name := gone.typ.name()
	return pageFrame(TypePageDiscard, &name, gone.echo, "")
}

// Closed implements hub.SessionCloser: the socket's context ends and its
// pages are no longer counted.
func (s *session) Closed() {
	s.End()
	s.mu.Lock()
	pages := s.pages
	s.pages, s.closed = nil, true
	s.mu.Unlock()
	if !s.anonymous {
		s.srv.untrack(s)
	}
	for _, p := range pages {
		s.srv.render.release(p)
	}
}

func (s *session) onMessage(m transport.Message) error {
	switch v, err := s.Admit(m, s.conn.Send); v {
	case admission.Handled:
		return err
	case admission.Binary:
		s.srv.hub.CountIn("binary")
		return nil // not a message of this protocol: no effect
	}
	msg := decodeMessage(m.Payload)
	kind := messageKind(msg)
	s.srv.hub.CountIn(kind)
	if ok, abuse := s.Allow(); !ok {
		if abuse != nil {
			return abuse
		}
		if kind == "page_add" {
			s.refusePage(msg, errorWordPage(ErrWordRateLimited))
		}
		return nil
	}
	ctx, cancel := s.StoreContext()
	defer cancel()
	switch kind {
	case "page_add":
		s.addPage(ctx, msg)
	case "remove_page":
		s.removePage(ctx, msg)
	case TypeReplayEvents:
		s.replay(ctx, msg, "last_seen_id", replayResultFrame)
	case TypeRealtimeSubscribe:
		key := "last_seen_id"
		if !msg.present(key) {
			key = "last_event_id"
		}
		s.replay(ctx, msg, key, realtimeSubscribeResultFrame)
	}
	// Anything else (not JSON, unknown keys) has no effect, as in Baserow.
	return nil
}

// messageKind names a message for the messages_in metric and dispatch.
func messageKind(m message) string {
	switch {
	case m == nil:
		return "invalid"
	case m.present("page"):
		return "page_add"
	case m.present("remove_page"):
		return "remove_page"
	}
	if t, _ := m.str("type"); t == TypeReplayEvents || t == TypeRealtimeSubscribe {
		return t
	}
	return "unknown"
}

func errorWordPage(word string) error { return &pageError{word} }

// refusePage answers page_add_failed with the page's name and parameters
// as far as they can be read.
func (s *session) refusePage(m message, err error) {
	var name *string
	var echo []byte
	if n, ok := m.str("page"); ok {
		name = &n
		if typ := pageTypes[n]; typ != nil {
			p := &page{typ: typ}
			typ.parse(m, p)
			echo = p.echo
		}
	}
	if echo == nil {
		echo = []byte("{}")
	}
	s.conn.Send(pageFrame(TypePageAddFailed, name, echo, errorWord(err)))
}

func (s *session) env() pageEnv {
	return pageEnv{store: s.srv.cfg.Store, userID: s.userID, anonymous: s.anonymous}
}

// find returns the page held under key.
func (s *session) find(key string) *page {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.pages, func(p *page) bool { return p.key == key }); i >= 0 {
		return s.pages[i]
	}
	return nil
}

// take removes p from the pages held and reports whether it was there.
func (s *session) take(p *page) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.pages, p)
	if i < 0 {
		return false
	}
	s.pages = slices.Delete(s.pages, i, i+1)
	return true
}

// holds reports whether p is still among the pages held.
func (s *session) holds(p *page) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.pages, p)
}

// hold adds p to the pages held and counts it; false once closed. It
// counts under mu, so that Closed, which releases what it finds held,
// never releases a page before it was counted.
func (s *session) hold(p *page) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.pages = append(s.pages, p)
	s.srv.render.hold(p)
	return true
}

// drop ends a page the socket holds: its subscription and its count.
func (s *session) drop(ctx context.Context, p *page) bool {
	if !s.take(p) {
		return false
	}
	s.srv.hub.Unsubscribe(ctx, s.conn, p.collection, p.document)
	s.srv.render.release(p)
	return true
}
