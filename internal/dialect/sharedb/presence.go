package sharedb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
)

// Presence, as ShareDB 3+ speaks it, on the hub's presence:
//
//   - a channel ch is the hub collection sdbp/<ch>; each of a socket's
//     local presences in it is a document of that collection named by its
//     presence id, whose state is what the others are sent: {src, p, pv,
//     c?, d?, v?, t?};
//   - ps subscribes to the collection: the reply, then everyone else's
//     current presence (the hub sends it; no request goes round the
//     clients), then a pr to the subscriber itself, so that a client that
//     reconnects sends its local presence again (the hub ended it with the
//     old socket);
//   - p sets or (p: null) clears one presence and is acknowledged with its
//     pv; a socket need not subscribe to submit;
//   - pr (a client asking for the others' presence) is answered from the
//     hub's state;
//   - a socket that goes away leaves: the others get p: null.
//
// A channel may be used when it ends in _<table id> of a table the user
// can read (Teable's __col_user_<T>, __col_cell_user_<T>), or when the
// token's channels claim allows it. Names are [A-Za-z0-9_:-], 1 to 128.
// ShareDB's doc presence needs a type with presence support, which json0
// is not: a p with t is refused as ShareDB refuses it.

// channelAuthTTL is how long a socket remembers that it may publish on a
// channel (a p per cursor move should not read the store each time). What
// reads presence (ps, pr) is checked every time; a permission change
// forgets what was remembered when it ends one of the socket's
// subscriptions, and otherwise lets the socket publish for at most this
// long.
const channelAuthTTL = 30 * time.Second

// authorizeChannel checks that the user may use a presence channel;
// publishing may use what was checked before.
func (s *session) authorizeChannel(ch string, publishing bool) error {
	if !hub.ValidName(ch) {
		return errorf(CodeBadMessage, "invalid presence channel: want 1 to 128 of [A-Za-z0-9_:-]")
	}
	now := s.srv.now()
	if publishing {
		s.mu.Lock()
		until, ok := s.channels[ch]
		s.mu.Unlock()
		if ok && now.Before(until) {
			return nil
		}
	}
	allowed := s.claims.AllowsChannel(ch)
	if !allowed {
		if t, ok := channelTable(ch); ok {
			ctx, cancel := s.StoreContext()
			err := s.srv.cfg.Store.Authorize(ctx, s.userID, event.RecordCollection(t))
			cancel()
			switch {
			case err == nil:
				allowed = true
			case !errors.Is(err, event.ErrNotFound) && !forbidden(err):
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !allowed {
		delete(s.channels, ch)
		return errorf(CodeForbidden, "not allowed to use presence channel "+quoteForMessage(ch))
	}
	if len(s.channels) > 256 {
		clear(s.channels)
	}
	s.channels[ch] = now.Add(channelAuthTTL)
	return nil
}

func (s *session) presenceChannel(in *inbound, publishing bool) (string, error) {
	if in.Ch == nil {
		return "", errorf(CodeBadMessage, "invalid presence channel")
	}
	return *in.Ch, s.authorizeChannel(*in.Ch, publishing)
}

// presenceSubscribe answers ps.
func (s *session) presenceSubscribe(in *inbound) error {
	ch, err := s.presenceChannel(in, false)
	if err != nil {
		return err
	}
	seq, err := seqOf(in)
	if err != nil {
		return err
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	_, err = s.srv.hub.Subscribe(s.Context(), s.conn, hub.SubscribeRequest{
		Collection: presencePrefix + ch,
		Reply: func(hub.SubscribeResult) []byte {
			return frameOf(map[string]any{"a": actPresenceSub, "ch": ch, "seq": seq})
		},
	})
	if err != nil {
		return hubError(err)
	}
	s.mu.Lock()
	if !s.closed {
		s.presence[ch] = true
	}
	s.mu.Unlock()
	s.send(map[string]any{"a": actPresenceReq, "ch": ch})
	return nil
}

// presenceUnsubscribe answers pu. The socket's own presence in the channel
// stays (ShareDB's does too).
func (s *session) presenceUnsubscribe(in *inbound) error {
	if in.Ch == nil || !hub.ValidName(*in.Ch) {
		return errorf(CodeBadMessage, "invalid presence channel")
	}
	ch := *in.Ch
	seq, err := seqOf(in)
	if err != nil {
		return err
	}
	s.subMu.Lock()
	s.mu.Lock()
	had := s.presence[ch]
	delete(s.presence, ch)
	s.mu.Unlock()
	if had {
		// Not hub.Unsubscribe: it would also end presence set on the
		// channel itself, which this dialect never sets.
		s.srv.hub.Unsubscribe(s.Context(), s.conn, presencePrefix+ch, "")
	}
	s.subMu.Unlock()
	s.send(map[string]any{"a": actPresenceUnsub, "ch": ch, "seq": seq})
	return nil
}

// presenceState is what a presence's others are sent.
type presenceState struct {
	Src string          `json:"src"`
	P   json.RawMessage `json:"p"`
	Pv  float64         `json:"pv"`
	C   *string         `json:"c,omitempty"`
	D   *string         `json:"d,omitempty"`
	V   json.RawMessage `json:"v,omitempty"`
}

// presenceUpdate answers p.
func (s *session) presenceUpdate(in *inbound) error {
	var id string
	if isNull(in.ID) || json.Unmarshal(in.ID, &id) != nil || !validID(id) {
		return errorf(CodeBadMessage, "invalid presence ID")
	}
	if in.Pv == nil || *in.Pv < 0 {
		return errorf(CodeBadMessage, "invalid presence version")
	}
	if !isNull(in.T) {
		return errorf(CodeNoPresence, "type does not support presence: json0 documents have no doc presence")
	}
	if len(in.P) > maxPresenceLen {
		return errorf(CodeTooLarge, "presence value larger than "+itoa(maxPresenceLen)+" bytes")
	}
	ch, err := s.presenceChannel(in, true)
	if err != nil {
		return err
	}
	var state json.RawMessage
	if !isNull(in.P) {
		st := presenceState{Src: s.src, P: bytes.TrimSpace(in.P), Pv: *in.Pv, C: in.C, D: in.D}
		if !isNull(in.V) {
			st.V = in.V
		}
		if state, err = json.Marshal(st); err != nil {
			return errorf(CodeBadMessage, "invalid presence value")
		}
	}
	if err := s.srv.hub.SetPresence(context.WithoutCancel(s.Context()), s.conn, presencePrefix+ch, id, state); err != nil {
		return err
	}
	// The ack: the client matches it to its local presence by id and pv.
	ack := map[string]any{"a": actPresence, "ch": ch, "id": id, "pv": *in.Pv, "src": s.src}
	if isNull(in.P) {
		ack["p"] = nil
	} else {
		ack["p"] = json.RawMessage(bytes.TrimSpace(in.P))
	}
	s.send(ack)
	return nil
}

// presenceRequest answers pr: everyone else's current presence.
func (s *session) presenceRequest(in *inbound) error {
	ch, err := s.presenceChannel(in, false)
	if err != nil {
		return err
	}
	for _, info := range s.srv.hub.Presence(presencePrefix+ch, "") {
		if info.ConnectionID == s.conn.ID() {
			continue
		}
		s.conn.Send(presenceFrame(ch, info.Document, info.State))
	}
	return nil
}
