package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tablecast/tablecast/internal/stream"
)

// outbox is an in-memory table store: events per stream, offsets from 1,
// and the collections rec_T and fld_T sharing stream table:T.
type outbox struct {
	mu  sync.Mutex
	log map[string][]*Publication
}

const testEpoch = "db1"

func (o *outbox) StreamOf(collection string) (string, bool) {
	for _, prefix := range []string{"rec_", "fld_"} {
		if id, ok := strings.CutPrefix(collection, prefix); ok {
			return "table:" + id, true
		}
	}
	return "", false
}

func (o *outbox) Top(_ context.Context, s string) (stream.Position, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return stream.Position{Offset: uint64(len(o.log[s])), Epoch: testEpoch}, nil
}

func (o *outbox) Since(ctx context.Context, s string, since stream.Position, limit int) ([]*Publication, stream.Position, error) {
	top, _ := o.Top(ctx, s)
	if since.Epoch != testEpoch || since.Offset > top.Offset {
		return nil, top, stream.ErrUnrecoverable
	}
	pubs, _ := o.Fill(ctx, s, since.Offset+1, top.Offset)
	return pubs, top, nil
}

func (o *outbox) Fill(_ context.Context, s string, from, to uint64) ([]*Publication, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*Publication
	for _, p := range o.log[s] {
		if p.Offset >= from && p.Offset <= to {
			out = append(out, p)
		}
	}
	return out, nil
}

// commit appends an event touching the given documents of rec_T (and, with
// a "fld:" prefix, of fld_T); it is not published.
func (o *outbox) commit(table int, docs ...string) *Publication {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.log == nil {
		o.log = make(map[string][]*Publication)
	}
	s := fmt.Sprintf("table:%d", table)
	data, _ := json.Marshal(map[string]any{"table": table, "docs": docs})
	p := &Publication{Kind: KindEvent, Stream: s, Offset: uint64(len(o.log[s]) + 1), Epoch: testEpoch, Data: data}
	o.log[s] = append(o.log[s], p)
	return p
}

// eventLines renders an event as one line per document: "ev <offset> <collection>.<doc>".
type eventLines struct{ lineRenderer }

func (eventLines) RenderEvent(p *Publication) ([]Output, error) {
	var ev struct {
		Table int
		Docs  []string
	}
	if err := json.Unmarshal(p.Data, &ev); err != nil {
		return nil, err
	}
	var outs []Output
	for _, d := range ev.Docs {
		col := fmt.Sprintf("rec_%d", ev.Table)
		if rest, ok := strings.CutPrefix(d, "fld:"); ok {
			col, d = fmt.Sprintf("fld_%d", ev.Table), rest
		}
		// "ack:<doc>": the origin gets an ack of its own for that document
		var origin []byte
		if rest, ok := strings.CutPrefix(d, "ack:"); ok {
			d = rest
			origin = []byte(fmt.Sprintf("ack %d %s.%s\n", p.Offset, col, d))
		}
		outs = append(outs, Output{Collection: col, Document: d, Frame: []byte(fmt.Sprintf("ev %d %s.%s\n", p.Offset, col, d)), Origin: origin})
	}
	return outs, nil
}

func newStreamHub(t *testing.T) (*testHub, *outbox) {
	ob := &outbox{}
	h := newTestHub(t, func(c *Config) {
		c.Streams = ob
		c.Renderers[0] = eventLines{}
	})
	return h, ob
}

func TestEventsReachTheirCollectionsAndDocuments(t *testing.T) {
	h, ob := newStreamHub(t)
	_, trAll := h.subscriber(t, "u1", "rec_1", "")
	_, trOne := h.subscriber(t, "u2", "rec_1", "a")
	both, trBoth := h.subscriber(t, "u3", "rec_1", "")
	h.sub(t, both, "rec_1", "a", nil)
	_, trFields := h.subscriber(t, "u4", "fld_1", "")
	_, trOther := h.subscriber(t, "u5", "rec_2", "")

	p := ob.commit(1, "a", "b", "fld:f7")
	h.publish(t, p)

	trAll.expect(t, "subscribed rec_1 0 true|ev 1 rec_1.a|ev 1 rec_1.b")
	trOne.expect(t, "subscribed rec_1.a 0 true|ev 1 rec_1.a")
	trBoth.expect(t, "subscribed rec_1 0 true|subscribed rec_1.a 0 true|ev 1 rec_1.a|ev 1 rec_1.b")
	trFields.expect(t, "subscribed fld_1 0 true|ev 1 fld_1.f7")
	if got := p.Delivered(); got != 6 { // 2 + 1 + 2 + 1
		t.Errorf("delivered %d frames, want 6", got)
	}
	if l := trOther.lines(); len(l) != 1 {
		t.Errorf("another table's subscriber got %q", l)
	}
}

func TestEventsAreDeliveredInOffsetOrderAndGapsFilled(t *testing.T) {
	h, ob := newStreamHub(t)
	_, tr := h.subscriber(t, "u", "rec_1", "")
	e1, e2, e3, e4 := ob.commit(1, "a"), ob.commit(1, "b"), ob.commit(1, "c"), ob.commit(1, "d")
	h.publish(t, e1)
	h.publish(t, e3) // e2 is late
	h.publish(t, e2)
	h.publish(t, e2) // and published twice (two relays)
	h.publish(t, ob.commit(1, "e"))
	_ = e4 // never published: the sequencer reads it back from the outbox
	tr.expect(t, "subscribed rec_1 0 true|ev 1 rec_1.a|ev 2 rec_1.b|ev 3 rec_1.c|ev 4 rec_1.d|ev 5 rec_1.e")
}

func TestSubscribeSinceReplaysFromTheOutbox(t *testing.T) {
	h, ob := newStreamHub(t)
	for _, d := range []string{"a", "b", "fld:f1", "a"} {
		h.publish(t, ob.commit(1, d))
	}
	tests := []struct {
		name  string
		doc   string
		since stream.Position
		want  string
	}{
		{"collection", "", stream.Position{Offset: 1, Epoch: testEpoch}, "ev 2 rec_1.b|ev 4 rec_1.a|subscribed rec_1 4 true"},
		{"document", "a", stream.Position{Offset: 0, Epoch: testEpoch}, "ev 1 rec_1.a|ev 4 rec_1.a|subscribed rec_1.a 4 true"},
		{"other database", "", stream.Position{Offset: 1, Epoch: "db0"}, "subscribed rec_1 4 false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, tr := h.conn(t, "u")
			since := tt.since
			h.sub(t, c, "rec_1", tt.doc, &since)
			tr.expect(t, tt.want)
		})
	}
}

func TestEventsLeaveTheOriginOut(t *testing.T) {
	h, ob := newStreamHub(t)
	writer, trWriter := h.subscriber(t, "w", "rec_1", "")
	_, trReader := h.subscriber(t, "r", "rec_1", "")
	p := ob.commit(1, "a")
	p.Exclude = []string{writer.ID()}
	h.publish(t, p)
	h.publish(t, ob.commit(1, "b"))
	trReader.waitLines(t, 3)
	if got := trWriter.waitLines(t, 2); got[1] != "ev 2 rec_1.b" {
		t.Fatalf("the writer's socket got %q", got)
	}
}

// The origin of an event gets the output's frame for it in the op's place,
// in offset order with the events around it; outputs without one leave it
// out; everyone else gets the shared frame.
func TestEventsHandTheOriginItsOwnFrame(t *testing.T) {
	h, ob := newStreamHub(t)
	writer, trWriter := h.subscriber(t, "w", "rec_1", "")
	_, trReader := h.subscriber(t, "r", "rec_1", "")
	_, trDoc := h.subscriber(t, "w", "rec_1", "a")

	e1 := ob.commit(1, "a")
	e2 := ob.commit(1, "ack:a", "b")
	e2.Author.ConnID, e2.Exclude = writer.ID(), []string{writer.ID()}
	e3 := ob.commit(1, "a")
	h.publish(t, e1)
	h.publish(t, e3) // early: the sequencer holds it until e2
	h.publish(t, e2)
	trWriter.expect(t, "subscribed rec_1 0 true|ev 1 rec_1.a|ack 2 rec_1.a|ev 3 rec_1.a")
	trReader.expect(t, "subscribed rec_1 0 true|ev 1 rec_1.a|ev 2 rec_1.a|ev 2 rec_1.b|ev 3 rec_1.a")
	trDoc.expect(t, "subscribed rec_1.a 0 true|ev 1 rec_1.a|ev 2 rec_1.a|ev 3 rec_1.a")

	// A replay to the origin connection is rendered the same way.
	since := stream.Position{Offset: 1, Epoch: testEpoch}
	h.sub(t, writer, "rec_1", "a", &since)
	trWriter.expect(t, "subscribed rec_1 0 true|ev 1 rec_1.a|ack 2 rec_1.a|ev 3 rec_1.a|ack 2 rec_1.a|ev 3 rec_1.a|subscribed rec_1.a 3 true")
}

func TestRevokeEndsSubscriptions(t *testing.T) {
	h, ob := newStreamHub(t)
	c, tr := h.subscriber(t, "ex-member", "rec_1", "")
	h.sub(t, c, "news", "", nil)
	n := h.Revoke("ex-member", func(col string) bool { return strings.HasPrefix(col, "rec_") })
	if n != 1 {
		t.Fatalf("revoked %d, want 1", n)
	}
	h.publish(t, ob.commit(1, "a"))
	h.publish(t, msg("news", "", `"still"`))
	tr.expect(t, `subscribed rec_1 0 true|subscribed news 0 true|revoked rec_1|message news 1 "still"`)
}
