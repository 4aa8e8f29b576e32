package sharedb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/transport"
)

// Renderer renders the hub's publications for ShareDB sockets
// (hub.EventRenderer): a stream event becomes one op message per document
// it changes and per spelling of its collection that this node's sockets
// hold (record_5 and rec_5 are two renderings), each encoded once and
// shared by every subscriber. An event of a stream no ShareDB socket here
// holds costs one map lookup.
//
// It also records, per stream, the newest event offset it has seen: the
// hub renders an event before it queues it anywhere, so a document read at
// offset O can tell whether anything after O may already be on its way to
// a socket (see session.catchUp).
type Renderer struct {
	log *slog.Logger

	mu       sync.RWMutex
	interest map[string]map[string]*held // stream -> collection as spelled -> holders

	seen   sync.Map // stream -> *atomic.Uint64
	frames atomic.Int64
}

type held struct {
	c collection
	n int
}

var (
	_ hub.Renderer      = (*Renderer)(nil)
	_ hub.EventRenderer = (*Renderer)(nil)
)

// NewRenderer returns the renderer, to register with the hub at DialectID.
func NewRenderer(log *slog.Logger) *Renderer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Renderer{log: log, interest: make(map[string]map[string]*held)}
}

// Frames counts the op frames rendered (each shared by its subscribers).
func (r *Renderer) Frames() int64 { return r.frames.Load() }

// hold counts (delta +1) or releases (-1) a hub subscription to one of c's
// hub collections. A subscription is counted from before it is made until
// after it is gone, so that every event delivered to it was rendered.
func (r *Renderer) hold(c collection, delta int) {
	st := c.stream()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.interest[st]
	if m == nil {
		if delta <= 0 {
			return
		}
		m = make(map[string]*held)
		r.interest[st] = m
	}
	h := m[c.name]
	if h == nil {
		if delta <= 0 {
			return
		}
		h = &held{c: c}
		m[c.name] = h
	}
	h.n += delta
	if h.n <= 0 {
		delete(m, c.name)
		if len(m) == 0 {
			delete(r.interest, st)
		}
	}
}

// held returns the collections of a stream that sockets here hold.
func (r *Renderer) heldOf(stream string) []collection {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := r.interest[stream]
	if len(m) == 0 {
		return nil
	}
	out := make([]collection, 0, len(m))
	for _, h := range m {
		out = append(out, h.c)
	}
	return out
}

func (r *Renderer) markSeen(stream string, offset uint64) {
	v, ok := r.seen.Load(stream)
	if !ok {
		v, _ = r.seen.LoadOrStore(stream, new(atomic.Uint64))
	}
	top := v.(*atomic.Uint64)
	for {
		cur := top.Load()
		if offset <= cur || top.CompareAndSwap(cur, offset) {
			return
		}
	}
}

// seenOffset is the newest offset of the stream rendered on this node.
func (r *Renderer) seenOffset(stream string) uint64 {
	if v, ok := r.seen.Load(stream); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

// RenderEvent implements hub.EventRenderer. Changes of an event written
// before documents had versions are not rendered (a ShareDB client cannot
// place an op without one; it catches up on the next).
func (r *Renderer) RenderEvent(p *hub.Publication) ([]hub.Output, error) {
	r.markSeen(p.Stream, p.Offset)
	cols := r.heldOf(p.Stream)
	if len(cols) == 0 {
		return nil, nil
	}
	changes, err := event.MemoChanges(p, p.Event, p.Data)
	if err != nil {
		return nil, fmt.Errorf("sharedb: render %s: %w", p.Event, err)
	}
	if len(changes) == 0 {
		return nil, nil
	}
	meta := event.MemoSubmit(p, p.Data)
	src, seq := meta.Src, meta.Seq
	var spelling string
	if rp := meta.Reply; rp != nil {
		var ours bool
		if spelling, ours = strings.CutPrefix(rp.Tag, replyTag); !ours {
			meta.Reply = nil // another dialect's connection: it gets none of these frames
		}
	}
	workspace := strings.HasPrefix(p.Stream, "workspace:")
	var outs []hub.Output
	var w opBuilder
	for _, ch := range changes {
		// A table's document belongs to its workspace's stream (as for
		// the native dialect); table_updated also goes to the table's.
		if !ch.HasV || strings.HasPrefix(ch.Collection, "table_") != workspace {
			continue
		}
		doc := strconv.FormatInt(ch.DocID, 10)
		for _, c := range cols {
			if c.canonical != ch.Collection {
				continue
			}
			w.head(c.name, doc, ch.V, src, seq, len(ch.Op)+len(ch.Create))
			frame := w.frame(ch.Op, ch.Create, ch.Del)
			o := hub.Output{Collection: c.hubName(), Document: doc, Frame: frame}
			if rp := meta.Reply; rp != nil {
				// A submit's event: its socket gets the ack in its op's
				// place (the hub leaves it out of the op), in version order
				// with the document's ops, and the op under the
				// collection's other spellings, which are other documents
				// to the client.
				o.Origin = frame
				if spelling == c.name && rp.Collection == ch.Collection && rp.Doc == ch.DocID {
					o.Origin = ackFrame(c.name, doc, ch.V, src, seq, rp.Fixup)
				}
			}
			outs = append(outs, o)
			r.frames.Add(1)
		}
	}
	return outs, nil
}

// Render implements hub.Renderer: presence changes in a channel. Nothing
// else reaches a ShareDB socket (messages to a user have no ShareDB form:
// they render as nothing).
func (r *Renderer) Render(p *hub.Publication) ([]byte, error) {
	if p.Kind != hub.KindPresence {
		return []byte{}, nil
	}
	ch, ok := strings.CutPrefix(p.Collection, presencePrefix)
	if !ok {
		return nil, fmt.Errorf("sharedb: presence on %q", p.Collection)
	}
	return presenceFrame(ch, p.Document, p.Data), nil
}

// presenceFrame renders a presence message: state is the object the
// session stored ({"src","p","pv",...}), or null when the presence left
// (its version is then unknown and left out: ShareDB clients accept it).
func presenceFrame(ch, id string, state json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteString(`{"a":"p","ch":`)
	b.Write(jsonString(ch))
	b.WriteString(`,"id":`)
	b.Write(jsonString(id))
	st := bytes.TrimSpace(state)
	if len(st) < 2 || st[0] != '{' || string(st) == "{}" {
		b.WriteString(`,"p":null}`)
		return transport.TextFrame(b.Bytes())
	}
	b.WriteByte(',')
	b.Write(st[1:])
	return transport.TextFrame(b.Bytes())
}

// jsonString is s as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}
