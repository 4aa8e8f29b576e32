package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/webhook"
)

// Admin serves the admin API of http-api.md: stats, broadcast, publish,
// presence, online, disconnect. Every route takes the API key as a bearer
// token; without a configured key the routes answer 404.
type Admin struct {
	Hub     *hub.Hub
	APIKey  string
	MaxBody int64 // default 1 MiB
	Logger  *slog.Logger
	// Webhooks, when set, serves /api/ws/webhooks (admin_webhooks.go).
	Webhooks *webhook.Manager
}

// Register mounts the admin routes on mux.
func (a *Admin) Register(mux Mux) {
	if a.MaxBody <= 0 {
		a.MaxBody = 1 << 20
	}
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	routes := map[string]func(*http.Request, http.ResponseWriter) (any, error){
		"GET /api/ws/stats":              a.stats,
		"GET /api/ws/channels":           a.channels,
		"POST /api/ws/broadcast/channel": a.broadcastChannel,
		"POST /api/ws/broadcast/user":    a.broadcastUser,
		"POST /api/ws/publish/document":  a.publishDocument,
		"POST /api/ws/publish/record":    a.publishTableDoc("record", "record_id"),
		"POST /api/ws/publish/view":      a.publishTableDoc("view", "view_id"),
		"POST /api/ws/publish/field":     a.publishTableDoc("field", "field_id"),
		"GET /api/ws/presence":           a.presence,
		"GET /api/ws/online":             a.online,
		"POST /api/ws/disconnect":        a.disconnect,
	}
	if a.Webhooks != nil {
		for pattern, h := range a.webhookRoutes() {
			routes[pattern] = h
		}
	}
	for pattern, h := range routes {
		mux.Handle(pattern, a.guard(h))
	}
	mux.Handle("/api/ws/", a.guard(func(*http.Request, http.ResponseWriter) (any, error) {
		return nil, &apiError{status: http.StatusNotFound, code: "not_found", message: "no such admin endpoint"}
	}))
}

// RegisterElsewhere answers every /api/ws/ path but the socket with a JSON
// 404 on a listener that does not serve the admin API (the public one when
// TABLECAST_INTERNAL_LISTEN is set).
func RegisterElsewhere(mux Mux) {
	mux.Handle("/api/ws/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, nil, &apiError{status: http.StatusNotFound, code: "not_found", message: "no such endpoint on this listener"})
	}))
}

func (a *Admin) guard(h func(*http.Request, http.ResponseWriter) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.APIKey == "" {
			writeError(w, a.Logger, &apiError{status: http.StatusNotFound, code: "not_found", message: "the admin API is off: set TABLECAST_API_KEY"})
			return
		}
		if !auth.APIKeyMatches(r.Header.Get("Authorization"), a.APIKey) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tablecast admin"`)
			writeError(w, a.Logger, &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "send the API key as Authorization: Bearer <key>"})
			return
		}
		v, err := h(r, w)
		if err != nil {
			writeError(w, a.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// clusterStats is /api/ws/stats with a cluster: the totals of every live
// node, this node's id and uptime, and one row per node.
type clusterStats struct {
	hub.Stats
	Nodes []hub.Stats `json:"nodes"`
}

func (a *Admin) stats(r *http.Request, _ http.ResponseWriter) (any, error) {
	if !a.Hub.Clustered() {
		return a.Hub.Stats(), nil
	}
	nodes, err := a.Hub.NodesStats(r.Context())
	if err != nil {
		a.Logger.Warn("cluster stats unavailable; answering with this node's", "err", err)
	}
	out := clusterStats{Stats: nodes[0], Nodes: nodes}
	for _, n := range nodes[1:] {
		out.Connections += n.Connections
		out.Users += n.Users // a user on two nodes counts twice
		out.Channels += n.Channels
		out.Subscriptions += n.Subscriptions
		out.MessagesIn += n.MessagesIn
		out.MessagesOut += n.MessagesOut
		out.BytesOut += n.BytesOut
		out.DroppedSlow += n.DroppedSlow
	}
	return out, nil
}

// channelsLimitMax bounds GET /api/ws/channels?limit=.
const channelsLimitMax = 1000

// channels lists this node's channels with the most subscribers.
func (a *Admin) channels(r *http.Request, _ http.ResponseWriter) (any, error) {
	limit := 10
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > channelsLimitMax {
			return nil, badRequest(map[string]string{"limit": "must be an integer from 1 to 1000"})
		}
		limit = n
	}
	top := a.Hub.TopChannels(limit)
	if top == nil {
		top = []hub.ChannelCount{}
	}
	return map[string]any{"node_id": a.Hub.Stats().NodeID, "channels": top}, nil
}

// publishResult is every publishing endpoint's answer.
type publishResult struct {
	Delivered int64   `json:"delivered"` // local connections reached
	Offset    *uint64 `json:"offset,omitempty"`
	Epoch     string  `json:"epoch,omitempty"`
}

func (a *Admin) publish(r *http.Request, p *hub.Publication) (any, error) {
	pos, err := a.Hub.Publish(r.Context(), p)
	if err != nil {
		if errors.Is(err, hub.ErrClosed) {
			return nil, &apiError{status: http.StatusServiceUnavailable, code: "unavailable", message: "server shutting down"}
		}
		if errors.Is(err, hub.ErrUnavailable) {
			a.Logger.Warn("admin publish refused: the broker is away", "err", err)
			return nil, unavailable("the broker is unavailable: retry")
		}
		return nil, err
	}
	res := publishResult{Delivered: p.Delivered()}
	if p.Kind.Streamed() {
		res.Offset, res.Epoch = &pos.Offset, pos.Epoch
	}
	return res, nil
}

func (a *Admin) broadcastChannel(r *http.Request, w http.ResponseWriter) (any, error) {
	var body struct {
		Channel string          `json:"channel"`
		Message json.RawMessage `json:"message"`
		Exclude []string        `json:"exclude"`
	}
	if err := decodeBody(w, r, a.MaxBody, &body); err != nil {
		return nil, err
	}
	details := map[string]string{}
	col, doc, ok := hub.SplitChannel(body.Channel)
	if !ok {
		details["channel"] = "must be a collection or collection.document of [A-Za-z0-9_:-]{1,128}"
	}
	requireJSON(details, "message", body.Message)
	checkIDs(details, "exclude", body.Exclude)
	if len(details) > 0 {
		return nil, badRequest(details)
	}
	return a.publish(r, &hub.Publication{Kind: hub.KindMessage, Collection: col, Document: doc, Data: body.Message, Exclude: body.Exclude})
}

func (a *Admin) broadcastUser(r *http.Request, w http.ResponseWriter) (any, error) {
	var body struct {
		UserID  string          `json:"user_id"`
		Message json.RawMessage `json:"message"`
		Exclude []string        `json:"exclude"`
	}
	if err := decodeBody(w, r, a.MaxBody, &body); err != nil {
		return nil, err
	}
	details := map[string]string{}
	if body.UserID == "" || len(body.UserID) > 256 {
		details["user_id"] = "is required (at most 256 characters)"
	}
	requireJSON(details, "message", body.Message)
	checkIDs(details, "exclude", body.Exclude)
	if len(details) > 0 {
		return nil, badRequest(details)
	}
	return a.publish(r, &hub.Publication{Kind: hub.KindUser, Target: hub.Target{UserID: body.UserID}, Data: body.Message, Exclude: body.Exclude})
}

func (a *Admin) publishDocument(r *http.Request, w http.ResponseWriter) (any, error) {
	var body struct {
		Collection string          `json:"collection"`
		Document   string          `json:"document"`
		Operation  json.RawMessage `json:"operation"`
	}
	if err := decodeBody(w, r, a.MaxBody, &body); err != nil {
		return nil, err
	}
	details := map[string]string{}
	if !hub.ValidName(body.Collection) {
		details["collection"] = "is required: 1-128 of [A-Za-z0-9_:-]"
	}
	if !hub.ValidName(body.Document) {
		details["document"] = "is required: 1-128 of [A-Za-z0-9_:-]"
	}
	requireArray(details, "operation", body.Operation)
	if len(details) > 0 {
		return nil, badRequest(details)
	}
	return a.publish(r, opPublication(body.Collection, body.Document, body.Operation))
}

// publishTableDoc serves publish/record, /view and /field: an op on a
// document of <kind>_<table_id>.
func (a *Admin) publishTableDoc(kind, docField string) func(*http.Request, http.ResponseWriter) (any, error) {
	return func(r *http.Request, w http.ResponseWriter) (any, error) {
		var raw map[string]json.RawMessage
		if err := decodeBody(w, r, a.MaxBody, &raw); err != nil {
			return nil, err
		}
		details := map[string]string{}
		for k := range raw {
			if k != "table_id" && k != docField && k != "operation" {
				details[k] = "is not a known field"
			}
		}
		table := idField(details, "table_id", raw["table_id"])
		doc := idField(details, docField, raw[docField])
		requireArray(details, "operation", raw["operation"])
		collection := kind + "_" + table
		if table != "" && !hub.ValidName(collection) {
			details["table_id"] = "makes a collection name outside [A-Za-z0-9_:-]{1,128}"
		}
		if len(details) > 0 {
			return nil, badRequest(details)
		}
		return a.publish(r, opPublication(collection, doc, raw["operation"]))
	}
}

func opPublication(collection, document string, op json.RawMessage) *hub.Publication {
	data, _ := json.Marshal(map[string]any{"op": op, "source": "server"})
	return &hub.Publication{Kind: hub.KindOp, Collection: collection, Document: document, Data: data}
}

func (a *Admin) presence(r *http.Request, _ http.ResponseWriter) (any, error) {
	channel := r.URL.Query().Get("channel")
	col, doc, ok := hub.SplitChannel(channel)
	if !ok {
		return nil, badRequest(map[string]string{"channel": "query parameter required: a collection or collection.document"})
	}
	list := a.Hub.PresenceAll(r.Context(), col, doc)
	if list == nil {
		list = []hub.PresenceInfo{}
	}
	return map[string]any{"channel": channel, "presence": list}, nil
}

func (a *Admin) online(r *http.Request, _ http.ResponseWriter) (any, error) {
	user := r.URL.Query().Get("user_id")
	if user == "" {
		return nil, badRequest(map[string]string{"user_id": "query parameter required"})
	}
	sessions := a.Hub.OnlineAll(r.Context(), user)
	return map[string]any{"user_id": user, "online": len(sessions) > 0, "sessions": sessions}, nil
}

func (a *Admin) disconnect(r *http.Request, w http.ResponseWriter) (any, error) {
	var body struct {
		UserID       string `json:"user_id"`
		ConnectionID string `json:"connection_id"`
		Reconnect    bool   `json:"reconnect"`
	}
	if err := decodeBody(w, r, a.MaxBody, &body); err != nil {
		return nil, err
	}
	if body.UserID == "" && body.ConnectionID == "" {
		return nil, badRequest(map[string]string{"user_id": "user_id or connection_id is required", "connection_id": "user_id or connection_id is required"})
	}
	p, err := a.Hub.Disconnect(r.Context(), hub.DisconnectRequest{UserID: body.UserID, ConnectionID: body.ConnectionID, Reconnect: body.Reconnect})
	if err != nil {
		return nil, err
	}
	return map[string]any{"disconnected": p.Delivered()}, nil
}

func requireJSON(details map[string]string, field string, v json.RawMessage) {
	if len(v) == 0 || string(v) == "null" {
		details[field] = "is required"
	}
}

func requireArray(details map[string]string, field string, v json.RawMessage) {
	s := strings.TrimSpace(string(v))
	if len(s) == 0 || s[0] != '[' {
		details[field] = "is required: a JSON array of operation components"
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		details[field] = "must be a JSON array"
	}
}

func checkIDs(details map[string]string, field string, ids []string) {
	if len(ids) > 10000 {
		details[field] = "lists too many ids (at most 10000)"
		return
	}
	for _, id := range ids {
		if id == "" || len(id) > 128 {
			details[field] = "must list non-empty connection ids"
			return
		}
	}
}

// idField reads an id given as a string or an integer.
func idField(details map[string]string, field string, v json.RawMessage) string {
	var s string
	if err := json.Unmarshal(v, &s); err == nil && s != "" {
		if !hub.ValidName(s) {
			details[field] = "must be 1-128 of [A-Za-z0-9_:-]"
			return ""
		}
		return s
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		if _, err := n.Int64(); err == nil {
			return n.String()
		}
	}
	details[field] = "is required: a string or an integer id"
	return ""
}
