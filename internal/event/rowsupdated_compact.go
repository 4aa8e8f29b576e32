package event

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/tablecast/tablecast/internal/jsonscan"
	"github.com/tablecast/tablecast/internal/ot/json0"
)

// A submit's rows_updated is compact: it holds the op as applied, the
// row's head (RowHead: id, order, version, times) and the ids of the
// changed fields, not the row's cells, so that a submit writes, encodes
// and validates what it changed and nothing of the rest of the row. From
// time to time a submit's event holds the row whole instead, as REST
// writes' do, so that a consumer that needs whole rows rebuilds one from
// at most MaxCompactRun-1 ops, and the event holding the row whole is at
// most CompactSpan older than any compact event that needs it. Retention
// keeps events and the op log CompactSpan longer than it is set to
// (relay.Prune), so an event that is kept can always be completed.
//
// When is decided by WholeRowAfter, from the last event that held the row
// whole, which the store keeps with the row (store.Row.WholeVersion): a
// submit that works in its transaction reads it there, a hot document
// when it loads the row, remembering its own since.
// A run of compact events ends after CompactRun(the row's size) versions,
// or CompactSpan after that event. A wide row's whole event costs what
// its width does, so it comes less often (up to MaxCompactRun versions
// apart): the amortised bytes per op stay about what a row of 4 KiB costs
// every FullRowEvery versions.
//
// Who needs what: the document dialects (native ops, ShareDB) render the
// op and never need the rows; the renderers that send whole rows (Baserow
// rows_updated, the public views' projections, webhooks' items and
// old_items) read the event through a RowImager (WholeRowsData), which
// completes it: the row before is the last row image it built for the row
// (kept in offset order), or one rebuilt from the store (the last event
// holding the row whole, then the op log's ops since); the row after is
// the row before with the op applied to the cells it touches.

// FullRowEvery is the shortest run of compact events: a row of up to 4
// KiB is held whole every FullRowEvery versions.
const FullRowEvery = 32

// MaxCompactRun bounds a run of a row's compact events: a consumer
// rebuilding a row walks back at most this many versions.
const MaxCompactRun = 1024

// compactRunBytes is the row size per FullRowEvery versions of a run
// (CompactRun).
const compactRunBytes = 4 << 10

// CompactSpan bounds how much older the event holding a row whole is than
// any compact event completed from it, however slowly the row is edited.
const CompactSpan = 32 * time.Minute

// CompactRun is the most versions a run of compact events lasts on a row
// of about rowBytes bytes of JSON: FullRowEvery per 4 KiB, between
// FullRowEvery and MaxCompactRun.
func CompactRun(rowBytes int) int64 {
	n := FullRowEvery * ((int64(rowBytes) + compactRunBytes - 1) / compactRunBytes)
	return min(max(n, FullRowEvery), MaxCompactRun)
}

// WholeRowAfter reports whether a change to version v at `at` writes the
// row whole, given the version and time of the last event that held it
// whole (wholeV 0: none known) and the row's size then. A writer that
// knows of a later whole event than the one it gives only writes the row
// whole sooner than needed.
func WholeRowAfter(v int64, at time.Time, wholeV int64, wholeAt time.Time, rowBytes int) bool {
	return wholeV == 0 || v-wholeV >= CompactRun(rowBytes) || at.Sub(wholeAt) >= CompactSpan
}

// RowHead is a row without its cells, as a compact rows_updated holds it.
type RowHead struct {
	ID        int64     `json:"id"`
	Order     string    `json:"order"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// UpdatedBefore is the row's UpdatedAt before the change.
	UpdatedBefore time.Time `json:"before_updated_at"`
}

// HeadOf returns the head of r after a change; before is r's UpdatedAt
// before it.
func HeadOf(r Row, before time.Time) RowHead {
	return RowHead{ID: r.ID, Order: r.Order, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, UpdatedBefore: before}
}

// Compact reports whether ev is a submit's compact form (Row set, Rows
// and RowsBefore empty until Complete).
func (ev *RowsUpdated) Compact() bool { return ev.Row != nil }

// Complete fills Rows and RowsBefore of a compact ev from before, the row
// at the version before the change: the row after is before with the op
// applied.
func (ev *RowsUpdated) Complete(before Row) error {
	h := ev.Row
	if h == nil {
		return nil
	}
	if before.ID != h.ID || before.Version != h.Version-1 {
		return fmt.Errorf("event: row %d at version %d cannot complete the change to version %d of row %d",
			before.ID, before.Version, h.Version, h.ID)
	}
	before.UpdatedAt = h.UpdatedBefore
	after, err := ApplyRecordOp(before, ev.Op)
	if err != nil {
		return err
	}
	after.Order, after.Version, after.CreatedAt, after.UpdatedAt = h.Order, h.Version, h.CreatedAt, h.UpdatedAt
	ev.Rows, ev.RowsBefore = []Row{after}, []Row{before}
	return nil
}

// ApplyRecordOp applies a json0 op on a record document to the row: the
// cells it touches are decoded, changed and encoded again, the others
// shared with r; the version moves by one. The op may change
// ["fields","<id>",...] and ["order"] only, as submits do.
func ApplyRecordOp(r Row, op json.RawMessage) (Row, error) {
	var o json0.Op
	if err := json.Unmarshal(op, &o); err != nil {
		return Row{}, fmt.Errorf("event: record op: %w", err)
	}
	fields := map[string]any{}
	touched := map[string]int64{}
	for _, c := range o {
		first, _ := pathKey(c.P, 0)
		switch {
		case first == "order" && len(c.P) == 1:
		case first == "fields" && len(c.P) >= 2:
			key, _ := pathKey(c.P, 1)
			id, ok := ParseID(key)
			if !ok {
				return Row{}, fmt.Errorf("event: record op on %v", c.P)
			}
			if _, seen := touched[key]; seen {
				continue
			}
			touched[key] = id
			var v any
			if raw, ok := r.Fields[id]; ok {
				if err := json.Unmarshal(raw, &v); err != nil {
					return Row{}, fmt.Errorf("event: cell %d of row %d: %w", id, r.ID, err)
				}
				fields[key] = v
			}
		default:
			return Row{}, fmt.Errorf("event: record op on %v", c.P)
		}
	}
	doc, err := json0.Apply(map[string]any{"order": r.Order, "fields": fields}, o)
	if err != nil {
		return Row{}, fmt.Errorf("event: record op on row %d: %w", r.ID, err)
	}
	m, _ := doc.(map[string]any)
	after := r
	after.Version++
	if s, ok := m["order"].(string); ok {
		after.Order = s
	}
	if len(touched) > 0 {
		got, _ := m["fields"].(map[string]any)
		after.Fields = maps.Clone(r.Fields)
		for key, id := range touched {
			v, ok := got[key]
			if !ok {
				delete(after.Fields, id)
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				return Row{}, err
			}
			after.Fields[id] = b
		}
	}
	return after, nil
}

func pathKey(p []any, i int) (string, bool) {
	if len(p) <= i {
		return "", false
	}
	s, ok := p[i].(string)
	return s, ok
}

// RowImager completes compact rows_updated events (Complete), finding the
// row before the change; rowimage.Images is the implementation.
type RowImager interface {
	// Expand completes ev, the event at offset of the table's stream.
	Expand(ctx context.Context, tableID int64, offset uint64, ev *RowsUpdated) error
}

type wholeRowsKey struct{}

// compactMark is how a compact rows_updated's JSON shows itself: a member
// "row" holding an object (a whole rows_updated has "rows").
var compactMark = []byte(`"row":{`)

// WholeRowsData returns an event's payload as the renderers that need
// whole rows read it: data itself, unless it is a compact rows_updated,
// which im completes and which is encoded again, once per m (nil: every
// call). An error is im's: the row before could not be found.
func WholeRowsData(ctx context.Context, m Memoizer, im RowImager, typ string, tableID int64, offset uint64, data []byte) ([]byte, error) {
	if typ != EventRowsUpdated || !bytes.Contains(data, compactMark) {
		return data, nil
	}
	derive := func() (any, error) {
		var ev RowsUpdated
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, err
		}
		if !ev.Compact() {
			return []byte(data), nil
		}
		if im == nil {
			return nil, fmt.Errorf("event: rows_updated at %d of table %d holds no rows and no row images are kept", offset, tableID)
		}
		if err := im.Expand(ctx, tableID, offset, &ev); err != nil {
			return nil, err
		}
		ev.Row = nil
		return json.Marshal(&ev)
	}
	var v any
	var err error
	if m != nil {
		v, err = m.Memo(wholeRowsKey{}, derive)
	} else {
		v, err = derive()
	}
	if err != nil {
		return nil, err
	}
	b, _ := v.([]byte)
	return b, nil
}

// AppendCompactRowsUpdated appends the JSON of a submit's compact
// rows_updated, byte for byte json.Marshal's of RowsUpdated{TableMeta: m,
// Op: op, Row: &h, UpdatedFieldIDs: changed, Decimals: d}, without
// reflection: a submit writes one per op.
func AppendCompactRowsUpdated(b []byte, m TableMeta, op json.RawMessage, h RowHead, changed []int64, d Decimals) ([]byte, error) {
	b = append(b, `{"table_id":`...)
	b = strconv.AppendInt(b, m.TableID, 10)
	b = append(b, `,"workspace_id":`...)
	b = strconv.AppendInt(b, m.WorkspaceID, 10)
	b = append(b, `,"actor":`...)
	b = jsonscan.AppendString(b, m.Actor)
	b = append(b, `,"origin":`...)
	b = jsonscan.AppendString(b, m.Origin)
	if m.Src != "" {
		b = append(b, `,"src":`...)
		b = jsonscan.AppendString(b, m.Src)
	}
	if m.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, m.Seq, 10)
	}
	var err error
	if r := m.Reply; r != nil {
		b = append(b, `,"reply":{"c":`...)
		b = jsonscan.AppendString(b, r.Collection)
		b = append(b, `,"d":`...)
		b = strconv.AppendInt(b, r.Doc, 10)
		if r.Tag != "" {
			b = append(b, `,"t":`...)
			b = jsonscan.AppendString(b, r.Tag)
		}
		if len(r.Fixup) > 0 {
			b = append(b, `,"f":`...)
			if b, err = appendRawJSON(b, r.Fixup); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	if len(op) > 0 {
		b = append(b, `,"op":`...)
		if b, err = appendRawJSON(b, op); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"row":{"id":`...)
	b = strconv.AppendInt(b, h.ID, 10)
	b = append(b, `,"order":`...)
	b = jsonscan.AppendString(b, h.Order)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, h.Version, 10)
	for _, t := range []struct {
		name string
		at   time.Time
	}{{`,"created_at":`, h.CreatedAt}, {`,"updated_at":`, h.UpdatedAt}, {`,"before_updated_at":`, h.UpdatedBefore}} {
		b = append(b, t.name...)
		if b, err = appendTime(b, t.at); err != nil {
			return nil, err
		}
	}
	b = append(b, `},"rows":null,"rows_before":null,"updated_field_ids":`...)
	if changed == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, id := range changed {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		b = append(b, ']')
	}
	if len(d) > 0 {
		keys := make([]string, 0, len(d))
		for id := range d {
			keys = append(keys, strconv.FormatInt(id, 10))
		}
		slices.Sort(keys) // json.Marshal sorts map keys as strings
		b = append(b, `,"decimals":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			id, _ := strconv.ParseInt(k, 10, 64)
			b = append(append(append(b, '"'), k...), `":`...)
			b = strconv.AppendInt(b, int64(d[id]), 10)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendRawJSON appends raw as json.Marshal writes a json.RawMessage:
// compact, with <, >, & and U+2028/2029 escaped. raw is JSON; what is
// written so already (json.Marshal's own output) is copied as it is.
func appendRawJSON(b []byte, raw []byte) ([]byte, error) {
	if jsonscan.RawVerbatim(raw) {
		return append(b, raw...), nil
	}
	out, err := json.Marshal(json.RawMessage(raw))
	return append(b, out...), err
}
