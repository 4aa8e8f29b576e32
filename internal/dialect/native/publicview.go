package native

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/tablecast/tablecast/internal/dialect/publicview"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
)

// A `publicview_<slug>` subscription receives a public view's projection of
// its table's events as `op` messages on `record` documents (the rows the
// view shows, with only the fields it shows): the projection the Baserow
// dialect renders as its view pages (internal/dialect/publicview decides
// which rows the view sees). Any authenticated user may subscribe, with
// `data.token` for a view with a password.
//
// In the hub the subscription is npv/<table id>, document <view id>: a name
// no client can spell (it holds '/'), on the table's stream (StreamOf), so
// it replays from the outbox and carries the table's offsets like record_T.
const publicViewPrefix = "publicview_"

// PublicViews serves the publicview_<slug> collections: the views'
// definitions (read once per table and schema change, per node) and the
// views with subscribers on this node.
type PublicViews struct {
	defs *publicview.Defs
	log  *slog.Logger

	mu      sync.Mutex
	watched map[int64]map[int64]*watch // table → view → its subscriptions on this node
}

type watch struct {
	n    int
	slug string
}

// NewPublicViews returns the public views of store, for the renderer
// (RendererWith) and the server (Config.PublicViews).
func NewPublicViews(store publicview.Store, log *slog.Logger) *PublicViews {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PublicViews{defs: publicview.NewDefs(store, log), log: log, watched: map[int64]map[int64]*watch{}}
}

// RendererWith returns the native renderer that also renders public views.
func RendererWith(pv *PublicViews) hub.Renderer { return renderer{pv: pv} }

func publicViewCollection(tableID int64) string { return "npv/" + strconv.FormatInt(tableID, 10) }

// StreamOf names the table stream of a native public view's hub
// collection (npv/T: table:T).
func StreamOf(collection string) (string, bool) {
	rest, ok := strings.CutPrefix(collection, "npv/")
	if !ok {
		return "", false
	}
	if id, err := strconv.ParseInt(rest, 10, 64); err != nil || id <= 0 {
		return "", false
	}
	return "table:" + rest, true
}

// pvSub is one publicview_<slug> subscription of a session.
type pvSub struct {
	tableID, viewID int64
	slug            string
}

func (pv *PublicViews) hold(s pvSub, n int) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	views := pv.watched[s.tableID]
	if views == nil {
		views = map[int64]*watch{}
		pv.watched[s.tableID] = views
	}
	w := views[s.viewID]
	if w == nil {
		w = &watch{slug: s.slug}
		views[s.viewID] = w
	}
	if w.n += n; w.n <= 0 {
		delete(views, s.viewID)
	}
	if len(views) == 0 {
		delete(pv.watched, s.tableID)
		pv.defs.Drop(s.tableID)
	}
}

// views returns the views of a table with subscribers here, and their slugs.
func (pv *PublicViews) views(tableID int64) map[int64]string {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	views := pv.watched[tableID]
	if len(views) == 0 {
		return nil
	}
	out := make(map[int64]string, len(views))
	for id, w := range views {
		out[id] = w.slug
	}
	return out
}

// subscribePublicView subscribes the session to publicview_<slug>.
func (s *session) subscribePublicView(ctx context.Context, in *inbound, col string, since subscribeData) error {
	pv, st := s.srv.cfg.PublicViews, s.srv.cfg.Store
	slug := strings.TrimPrefix(col, publicViewPrefix)
	if pv == nil || st == nil || in.Document != "" || slug == "" {
		return errorf(CodeNotFound, "unknown collection %q", col)
	}
	tableID, viewID, err := st.OpenPublicView(ctx, slug, since.Token)
	if err != nil {
		return storeError(err)
	}
	if err := pv.defs.Ensure(ctx, tableID); err != nil {
		s.srv.log.Warn("native public view refused for now", "conn", s.conn.ID(), "err", err)
		return unavailable("the public view")
	}
	sub := pvSub{tableID: tableID, viewID: viewID, slug: slug}
	s.mu.Lock()
	_, had := s.views[col]
	if !had {
		if s.views == nil {
			s.views = map[string]pvSub{}
		}
		s.views[col] = sub
	}
	s.mu.Unlock()
	if !had {
		pv.hold(sub, 1)
	}
	_, err = s.srv.hub.Subscribe(ctx, s.conn, hub.SubscribeRequest{
		Collection: publicViewCollection(tableID),
		Document:   strconv.FormatInt(viewID, 10),
		Since:      since.Since,
		Reply: func(r hub.SubscribeResult) []byte {
			return encode(&outbound{Type: TypeSubscribe, ID: in.ID, Collection: col,
				Data:      map[string]any{"offset": r.Position.Offset, "epoch": r.Position.Epoch, "recovered": r.Recovered},
				Timestamp: timestamp(s.srv.now())})
		},
	})
	if err != nil && !had {
		s.forgetPublicView(col)
	}
	return s.subscribeError(col, err)
}

// forgetPublicView drops the session's account of a public view
// subscription and reports its hub channel.
func (s *session) forgetPublicView(col string) (pvSub, bool) {
	s.mu.Lock()
	sub, ok := s.views[col]
	delete(s.views, col)
	s.mu.Unlock()
	if ok {
		s.srv.cfg.PublicViews.hold(sub, -1)
	}
	return sub, ok
}

// unsubscribePublicView ends a publicview_<slug> subscription.
func (s *session) unsubscribePublicView(ctx context.Context, col string) {
	if sub, ok := s.forgetPublicView(col); ok {
		s.srv.hub.Unsubscribe(ctx, s.conn, publicViewCollection(sub.tableID), strconv.FormatInt(sub.viewID, 10))
	}
}

// Closed implements hub.SessionCloser: the socket's context ends and the
// public views it held are released.
func (s *session) Closed() {
	s.End()
	s.mu.Lock()
	views := s.views
	s.views = nil
	s.mu.Unlock()
	for _, sub := range views {
		s.srv.cfg.PublicViews.hold(sub, -1)
	}
}

// publicViewName is the client's name of a revoked hub channel (npv/T, V).
func (s *session) publicViewName(collection, document string) (string, bool) {
	if _, ok := StreamOf(collection); !ok {
		return "", false
	}
	s.mu.Lock()
	var name string
	var sub pvSub
	for n, v := range s.views {
		if publicViewCollection(v.tableID) == collection && strconv.FormatInt(v.viewID, 10) == document {
			name, sub = n, v
			delete(s.views, n)
			break
		}
	}
	s.mu.Unlock()
	if name == "" {
		return "", false
	}
	s.srv.cfg.PublicViews.hold(sub, -1)
	return name, true
}

// render renders p's projection through each view of its table with
// subscribers here: one `op` per row the view sees, on publicview_<slug>.
func (pv *PublicViews) render(p *hub.Publication, outs []hub.Output) ([]hub.Output, error) {
	tableID, ok := event.TableOfStream(p.Stream)
	if !ok {
		return outs, nil
	}
	ids := pv.views(tableID)
	if len(ids) == 0 {
		return outs, nil
	}
	schema := publicview.ChangesDefinitions(p.Event)
	var created *event.RowsCreated
	var updated *event.RowsUpdated
	var deleted *event.RowsDeleted
	var err error
	switch p.Event {
	case event.EventRowsCreated:
		created = new(event.RowsCreated)
		err = json.Unmarshal(p.Data, created)
	case event.EventRowsUpdated:
		updated = new(event.RowsUpdated)
		err = json.Unmarshal(p.Data, updated)
	case event.EventRowsDeleted:
		deleted = new(event.RowsDeleted)
		err = json.Unmarshal(p.Data, deleted)
	default:
		if !schema {
			return outs, nil
		}
	}
	if err != nil {
		return outs, fmt.Errorf("native: decode %s: %w", p.Event, err)
	}
	defs, err := pv.defs.ForEvent(tableID, p.Offset, schema)
	if err != nil {
		// Never silence: each view's subscribers are told to subscribe
		// again (from their offset), which reads the definitions anew.
		pv.log.Error("public views not projected; their subscribers are told to resubscribe", "table", tableID, "offset", p.Offset, "err", err)
		for id, slug := range ids {
			outs = append(outs, hub.Output{Collection: publicViewCollection(tableID), Document: strconv.FormatInt(id, 10),
				Frame: encode(&outbound{Type: TypeUnsubscribe, Collection: publicViewPrefix + slug,
					Data: map[string]any{"reason": "unavailable", "reconnect": true}, Timestamp: timestamp(p.Time)})})
		}
		return outs, nil
	}
	if schema {
		return outs, nil // a view's or field's change: see docs/protocol.md
	}
	changes, err := event.MemoChanges(p, p.Event, p.Data)
	if err != nil {
		return outs, fmt.Errorf("native: render %s: %w", p.Event, err)
	}
	byDoc := make(map[int64]*event.DocChange, len(changes))
	for i := range changes {
		if changes[i].Collection == event.RecordCollection(tableID) {
			byDoc[changes[i].DocID] = &changes[i]
		}
	}
	for id := range ids {
		vd := defs.Views[id]
		if vd == nil {
			continue // no longer public: its subscriptions are ending (HandleEvent)
		}
		pr := projector{p: p, vd: vd, doc: strconv.FormatInt(id, 10), col: publicViewCollection(tableID),
			name: publicViewPrefix + vd.View.Slug, changes: byDoc, outs: outs}
		switch {
		case created != nil:
			for _, r := range vd.Matching(created.Rows) {
				pr.create(r)
			}
		case deleted != nil:
			for _, r := range vd.Matching(deleted.Rows) {
				pr.del(r)
			}
		case updated != nil:
			u := vd.ProjectUpdated(updated)
			for _, r := range u.Left {
				pr.del(r)
			}
			for _, r := range u.Stayed {
				pr.op(r)
			}
			for _, r := range u.Entered {
				pr.create(r)
			}
		}
		outs = pr.outs
	}
	return outs, nil
}

// projector renders one event's rows through one view.
type projector struct {
	p       *hub.Publication
	vd      *publicview.View
	col     string // the hub channel: npv/T, document doc
	doc     string
	name    string // the client's collection: publicview_<slug>
	changes map[int64]*event.DocChange
	outs    []hub.Output
}

// version is the version the row's change in this event applies to.
func (pr *projector) version(rowID int64) *int64 {
	if c := pr.changes[rowID]; c != nil && c.HasV {
		v := c.V
		return &v
	}
	return nil
}

func (pr *projector) emit(rowID int64, d opData) {
	d.Source = "server" // a public view does not say who made the change
	doc := strconv.FormatInt(rowID, 10)
	pr.outs = append(pr.outs, hub.Output{Collection: pr.col, Document: pr.doc,
		Frame: encode(&outbound{Type: TypeOp, Collection: pr.name, Document: doc, Offset: &pr.p.Offset, Data: d,
			Timestamp: timestamp(pr.p.Time)})})
}

// create: a row the view now sees, with the fields it shows.
func (pr *projector) create(r event.Row) {
	fields := make(map[string]json.RawMessage, len(pr.vd.Visible))
	for _, f := range pr.vd.Visible {
		if v, ok := r.Fields[f]; ok {
			fields[strconv.FormatInt(f, 10)] = v
		}
	}
	data, _ := json.Marshal(struct {
		ID     int64                      `json:"id"`
		Order  string                     `json:"order"`
		Fields map[string]json.RawMessage `json:"fields"`
	}{r.ID, r.Order, fields})
	pr.emit(r.ID, opData{V: pr.version(r.ID), Create: data})
}

// del: a row the view no longer sees (deleted, or out of its filter).
func (pr *projector) del(r event.Row) {
	pr.emit(r.ID, opData{V: pr.version(r.ID), Del: true})
}

// op: a row the view still sees, with a shown field changed: the
// event's op without its components on hidden fields.
func (pr *projector) op(r event.Row) {
	c := pr.changes[r.ID]
	if c == nil || len(c.Op) == 0 {
		return
	}
	var comps []json.RawMessage
	if json.Unmarshal(c.Op, &comps) != nil {
		return
	}
	kept := comps[:0]
	for _, comp := range comps {
		var head struct {
			P []json.RawMessage `json:"p"`
		}
		if json.Unmarshal(comp, &head) != nil {
			continue
		}
		if len(head.P) >= 2 && string(head.P[0]) == `"fields"` {
			var f string
			if json.Unmarshal(head.P[1], &f) != nil {
				continue
			}
			id, err := strconv.ParseInt(f, 10, 64)
			if err != nil || !pr.vd.Shown[id] {
				continue
			}
		}
		kept = append(kept, comp)
	}
	if len(kept) == 0 {
		return
	}
	op, _ := json.Marshal(kept)
	pr.emit(r.ID, opData{V: pr.version(r.ID), Op: op})
}

// HandleEvent is this dialect's part of the hub's event hook: a public
// view made private, given a (new) password, or deleted, and a deleted
// table, end the native subscriptions of the view (`unsubscribe` with
// reason "forbidden").
func (pv *PublicViews) HandleEvent(h *hub.Hub, p *hub.Publication) {
	tableID, ok := event.TableOfStream(p.Stream)
	if !ok {
		return
	}
	switch p.Event {
	case event.EventViewUpdated:
		var ev struct {
			event.ViewUpdated
			PasswordChanged bool `json:"password_changed"`
		}
		if json.Unmarshal(p.Data, &ev) != nil {
			return
		}
		before, after := ev.ViewBefore, ev.View
		if before.Public && (!after.Public || after.HasPassword && (!before.HasPassword || ev.PasswordChanged)) {
			h.RevokeChannel(publicViewCollection(tableID), strconv.FormatInt(after.ID, 10))
		}
	case event.EventViewDeleted:
		var ev event.ViewDeleted
		if json.Unmarshal(p.Data, &ev) == nil {
			h.RevokeChannel(publicViewCollection(tableID), strconv.FormatInt(ev.ViewID, 10))
		}
	case event.EventTableDeleted:
		h.RevokeChannel(publicViewCollection(tableID), "")
	}
}
