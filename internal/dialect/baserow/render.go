package baserow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/transport"
)

// RendererConfig configures the Renderer.
type RendererConfig struct {
	Store  Store // required: public views' definitions
	Logger *slog.Logger
}

// Renderer renders the hub's publications for Baserow sockets
// (hub.EventRenderer). It owns the index of the pages this node's sockets
// hold and the definitions of the public views they watch; the Server
// shares them.
type Renderer struct {
	log   *slog.Logger
	pages *pagesIndex
	defs  *viewDefs

	projections atomic.Int64 // one per view per event projected
}

var (
	_ hub.Renderer      = (*Renderer)(nil)
	_ hub.EventRenderer = (*Renderer)(nil)
)

// NewRenderer returns the renderer, to register with the hub at DialectID.
func NewRenderer(cfg RendererConfig) (*Renderer, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("baserow: the renderer needs a Store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Renderer{log: cfg.Logger, pages: newPagesIndex(), defs: newViewDefs(cfg.Store, cfg.Logger)}, nil
}

// Projections counts the public view projections computed: one per view
// per event, whatever the number of sockets on the view.
func (r *Renderer) Projections() int64 { return r.projections.Load() }

// DefinitionReads counts the reads of public views' definitions.
func (r *Renderer) DefinitionReads() int64 { return r.defs.loads.Load() }

// Render implements hub.Renderer for what is not a stream event. Only a
// message to a user (admin broadcast/user) reaches a Baserow socket: a JSON
// object with a string "type" is sent as it is (Baserow's messages are
// such objects), anything else as {"type":"message","data":...}.
func (r *Renderer) Render(p *hub.Publication) ([]byte, error) {
	if p.Kind != hub.KindUser {
		return nil, fmt.Errorf("baserow: cannot render publication kind %s", p.Kind)
	}
	if typed(p.Data) {
		return transport.TextFrame(bytes.Clone(p.Data)), nil
	}
	data := p.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	var w buf
	w.open("message")
	w.key("data")
	w.bytes(data)
	w.raw("}")
	return w.frame(), nil
}

func typed(data json.RawMessage) bool {
	var head struct {
		Type *string `json:"type"`
	}
	trimmed := bytes.TrimSpace(data)
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &head) == nil && head.Type != nil && *head.Type != ""
}

// RenderEvent implements hub.EventRenderer. An event of table T's stream
// becomes, for the pages of T held on this node, in this order: one frame
// per public view watched (its projection), one per row page of a changed
// row, one for the table pages. A socket holding several pages of the
// table receives them in that order, each once. Events of a table no
// Baserow socket here watches cost one map lookup.
func (r *Renderer) RenderEvent(p *hub.Publication) ([]hub.Output, error) {
	tableID, ok := streamTable(p.Stream)
	if !ok {
		return nil, nil // workspace streams: nothing here is a page of them
	}
	pages := r.pages.of(tableID)
	if pages == nil {
		return nil, nil
	}
	if p.Event == service.EventWebhookPaused {
		return webhookPaused(p, tableID, pages)
	}
	ev, known, err := decodeEvent(p, tableID)
	if err != nil {
		return nil, fmt.Errorf("baserow: decode %s: %w", p.Event, err)
	}
	if !known {
		return nil, nil
	}
	var outs []hub.Output
	if len(pages.views) > 0 {
		outs = r.projectViews(ev, pages, outs)
	}
	if len(pages.rows) > 0 {
		outs = ev.rowOutputs(pages.rows, outs)
	}
	if pages.table > 0 {
		frame, err := ev.tableFrame()
		if err != nil {
			return nil, fmt.Errorf("baserow: render %s: %w", p.Event, err)
		}
		if frame != nil {
			outs = append(outs, hub.Output{Collection: tableCollection(tableID), Frame: frame})
		}
	}
	return outs, nil
}

// projectViews computes each watched view's projection of the event,
// once. Without the views' definitions (the store failed), each watched
// view is told to refresh: its sockets refetch rather than miss the event.
func (r *Renderer) projectViews(ev *event, pages *tablePages, outs []hub.Output) []hub.Output {
	col := viewCollection(ev.tableID)
	defs, err := r.defs.forEvent(ev.tableID, ev.p.Offset, changesDefinitions(ev.p.Event))
	if err != nil {
		r.log.Error("public views not projected; their pages are told to refresh", "table", ev.tableID, "offset", ev.p.Offset, "err", err)
		for id, slug := range pages.slugs {
			outs = append(outs, hub.Output{Collection: col, Document: strconv.FormatInt(id, 10),
				Frame: ev.forceFrame(TypeForceViewRefresh, slug)})
		}
		return outs
	}
	for id := range pages.views {
		r.projections.Add(1)
		if frame := ev.project(defs.views[id], pages.slugs[id]); frame != nil {
			outs = append(outs, hub.Output{Collection: col, Document: strconv.FormatInt(id, 10), Frame: frame})
		}
	}
	return outs
}

// streamTable reads "table:T".
func streamTable(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, "table:")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}
