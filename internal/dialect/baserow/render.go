package baserow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/tablecast/tablecast/internal/dialect/publicview"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/hub"
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
	defs  *publicview.Defs

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
	return &Renderer{log: cfg.Logger, pages: newPagesIndex(), defs: publicview.NewDefs(cfg.Store, cfg.Logger)}, nil
}

// Projections counts the public view projections computed: one per view
// per event, whatever the number of sockets on the view.
func (r *Renderer) Projections() int64 { return r.projections.Load() }

// DefinitionReads counts the reads of public views' definitions.
func (r *Renderer) DefinitionReads() int64 { return r.defs.Loads() }

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
// per public view watched (its projection), one for the table pages. Row
// pages get none of the row events: in Baserow a row's changes reach the
// table page only (a socket holding both would apply them twice), and
// the row page carries the row's own messages (its history, its
// comments), which tablecast does not have. Events of a table no Baserow
// socket here watches cost one map lookup.
//
// Values are rendered with the table's definitions (viewdefs.go), read
// once per schema change per node: a select's choice, a number's places.
func (r *Renderer) RenderEvent(p *hub.Publication) ([]hub.Output, error) {
	tableID, ok := event.TableOfStream(p.Stream)
	if !ok {
		if ws, isWS := event.WorkspaceOfStream(p.Stream); isWS {
			outs, err := renderWorkspace(p, ws)
			if err != nil {
				return nil, fmt.Errorf("baserow: render %s: %w", p.Event, err)
			}
			return outs, nil
		}
		return nil, nil
	}
	pages := r.pages.of(tableID)
	if pages == nil || (pages.table == 0 && len(pages.views) == 0) {
		return nil, nil
	}
	if p.Event == event.EventWebhookPaused {
		return webhookPaused(p, tableID, pages)
	}
	ev, known, err := decodeEvent(p, tableID)
	if err != nil {
		return nil, fmt.Errorf("baserow: decode %s: %w", p.Event, err)
	}
	if !known {
		return nil, nil
	}
	defs, defsErr := r.defs.ForEvent(tableID, p.Offset, publicview.ChangesDefinitions(p.Event))
	if defsErr != nil {
		r.log.Error("table definitions not read; values go as stored and public views are told to refresh",
			"table", tableID, "offset", p.Offset, "err", defsErr)
	} else {
		ev.defs = defs
		ev.rw.fields = defs.Fields
	}
	var outs []hub.Output
	if len(pages.views) > 0 {
		outs = r.projectViews(ev, pages, outs)
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
func (r *Renderer) projectViews(ev *tableEvent, pages *tablePages, outs []hub.Output) []hub.Output {
	col := viewCollection(ev.tableID)
	if ev.defs == nil {
		for id, slug := range pages.slugs {
			outs = append(outs, hub.Output{Collection: col, Document: strconv.FormatInt(id, 10),
				Frame: ev.forceFrame(TypeForceRowsRefresh, slug)})
		}
		return outs
	}
	for id := range pages.views {
		r.projections.Add(1)
		if frame := ev.project(ev.defs.Views[id], pages.slugs[id]); frame != nil {
			outs = append(outs, hub.Output{Collection: col, Document: strconv.FormatInt(id, 10), Frame: frame})
		}
	}
	return outs
}
