package native

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/dialect/admission"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/transport"
)

// session is one native connection: the parser of its frames, its identity
// and its rate limit. Feed is called by one reader at a time, so the fields
// below mu are only touched by the reader.
type session struct {
	srv    *Server
	conn   *hub.Conn
	tconn  *transport.Conn
	parser transport.Parser

	mu     sync.Mutex // guards claims (read by other goroutines through authorize), views and owed
	claims *auth.Claims
	views  map[string]pvSub      // the publicview_<slug> subscriptions, by that name
	owed   map[owedKey]*outbound // submit replies the stream brings (submit.go)

	admission.Base       // the socket's context, store deadline and admission
	lastLimited    int64 // unix nanos of the last 429 sent for a message without id
}

var _ transport.Sink = (*session)(nil)
var _ hub.Session = (*session)(nil)

// Feed implements transport.Sink.
func (s *session) Feed(data []byte) error {
	s.conn.Touch()
	return s.parser.Feed(data, s.onMessage)
}

// ReadClosed implements transport.Sink.
func (s *session) ReadClosed(err error) {
	admission.ReadClosed(s.conn, err, func() []byte {
		return s.errorFrame("", CodeTooLarge, "message larger than max_message_size")
	})
}

// DisconnectFrames implements hub.Session: a disconnect message for the
// application close codes (4000-4999), then the close frame.
func (s *session) DisconnectFrames(d hub.Disconnect) []byte {
	closeFrame := transport.CloseFrame(ws.StatusCode(d.Code), d.Reason)
	if d.Code < 4000 {
		return closeFrame
	}
	msg := encode(&outbound{
		Type:      TypeDisconnect,
		Data:      map[string]any{"code": d.Code, "reason": d.Reason, "reconnect": d.Reconnect},
		Timestamp: timestamp(s.srv.now()),
	})
	return append(msg, closeFrame...)
}

// RevokedFrame implements hub.Session: the unsubscribe, and the replies
// the revoked subscription was to bring.
func (s *session) RevokedFrame(collection, document string) []byte {
	if name, ok := s.publicViewName(collection, document); ok {
		collection, document = name, ""
	}
	return append(encode(&outbound{Type: TypeUnsubscribe, Collection: collection, Document: document,
		Data: map[string]string{"reason": "forbidden"}, Timestamp: timestamp(s.srv.now())}), s.unowed()...)
}

func (s *session) onMessage(m transport.Message) error {
	switch v, err := s.Admit(m, s.conn.Send); v {
	case admission.Handled:
		return err
	case admission.Binary:
		s.srv.hub.CountIn("binary")
		s.conn.Send(s.errorFrame("", CodeInvalid, "binary frames are not supported: send JSON text frames"))
		return nil
	}
	// Decoded before the rate limit, so that a refused request still gets a
	// reply with its id (a client waiting on that id is not left hanging).
	// Decoding is bounded by max_message_size.
	in, err := decode(m.Payload)
	s.srv.hub.CountIn(metricType(in, err))
	id := ""
	if in != nil {
		id = in.ID
	}
	if ok, abuse := s.Allow(); !ok {
		if abuse != nil {
			return abuse
		}
		// A request with an id is answered: its sender waits for that id.
		// Excess without an id is answered at most every 100 ms, so that a
		// flood is not mirrored frame for frame (a client flooding without
		// reading would bury its own disconnect under our answers).
		if now := s.srv.now().UnixNano(); id != "" || now-s.lastLimited >= int64(100*time.Millisecond) {
			s.lastLimited = now
			s.conn.Send(s.errorFrame(id, CodeRateLimited, "rate limit exceeded"))
		}
		return nil
	}
	if err != nil {
		s.reply(id, err)
		return nil
	}
	if err := s.dispatch(in); err != nil {
		if errors.Is(err, transport.ErrClientClose) {
			return err
		}
		s.reply(in.ID, err)
	}
	return nil
}

func (s *session) reply(id string, err error) {
	var pe *protoError
	if !errors.As(err, &pe) {
		s.srv.log.Error("native request failed", "conn", s.conn.ID(), "err", err)
		pe = errorf(CodeInternal, "internal error")
	}
	s.conn.Send(encode(&outbound{Type: TypeError, ID: id,
		Error:     &errorBody{Code: pe.code, Message: pe.msg, RetryAfter: pe.retryAfter},
		Timestamp: timestamp(s.srv.now())}))
}

func (s *session) errorFrame(id string, code int, msg string) []byte {
	return encode(&outbound{Type: TypeError, ID: id, Error: &errorBody{Code: code, Message: msg}, Timestamp: timestamp(s.srv.now())})
}

func (s *session) send(m *outbound) {
	m.Timestamp = timestamp(s.srv.now())
	s.conn.Send(encode(m))
}

func (s *session) dispatch(in *inbound) error {
	if !s.conn.Authenticated() {
		if in.Type == TypeConnect {
			return s.connect(in)
		}
		return errorf(CodeUnauthorized, "authenticate first: send a connect message with a token")
	}
	// Each message's Store calls end with the socket, or at the deadline.
	ctx, cancel := s.StoreContext()
	defer cancel()
	switch in.Type {
	case TypePing:
		ts := in.Timestamp
		if len(ts) == 0 {
			ts = json.RawMessage("null")
		}
		s.send(&outbound{Type: TypePong, ID: in.ID, Data: map[string]json.RawMessage{"timestamp": ts}})
		return nil
	case TypeSubscribe:
		return s.subscribe(ctx, in)
	case TypeUnsubscribe:
		col, doc, err := in.channel()
		if err != nil {
			return err
		}
		if strings.HasPrefix(col, publicViewPrefix) {
			s.unsubscribePublicView(ctx, col)
		} else {
			s.srv.hub.Unsubscribe(ctx, s.conn, col, doc)
		}
		s.send(&outbound{Type: TypeUnsubscribe, ID: in.ID, Collection: col, Document: doc})
		if frames := s.unowed(); len(frames) > 0 {
			s.conn.Send(frames)
		}
		return nil
	case TypePresence:
		return s.presence(ctx, in)
	case TypeQuery:
		return s.query(ctx, in)
	case TypeSubmit:
		return s.submit(ctx, in)
	case TypeRefresh:
		return s.refresh(in)
	case TypeConnect:
		return errorf(CodeInvalid, "already connected")
	case TypeDisconnect:
		return transport.ErrClientClose
	default:
		return errorf(CodeInvalid, "unknown message type %q", in.Type)
	}
}

// connect authenticates a connection opened without a token.
func (s *session) connect(in *inbound) error {
	var data struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
	}
	if len(in.Data) > 0 {
		if err := json.Unmarshal(in.Data, &data); err != nil {
			return s.refuse(in.ID, "connect data must be {\"token\":\"...\"}")
		}
	}
	if data.SessionID != "" && !validSessionID(data.SessionID) {
		return errorf(CodeInvalid, "session_id must be 1-64 of [A-Za-z0-9_-]")
	}
	claims, err := s.srv.cfg.Verifier.Verify(data.Token)
	if err != nil {
		return s.refuse(in.ID, tokenRefusal(err))
	}
	s.authenticate(claims, data.SessionID)
	return nil
}

// tokenRefusal is what a client is told about a token the verifier refused.
func tokenRefusal(err error) string {
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, auth.ErrKeysUnavailable):
		return "the token's signing keys cannot be fetched now; try again later"
	}
	return "invalid token"
}

// refresh renews the token of an authenticated connection: the new token
// is checked as a connect token is, must name the same user, and its exp
// (plus the leeway) becomes the connection's end. Its claims replace the
// old ones for what is authorised from now on (channels); subscriptions
// already made stay. A refused refresh is a 401 reply and changes
// nothing: the connection still ends at the old token's exp.
func (s *session) refresh(in *inbound) error {
	var data struct {
		Token string `json:"token"`
	}
	if len(in.Data) == 0 || json.Unmarshal(in.Data, &data) != nil || data.Token == "" {
		return errorf(CodeInvalid, "refresh data must be {\"token\":\"...\"}")
	}
	claims, err := s.srv.cfg.Verifier.Verify(data.Token)
	if errors.Is(err, auth.ErrKeysUnavailable) {
		return errorf(CodeUnavailable, "%s", tokenRefusal(err))
	}
	if err != nil {
		return errorf(CodeUnauthorized, "%s", tokenRefusal(err))
	}
	if claims.Subject != s.conn.UserID() {
		return errorf(CodeUnauthorized, "the token is for another user")
	}
	s.mu.Lock()
	s.claims = claims
	s.mu.Unlock()
	s.conn.SetExpiry(s.connectionEnd(claims))
	s.send(&outbound{Type: TypeRefresh, ID: in.ID, Data: s.expiryData(claims, map[string]any{})})
	return nil
}

// connectionEnd is when a connection authenticated by claims ends: when
// the verifier would refuse the token, at exp plus the leeway (zero:
// never).
func (s *session) connectionEnd(claims *auth.Claims) time.Time {
	if claims.ExpiresAt.IsZero() {
		return time.Time{}
	}
	return claims.ExpiresAt.Add(s.srv.cfg.TokenLeeway)
}

// expiryData adds expires_in to data when the token has an exp: the
// seconds (to the millisecond) from now to exp, so that a client can
// refresh ahead of it whatever its own clock says.
func (s *session) expiryData(claims *auth.Claims, data map[string]any) map[string]any {
	if !claims.ExpiresAt.IsZero() {
		ms := claims.ExpiresAt.Sub(s.srv.now()).Milliseconds()
		data["expires_in"] = float64(ms) / 1000
	}
	return data
}

// refuse answers a failed connect with 401 and closes (4001).
func (s *session) refuse(id, msg string) error {
	s.conn.Send(s.errorFrame(id, CodeUnauthorized, msg))
	s.Drop()
	s.conn.Disconnect(hub.Disconnect{Code: 4001, Reason: msg, Reconnect: true})
	return nil
}

func (s *session) authenticate(claims *auth.Claims, sessionID string) {
	if sessionID == "" {
		sessionID = s.conn.ID()
	}
	s.mu.Lock()
	s.claims = claims
	s.mu.Unlock()
	s.srv.hub.Authenticate(s.conn, claims.Subject, sessionID, s.connectionEnd(claims))
	s.send(&outbound{Type: TypeConnected, Data: s.expiryData(claims, map[string]any{
		"connection_id":      s.conn.ID(),
		"user_id":            claims.Subject,
		"session_id":         sessionID,
		"heartbeat_interval": int(s.srv.cfg.HeartbeatInterval / time.Second),
		"max_message_size":   s.srv.cfg.MaxMessageSize,
	})})
}

// authorize checks that the user may use a channel.
func (s *session) authorize(ctx context.Context, collection string) error {
	if isStoreCollection(collection) {
		st := s.srv.cfg.Store
		if st == nil || strings.HasPrefix(collection, "publicview_") {
			return errorf(CodeNotFound, "unknown collection %q", collection)
		}
		if err := st.AuthorizeCollection(ctx, s.conn.UserID(), collection); err != nil {
			return storeError(err)
		}
		return nil
	}
	s.mu.Lock()
	claims := s.claims
	s.mu.Unlock()
	if claims == nil || !claims.AllowsChannel(collection) {
		return errorf(CodeForbidden, "not allowed to use channel %q", collection)
	}
	return nil
}

func (s *session) subscribe(ctx context.Context, in *inbound) error {
	col, doc, err := in.channel()
	if err != nil {
		return err
	}
	var data subscribeData
	if len(in.Data) > 0 && string(in.Data) != "null" {
		if err := json.Unmarshal(in.Data, &data); err != nil {
			return errorf(CodeInvalid, "data.since must be {\"offset\":N,\"epoch\":\"...\"}")
		}
	}
	if strings.HasPrefix(col, publicViewPrefix) {
		return s.subscribePublicView(ctx, in, col, data)
	}
	if err := s.authorize(ctx, col); err != nil {
		return err
	}
	_, err = s.srv.hub.Subscribe(ctx, s.conn, hub.SubscribeRequest{
		Collection: col,
		Document:   doc,
		Since:      data.Since,
		Reply: func(r hub.SubscribeResult) []byte {
			return encode(&outbound{Type: TypeSubscribe, ID: in.ID, Collection: col, Document: doc,
				Data:      map[string]any{"offset": r.Position.Offset, "epoch": r.Position.Epoch, "recovered": r.Recovered},
				Timestamp: timestamp(s.srv.now())})
		},
	})
	return s.subscribeError(col, err)
}

// subscribeError maps a hub subscribe failure.
func (s *session) subscribeError(col string, err error) error {
	switch {
	case errors.Is(err, hub.ErrTooManySubscriptions):
		return errorf(CodeRateLimited, "too many subscriptions (at most %d)", s.srv.hub.Config().MaxSubscriptions)
	case errors.Is(err, hub.ErrClosed):
		return errorf(CodeUnavailable, "server shutting down")
	case errors.Is(err, hub.ErrUnavailable):
		s.srv.log.Warn("native subscribe refused for now", "conn", s.conn.ID(), "collection", col, "err", err)
		return unavailable("the channel's stream")
	case err != nil:
		return err
	}
	return nil
}

func (s *session) presence(ctx context.Context, in *inbound) error {
	col, doc, err := in.channel()
	if err != nil {
		return err
	}
	state := in.Data
	if len(state) > maxPresenceLen {
		return errorf(CodeTooLarge, "presence state larger than %d bytes", maxPresenceLen)
	}
	isNull := len(state) == 0 || string(state) == "null"
	if !isNull && !isJSONObject(state) {
		return errorf(CodeInvalid, "presence data must be a JSON object, or null to leave")
	}
	if err := s.authorize(ctx, col); err != nil {
		return err
	}
	if err := s.srv.hub.SetPresence(ctx, s.conn, col, doc, state); err != nil {
		return err
	}
	s.send(&outbound{Type: TypePresence, ID: in.ID, Collection: col, Document: doc})
	return nil
}

func isJSONObject(b json.RawMessage) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// metricType names a message for the messages_in metric without letting a
// client invent label values.
func metricType(in *inbound, err error) string {
	if err != nil || in == nil {
		return "invalid"
	}
	switch in.Type {
	case TypeConnect, TypeDisconnect, TypePing, TypeSubscribe, TypeUnsubscribe, TypeQuery, TypeSubmit, TypePresence, TypeRefresh:
		return in.Type
	}
	return "unknown"
}

// query answers `query` on record_T with the REST listing's options.
func (s *session) query(ctx context.Context, in *inbound) error {
	col, _, err := in.channel()
	if err != nil {
		return err
	}
	if !isStoreCollection(col) {
		return errorf(CodeInvalid, "query works on store collections; %q is an app channel", col)
	}
	c, ok := event.ParseCollection(col)
	if !ok || c.Kind != event.KindRecord {
		return errorf(CodeInvalid, "query works on record_<table id> collections")
	}
	if err := s.authorize(ctx, col); err != nil {
		return err
	}
	tableID := c.ID
	var q RecordQuery
	if len(in.Data) > 0 && string(in.Data) != "null" {
		if err := json.Unmarshal(in.Data, &q); err != nil {
			return errorf(CodeInvalid, "query data must be {\"filter\"?,\"sort\"?,\"limit\"?,\"cursor\"?,\"view_id\"?}")
		}
	}
	page, err := s.srv.cfg.Store.QueryRecords(ctx, s.conn.UserID(), tableID, q)
	if err != nil {
		return storeError(err)
	}
	if page.Results == nil {
		page.Results = []Snapshot{}
	}
	s.send(&outbound{Type: TypeQuery, ID: in.ID, Collection: col, Data: page})
	return nil
}
