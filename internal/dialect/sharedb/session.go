package sharedb

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/dialect/admission"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/stream"
	"github.com/tablecast/tablecast/internal/transport"
)

// session is one ShareDB socket. Feed is called by one reader at a time:
// the fields before subMu are the reader's. The query workers share the
// subscriptions and the live queries with it, and the hub calls
// RevokedFrame and Closed from its own goroutines.
//
// Lock order: subMu -> mu. subMu serialises this socket's hub subscription
// changes (reader and workers); mu guards the maps, briefly, never across
// a call out of the package. The hub never takes subMu.
type session struct {
	srv    *Server
	conn   *hub.Conn
	parser transport.Parser
	claims *auth.Claims
	userID string

	src string // ShareDB's client id: the hs id, kept across reconnects

	admission.Base // the socket's context, store deadline and admission

	subMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	docs     map[docKey]collection // document subscriptions
	colSubs  map[string]*colSub    // collection subscriptions (live queries), by spelling
	queries  map[string]*liveQuery // live queries by id
	presence map[string]bool       // presence channels subscribed
	channels map[string]time.Time  // presence channels one may publish on, until when
	owed     map[docKey]owedAck    // acks that ops' broadcasts are to be (submit.go)
}

// docKey is a document subscription: the collection as spelled and the id.
type docKey struct {
	col string
	id  string
}

// colSub is a collection subscription shared by the socket's live queries
// of one collection.
type colSub struct {
	c     collection
	users int
}

var (
	_ transport.Sink    = (*session)(nil)
	_ hub.Session       = (*session)(nil)
	_ hub.SessionCloser = (*session)(nil)
)

func newSession(s *Server, claims *auth.Claims, src string) *session {
	sess := &session{
		srv:      s,
		claims:   claims,
		userID:   claims.Subject,
		src:      src,
		docs:     make(map[docKey]collection),
		colSubs:  make(map[string]*colSub),
		queries:  make(map[string]*liveQuery),
		presence: make(map[string]bool),
		channels: make(map[string]time.Time),
		owed:     make(map[docKey]owedAck),
	}
	sess.Base = s.cfg.NewBase()
	sess.parser.MaxMessage = int64(s.cfg.MaxMessageSize)
	return sess
}

// initMessage is init (on connect) or the hs reply.
func (s *session) initMessage(action string) map[string]any {
	return map[string]any{"a": action, "protocol": protocolMajor, "protocolMinor": protocolMinor, "id": s.src, "type": typeJSON0}
}

// Feed implements transport.Sink.
func (s *session) Feed(data []byte) error {
	s.conn.Touch()
	return s.parser.Feed(data, s.onMessage)
}

// ReadClosed implements transport.Sink.
func (s *session) ReadClosed(err error) {
	admission.ReadClosed(s.conn, err, func() []byte {
		return errorReply(nil, errorf(CodeTooLarge, "message larger than the maximum message size"))
	})
}

// DisconnectFrames implements hub.Session: ShareDB has no goodbye message,
// so only the close frame with the code (4000-4999 as the native
// protocol's) tells the client why.
func (s *session) DisconnectFrames(d hub.Disconnect) []byte {
	return transport.CloseFrame(ws.StatusCode(d.Code), d.Reason)
}

// RevokedFrame implements hub.Session: the hub ended a subscription because
// the user may no longer see it. ShareDB has no message for that (and an
// error a client's doc or query has no listener for would throw in the
// application), so the subscription ends silently; its live queries stop.
// The acks its ops' broadcasts were to be are sent instead.
func (s *session) RevokedFrame(hubCol, document string) []byte {
	var release []collection
	var stop []*liveQuery
	s.mu.Lock()
	clear(s.channels) // permissions changed: check presence channels anew
	switch {
	case document != "" && len(hubCol) > len(docsPrefix) && hubCol[:len(docsPrefix)] == docsPrefix:
		k := docKey{col: hubCol[len(docsPrefix):], id: document}
		if c, ok := s.docs[k]; ok {
			delete(s.docs, k)
			release = append(release, c)
		}
	case len(hubCol) > len(docsPrefix) && hubCol[:len(docsPrefix)] == docsPrefix:
		name := hubCol[len(docsPrefix):]
		if cs, ok := s.colSubs[name]; ok {
			delete(s.colSubs, name)
			release = append(release, cs.c)
		}
		for id, q := range s.queries {
			if q.col.name == name {
				delete(s.queries, id)
				stop = append(stop, q)
			}
		}
	case len(hubCol) > len(presencePrefix) && hubCol[:len(presencePrefix)] == presencePrefix:
		delete(s.presence, hubCol[len(presencePrefix):])
	}
	acks := s.unowedLocked()
	s.mu.Unlock()
	for _, c := range release {
		s.srv.render.hold(c, -1)
	}
	for _, q := range stop {
		s.srv.live.remove(q)
	}
	return acks
}

// Closed implements hub.SessionCloser: the hub has dropped the socket's
// subscriptions; what this package counted for them is released.
func (s *session) Closed() {
	s.End()
	s.mu.Lock()
	s.closed = true
	var release []collection
	for _, c := range s.docs {
		release = append(release, c)
	}
	for _, cs := range s.colSubs {
		release = append(release, cs.c)
	}
	queries := s.queries
	s.docs, s.colSubs, s.queries, s.owed = nil, nil, nil, nil
	s.mu.Unlock()
	for _, c := range release {
		s.srv.render.hold(c, -1)
	}
	for _, q := range queries {
		s.srv.live.remove(q)
	}
}

func (s *session) onMessage(m transport.Message) error {
	switch v, err := s.Admit(m, s.conn.Send); v {
	case admission.Handled:
		return err
	case admission.Binary:
		s.srv.hub.CountIn("invalid")
		s.conn.Send(errorReply(nil, errorf(CodeBadMessage, "binary frames are not supported: send JSON text frames")))
		return nil
	}
	in, err := decode(m.Payload)
	s.srv.hub.CountIn(metricAction(in, err))
	if ok, abuse := s.Allow(); !ok {
		if abuse != nil {
			return abuse
		}
		s.conn.Send(errorReply(in, errorf(CodeRateLimited, "rate limit exceeded")))
		return nil
	}
	if err != nil {
		s.replyError(in, err)
		return nil
	}
	if err := s.dispatch(in); err != nil {
		s.replyError(in, err)
	}
	return nil
}

// replyError answers a request that failed: a protoError as it is, anything
// else as an unknown error (its cause goes to the log, never the client).
func (s *session) replyError(in *inbound, err error) {
	var pe *protoError
	if !errors.As(err, &pe) {
		if errors.Is(err, context.Canceled) && s.Context().Err() != nil {
			return // the socket is gone
		}
		s.srv.log.Error("sharedb request failed", "conn", s.conn.ID(), "err", err)
		pe = errorf(CodeUnknown, "internal error")
	}
	s.conn.Send(errorReply(in, pe))
}

func (s *session) send(v any) { s.conn.Send(frameOf(v)) }

func (s *session) dispatch(in *inbound) error {
	switch in.A {
	case actHandshake:
		return s.handshake(in)
	case actPing:
		s.send(map[string]string{"a": actPing})
		return nil
	case actFetch:
		return s.fetch(in)
	case actSubscribe:
		return s.subscribe(in)
	case actUnsubscribe:
		return s.unsubscribe(in)
	case actBulkFetch, actBulkSubscribe:
		return s.bulk(in)
	case actBulkUnsub:
		return s.bulkUnsubscribe(in)
	case actOp:
		return s.submit(in)
	case actQueryFetch, actQuerySubscribe:
		return s.query(in)
	case actQueryUnsub:
		return s.queryUnsubscribe(in)
	case actSnapshotFetch, actSnapshotAtTime:
		return s.snapshotAt(in)
	case actPresence:
		return s.presenceUpdate(in)
	case actPresenceSub:
		return s.presenceSubscribe(in)
	case actPresenceUnsub:
		return s.presenceUnsubscribe(in)
	case actPresenceReq:
		return s.presenceRequest(in)
	}
	return errorf(CodeBadMessage, "invalid or unknown message")
}

// handshake answers hs. A client that reconnects sends the id it was given
// before: it stays its src, so that its resent ops are recognised.
func (s *session) handshake(in *inbound) error {
	if !isNull(in.ID) {
		var id string
		if err := jsonUnmarshal(in.ID, &id); err != nil || !validID(id) {
			return errorf(CodeBadMessage, "invalid id: want a string of 1 to 128 printable characters")
		}
		s.src = id
	}
	s.send(s.initMessage(actHandshake))
	return nil
}

// validID reports whether s may be a client id or a presence id: 1 to 128
// bytes, no control characters.
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// target reads the c of a request about store documents.
func (s *session) target(in *inbound) (collection, error) {
	if in.C == nil {
		return collection{}, errorf(CodeBadMessage, "invalid collection")
	}
	c, ok := parseCollection(*in.C)
	if !ok {
		return collection{}, errorf(CodeUnknownCollection, "unknown collection "+quoteForMessage(*in.C)+
			": the collections are record_T, field_T, view_T, table_W (or rec_T, fld_T, viw_T, tbl_W)")
	}
	return c, nil
}

// docTarget reads c and d of a request about one document.
func (s *session) docTarget(in *inbound) (collection, string, error) {
	c, err := s.target(in)
	if err != nil {
		return collection{}, "", err
	}
	if in.D == nil || *in.D == "" || len(*in.D) > maxIDLen {
		return collection{}, "", errorf(CodeBadMessage, "invalid id")
	}
	return c, *in.D, nil
}

// docVersion reads c, d and v of a request about one document at a
// version (f, s, op); hasV is false when v is null or absent.
func (s *session) docVersion(in *inbound) (c collection, d string, v int64, hasV bool, err error) {
	if c, d, err = s.docTarget(in); err != nil {
		return collection{}, "", 0, false, err
	}
	if v, hasV, err = version(in.V, "version"); err != nil {
		return collection{}, "", 0, false, err
	}
	return c, d, v, hasV, nil
}

// position is the point after a read at offset: what follows it comes from
// the stream.
func (s *session) position(offset uint64) *stream.Position {
	return &stream.Position{Offset: offset, Epoch: s.srv.cfg.EventEpoch}
}

// hubError maps a hub subscribe failure.
func hubError(err error) error {
	switch {
	case errors.Is(err, hub.ErrTooManySubscriptions):
		return errorf(CodeTooMany, "too many subscriptions on this connection")
	case errors.Is(err, hub.ErrClosed):
		return errorf(CodeUnknown, "server shutting down")
	case errors.Is(err, hub.ErrUnavailable):
		return errorf(CodeUnavailable, "temporarily unavailable: retry in a second")
	}
	return err
}

// lost ends the socket when a subscription that was already answered
// cannot be kept (its hub subscription or a catch-up failed): ShareDB has
// no message to take back a reply, and a client's reconnection resubscribes
// its documents at their versions and its queries with their results, so
// it misses nothing. Never silence.
func (s *session) lost(what string, err error) {
	if errors.Is(err, context.Canceled) && s.Context().Err() != nil {
		return // the socket is gone
	}
	s.srv.log.Warn("sharedb "+what+" failed after its reply; the socket resumes", "conn", s.conn.ID(), "err", err)
	s.conn.Disconnect(hub.DisconnectLost)
}

// metricAction names a message for the messages_in metric without letting
// a client invent label values.
func metricAction(in *inbound, err error) string {
	if err != nil || in == nil {
		return "invalid"
	}
	switch in.A {
	case actHandshake, actPing, actFetch, actSubscribe, actUnsubscribe, actBulkFetch, actBulkSubscribe,
		actBulkUnsub, actOp, actQueryFetch, actQuerySubscribe, actQueryUnsub, actSnapshotFetch,
		actSnapshotAtTime, actPresence, actPresenceSub, actPresenceUnsub, actPresenceReq:
		return "sharedb_" + in.A
	}
	return "unknown"
}
