package native

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/jsonscan"
	"github.com/tablecast/tablecast/internal/transport"
)

var _ hub.EventRenderer = renderer{}

// RenderEvent implements hub.EventRenderer: the table store's events become
// `op` messages on the documents they change, one frame per document,
// encoded once and shared by every subscriber of that document. The changes
// are the event contract's (event.DocChanges, derived once per event for
// every document dialect by event.MemoChanges), the same the op log keeps:
//
//   - a created document is {"v":0,"create":<data>};
//   - a changed one is {"v":<version before>,"op":[json0 components]}: the
//     submitted op as applied, or for a REST write od/oi on
//     ["fields","<field id>"] (records) or on each changed top-level member
//     (fields, views, tables);
//   - a deleted one is {"v":<last version>,"del":true}.
//
// An event written before documents had versions (still in the outbox after
// an upgrade) renders without v rather than with a wrong one. Events that
// change no document (membership) render nothing.
func (r renderer) RenderEvent(p *hub.Publication) ([]hub.Output, error) {
	outs, err := r.renderDocs(p)
	if err != nil || r.pv == nil {
		return outs, err
	}
	return r.pv.render(p, outs)
}

func (renderer) renderDocs(p *hub.Publication) ([]hub.Output, error) {
	if tableID, ok := event.PausedTable(p.Event, p.Data); ok {
		// A notice to the table's record collection: a message with the
		// event's offset, its data the event's payload and its name.
		col := event.RecordCollection(tableID)
		data := map[string]json.RawMessage{"event": json.RawMessage(`"webhook_paused"`), "webhook": p.Data}
		return []hub.Output{{Collection: col, Frame: encode(&outbound{Type: TypeMessage, Collection: col,
			Offset: &p.Offset, Data: data, Timestamp: timestamp(p.Time)})}}, nil
	}
	changes, err := event.MemoChanges(p, p.Event, p.Data)
	if err != nil {
		return nil, fmt.Errorf("native: render %s: %w", p.Event, err)
	}
	if len(changes) == 0 {
		return nil, nil
	}
	// The actor and the origin were read from the payload once, for every
	// dialect (tablestream.Publication).
	source := p.Author.ConnID
	if source == "" {
		source = "server"
	}
	ts := timestamp(p.Time)
	reply := event.MemoSubmit(p, p.Data).Reply
	var replyID string
	if reply != nil {
		var native bool
		if replyID, native = strings.CutPrefix(reply.Tag, replyTag); !native {
			reply = nil // another dialect's connection: it gets none of these frames
		}
	}
	outs := make([]hub.Output, 0, len(changes))
	for _, c := range changes {
		// A table's document belongs to its workspace's stream; an event
		// that also goes to the table's own stream (table_updated,
		// table_deleted) renders it from the workspace's only.
		if strings.HasPrefix(c.Collection, "table_") != strings.HasPrefix(p.Stream, "workspace:") {
			continue
		}
		d := opData{Op: c.Op, Create: c.Create, Del: c.Del, Source: source, UserID: p.Author.UserID}
		if c.HasV {
			v := c.V
			d.V = &v
		}
		doc := strconv.FormatInt(c.DocID, 10)
		o := hub.Output{
			Collection: c.Collection,
			Document:   doc,
			Frame:      encodeOp(c.Collection, doc, p.Offset, d, ts),
		}
		if reply != nil {
			// A submit's event: its connection gets the submit's reply in
			// its op's place, in version order with the document's ops, and
			// the ops of the other documents the change touched.
			o.Origin = o.Frame
			if reply.Collection == c.Collection && reply.Doc == c.DocID && c.HasV {
				o.Origin = encodeReply(replyID, c.Collection, doc, p.Offset, submitReplyData{V: c.V + 1, Fixup: reply.Fixup}, ts)
			}
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// encodeOp is encode of an `op` message, without reflection when its
// strings and JSON are written as they are (jsonscan.Verbatim,
// RawVerbatim), as they are for a submit's op: once per event.
func encodeOp(col, doc string, offset uint64, d opData, ts string) []byte {
	if !jsonscan.Verbatim(col) || !jsonscan.Verbatim(doc) || !jsonscan.Verbatim(d.Source) || !jsonscan.Verbatim(d.UserID) ||
		!jsonscan.Verbatim(ts) || !jsonscan.RawVerbatim(d.Op) || !jsonscan.RawVerbatim(d.Create) || col == "" || doc == "" {
		off := offset // a copy: offset itself would be on the heap from the start
		return encode(&outbound{Type: TypeOp, Collection: col, Document: doc, Offset: &off, Data: d, Timestamp: ts})
	}
	b := transport.NewFrameBuffer(frameFixed + len(col) + len(doc) + len(ts) + len(d.Op) + len(d.Create) + len(d.Source) + len(d.UserID))
	b = appendHead(b, TypeOp, "", col, doc, offset)
	b = append(b, `,"data":{`...)
	if d.V != nil {
		b = strconv.AppendInt(append(b, `"v":`...), *d.V, 10)
		b = append(b, ',')
	}
	if len(d.Op) > 0 {
		b = append(append(append(b, `"op":`...), d.Op...), ',')
	}
	if len(d.Create) > 0 {
		b = append(append(append(b, `"create":`...), d.Create...), ',')
	}
	if d.Del {
		b = append(b, `"del":true,`...)
	}
	b = append(append(append(b, `"source":"`...), d.Source...), `","user_id":"`...)
	b = append(append(b, d.UserID...), `"}`...)
	return transport.TextFrameInPlace(appendTail(b, ts))
}

// frameFixed is about what encodeOp and encodeReply write besides their
// variable parts (the names, numbers and punctuation), so that a frame's
// buffer does not grow.
const frameFixed = 200

// encodeReply is encode of a submit's reply, as encodeOp is of an op.
func encodeReply(id, col, doc string, offset uint64, d submitReplyData, ts string) []byte {
	if !jsonscan.Verbatim(id) || !jsonscan.Verbatim(col) || !jsonscan.Verbatim(doc) || !jsonscan.Verbatim(ts) ||
		!jsonscan.RawVerbatim(d.Fixup) || col == "" || doc == "" {
		off := offset
		return encode(&outbound{Type: TypeSubmit, ID: id, Collection: col, Document: doc, Offset: &off, Data: d, Timestamp: ts})
	}
	b := transport.NewFrameBuffer(frameFixed + len(id) + len(col) + len(doc) + len(ts) + len(d.Fixup))
	b = appendHead(b, TypeSubmit, id, col, doc, offset)
	b = strconv.AppendInt(append(b, `,"data":{"v":`...), d.V, 10)
	if d.Duplicate {
		b = append(b, `,"duplicate":true`...)
	}
	if len(d.Fixup) > 0 {
		b = append(append(b, `,"fixup":`...), d.Fixup...)
	}
	return transport.TextFrameInPlace(appendTail(append(b, '}'), ts))
}

// appendHead appends the members of outbound before its data; the strings
// are Verbatim, col and doc not empty.
func appendHead(b []byte, typ, id, col, doc string, offset uint64) []byte {
	b = append(append(append(b, `{"type":"`...), typ...), '"')
	if id != "" {
		b = append(append(append(b, `,"id":"`...), id...), '"')
	}
	b = append(append(append(b, `,"collection":"`...), col...), `","document":"`...)
	b = append(append(b, doc...), `","offset":`...)
	return strconv.AppendUint(b, offset, 10)
}

// appendTail appends outbound's timestamp and closes it.
func appendTail(b []byte, ts string) []byte {
	return append(append(append(b, `,"timestamp":"`...), ts...), `"}`...)
}

// submitReplyData is the data of a submit's reply.
type submitReplyData struct {
	V         int64           `json:"v"`
	Duplicate bool            `json:"duplicate,omitempty"`
	Fixup     json.RawMessage `json:"fixup,omitempty"`
}

// opData is the data of an `op` message.
type opData struct {
	V      *int64          `json:"v,omitempty"`
	Op     json.RawMessage `json:"op,omitempty"`
	Create json.RawMessage `json:"create,omitempty"`
	Del    bool            `json:"del,omitempty"`
	Source string          `json:"source"`
	UserID string          `json:"user_id"`
}
