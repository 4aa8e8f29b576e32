package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// MaxBatch is the most events one call may carry.
const MaxBatch = 100

// Manager is what the REST API does with webhooks. Callers check that the
// user is an admin of the webhook's table first (Table gives it).
type Manager struct {
	Store        Store
	AllowPrivate bool
	// Changed, if set, is called after a webhook changed
	// (Dispatcher.Changed).
	Changed func(ctx context.Context, id int64)
}

// Input is a webhook's settings as a request gives them; nil keeps the
// current value (or takes the default on creation).
type Input struct {
	URL       *string            `json:"url"`
	Events    *[]string          `json:"events"`
	Headers   *map[string]string `json:"headers"`
	Active    *bool              `json:"active"`
	OnFailure *string            `json:"on_failure"`
	Batch     *int               `json:"batch"`
}

// View is a webhook as the REST API shows it.
type View struct {
	ID              int64             `json:"id"`
	TableID         int64             `json:"table_id"`
	URL             string            `json:"url"`
	Events          []string          `json:"events"`
	Headers         map[string]string `json:"headers"`
	Active          bool              `json:"active"`
	OnFailure       string            `json:"on_failure"`
	Batch           int               `json:"batch"`
	Status          string            `json:"status"`
	PausedReason    *string           `json:"paused_reason"`
	DeliveredOffset uint64            `json:"delivered_offset"`
	Lag             uint64            `json:"lag"`
	CreatedBy       string            `json:"created_by"`
	CreatedAt       time.Time         `json:"created_at"`
	// Secret is shown when the webhook is created and when its secret is
	// rotated, never else.
	Secret string `json:"secret,omitempty"`
}

// DeadLetterView is a dead letter as the REST API shows it.
type DeadLetterView struct {
	ID        int64     `json:"id"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Offset    uint64    `json:"offset"`
	Attempts  []Attempt `json:"attempts"`
	// Redeliver is true while a redelivery is pending.
	Redeliver bool            `json:"redeliver"`
	CreatedAt time.Time       `json:"created_at"`
	Payload   json.RawMessage `json:"payload"`
}

func notFound(id int64) error {
	return &event.Error{Kind: event.ErrNotFound, Message: fmt.Sprintf("webhook %d does not exist", id)}
}

func mapErr(err error, id int64) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(id)
	case errors.Is(err, store.ErrConflict):
		return &event.Error{Kind: event.ErrConflict, Message: fmt.Sprintf("webhook %d changed meanwhile; try again", id)}
	}
	return err
}

// Table returns the table of a webhook (ErrNotFound as a service error).
func (m *Manager) Table(ctx context.Context, id int64) (int64, error) {
	w, err := m.Store.Webhook(ctx, id)
	if err != nil {
		return 0, mapErr(err, id)
	}
	return w.TableID, nil
}

func (m *Manager) view(ctx context.Context, w store.Webhook) (View, error) {
	v := View{ID: w.ID, TableID: w.TableID, URL: w.URL, Active: w.Active, OnFailure: w.OnFailure, Batch: w.Batch,
		Status: w.Status, DeliveredOffset: w.DeliveredOffset, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt}
	_ = json.Unmarshal(w.Events, &v.Events)
	_ = json.Unmarshal(w.Headers, &v.Headers)
	if v.Events == nil {
		v.Events = []string{"*"}
	}
	if v.Headers == nil {
		v.Headers = map[string]string{}
	}
	if w.Status == store.WebhookPaused {
		r := w.PausedReason
		v.PausedReason = &r
	}
	top, err := m.Store.StreamTop(ctx, store.TableStream(w.TableID))
	if err != nil {
		return View{}, err
	}
	if top > w.DeliveredOffset {
		v.Lag = top - w.DeliveredOffset
	}
	return v, nil
}

// reservedHeaders are set by the dispatcher and cannot be given.
var reservedHeaders = []string{"content-type", "content-length", "host", "user-agent", HeaderID,
	HeaderTimestamp, HeaderSignature, "transfer-encoding", "connection"}

// apply validates in onto w.
func (m *Manager) apply(w *store.Webhook, in Input) error {
	var v table.ValidationError
	if in.URL != nil {
		w.URL = strings.TrimSpace(*in.URL)
		if msg := m.checkURL(w.URL); msg != "" {
			v.Add("url", msg)
		}
	}
	if in.Events != nil {
		list := *in.Events
		if len(list) == 0 {
			v.Add("events", `give "*" or at least one event name`)
		}
		for _, n := range list {
			if n != "*" && !slices.Contains(EventNames(), n) {
				v.Add("events", fmt.Sprintf("%q is not an event name: use \"*\" or %s", n, strings.Join(EventNames(), ", ")))
				break
			}
		}
		w.Events, _ = json.Marshal(list)
	}
	if in.Headers != nil {
		for k, val := range *in.Headers {
			if k == "" || !validHeaderName(k) || strings.ContainsAny(val, "\r\n\x00") {
				v.Add("headers", fmt.Sprintf("%q is not a valid header", k))
				break
			}
			if slices.Contains(reservedHeaders, strings.ToLower(k)) {
				v.Add("headers", fmt.Sprintf("%s is set by tablecast", k))
				break
			}
		}
		w.Headers, _ = json.Marshal(*in.Headers)
	}
	if in.Active != nil {
		w.Active = *in.Active
	}
	if in.OnFailure != nil {
		w.OnFailure = *in.OnFailure
		if w.OnFailure != "pause" && w.OnFailure != "skip" {
			v.Add("on_failure", `must be "pause" or "skip"`)
		}
	}
	if in.Batch != nil {
		w.Batch = *in.Batch
		if w.Batch < 1 || w.Batch > MaxBatch {
			v.Add("batch", fmt.Sprintf("must be from 1 to %d", MaxBatch))
		}
	}
	return v.Err()
}

func validHeaderName(k string) bool {
	for _, c := range k {
		if c > 0x7e || c <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return http.CanonicalHeaderKey(k) != ""
}

// checkURL says what is wrong with a webhook URL, "" if nothing. A name is
// checked when it is dialled (it may resolve differently later); a literal
// address now.
func (m *Manager) checkURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an http:// or https:// URL"
	}
	if u.User != nil {
		return "must not hold a user or password (use headers)"
	}
	if len(raw) > 2048 {
		return "must be at most 2048 bytes"
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !m.AllowPrivate && !publicAddr(ip) {
		return "must not be a loopback, private or link-local address"
	}
	return ""
}

func (m *Manager) changed(ctx context.Context, id int64) {
	if m.Changed != nil {
		m.Changed(ctx, id)
	}
}

// Create makes a webhook on a table; its secret is shown this once.
func (m *Manager) Create(ctx context.Context, tableID int64, creator string, in Input) (View, error) {
	w := store.Webhook{TableID: tableID, Events: json.RawMessage(`["*"]`), Headers: json.RawMessage(`{}`),
		Active: true, OnFailure: "pause", Batch: 1, Secret: NewSecret(), CreatedBy: creator}
	if in.URL == nil {
		return View{}, (&table.ValidationError{}).Add("url", "is required").Err()
	}
	if err := m.apply(&w, in); err != nil {
		return View{}, err
	}
	created, err := m.Store.CreateWebhook(ctx, w)
	if err != nil {
		return View{}, err
	}
	m.changed(ctx, created.ID)
	v, err := m.view(ctx, created)
	v.Secret = created.Secret
	return v, err
}

// List lists a table's webhooks.
func (m *Manager) List(ctx context.Context, tableID int64) ([]View, error) {
	ws, err := m.Store.TableWebhooks(ctx, tableID)
	if err != nil {
		return nil, err
	}
	return m.views(ctx, ws)
}

// Get returns a webhook.
func (m *Manager) Get(ctx context.Context, id int64) (View, error) {
	w, err := m.Store.Webhook(ctx, id)
	if err != nil {
		return View{}, mapErr(err, id)
	}
	return m.view(ctx, w)
}

// Update changes a webhook's settings.
func (m *Manager) Update(ctx context.Context, id int64, in Input) (View, error) {
	w, err := m.Store.Webhook(ctx, id)
	if err != nil {
		return View{}, mapErr(err, id)
	}
	if err := m.apply(&w, in); err != nil {
		return View{}, err
	}
	w, err = m.Store.UpdateWebhook(ctx, w)
	if err != nil {
		return View{}, mapErr(err, id)
	}
	m.changed(ctx, id)
	return m.view(ctx, w)
}

// Delete deletes a webhook with its dead letters.
func (m *Manager) Delete(ctx context.Context, id int64) error {
	return mapErr(m.Store.DeleteWebhook(ctx, id), id)
}

// RotateSecret gives the webhook a new secret, shown this once. Calls
// made from then on are signed with it (a retry too).
func (m *Manager) RotateSecret(ctx context.Context, id int64) (View, error) {
	secret := NewSecret()
	if err := m.Store.SetWebhookSecret(ctx, id, secret); err != nil {
		return View{}, mapErr(err, id)
	}
	m.changed(ctx, id)
	v, err := m.Get(ctx, id)
	v.Secret = secret
	return v, err
}

// Resume makes a paused webhook try again where it stopped.
func (m *Manager) Resume(ctx context.Context, id int64) (View, error) {
	if err := m.Store.ResumeWebhook(ctx, id); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return View{}, &event.Error{Kind: event.ErrConflict, Message: fmt.Sprintf("webhook %d is not paused", id)}
		}
		return View{}, mapErr(err, id)
	}
	m.changed(ctx, id)
	return m.Get(ctx, id)
}

// Skip moves the events a paused webhook stopped at (the call that
// failed) to its dead letters, and makes it go on after them.
func (m *Manager) Skip(ctx context.Context, id int64) (View, error) {
	w, err := m.Store.Webhook(ctx, id)
	if err != nil {
		return View{}, mapErr(err, id)
	}
	if w.Status != store.WebhookPaused {
		return View{}, &event.Error{Kind: event.ErrConflict, Message: fmt.Sprintf("webhook %d is not paused", id)}
	}
	adv := store.WebhookAdvance{ID: id, From: w.DeliveredOffset, To: w.DeliveredOffset, Resume: true}
	evs, err := m.Store.Events(ctx, store.TableStream(w.TableID), w.DeliveredOffset, readBatch)
	switch {
	case errors.Is(err, store.ErrPruned):
		// What it stopped at is gone: go on from the oldest event kept.
		// When that is the event it stopped at (kept, but it cannot be
		// completed any more: a compact event whose whole row was pruned),
		// go on after it.
		oldest, oerr := m.Store.OldestEventOffset(ctx, store.TableStream(w.TableID))
		if oerr != nil {
			return View{}, oerr
		}
		adv.To = max(oldest-1, w.DeliveredOffset+1)
		evs = nil
	case err != nil:
		return View{}, err
	}
	if len(evs) > 0 {
		b, err := collect(w, renderAll(evs))
		if err != nil {
			return View{}, err
		}
		adv.To = b.to
		attempts := w.PausedAttempts
		for i, p := range b.payloads {
			one := b.one(w, i)
			adv.Dead = append(adv.Dead, store.DeadLetter{Offset: p.Offset, EventType: p.EventType, Body: one, Attempts: attempts})
		}
	}
	if err := m.Store.AdvanceWebhook(ctx, adv); err != nil {
		return View{}, mapErr(err, id)
	}
	m.changed(ctx, id)
	return m.Get(ctx, id)
}

// DeadLetters lists a webhook's dead letters by offset.
func (m *Manager) DeadLetters(ctx context.Context, id int64) ([]DeadLetterView, error) {
	dls, err := m.Store.DeadLetters(ctx, id)
	if err != nil {
		return nil, mapErr(err, id)
	}
	out := make([]DeadLetterView, 0, len(dls))
	for _, dl := range dls {
		v := DeadLetterView{ID: dl.ID, EventType: dl.EventType, Offset: dl.Offset, Redeliver: dl.Redeliver,
			CreatedAt: dl.CreatedAt, Payload: dl.Body, Attempts: []Attempt{}}
		var p Payload
		if json.Unmarshal(dl.Body, &p) == nil {
			v.EventID = p.EventID
		}
		_ = json.Unmarshal(dl.Attempts, &v.Attempts)
		out = append(out, v)
	}
	return out, nil
}

// Redeliver asks for one dead letter (dl > 0) or all to be sent again, in
// offset order, by the node delivering the webhook; one delivered leaves
// the dead letters. It reports how many were asked for.
func (m *Manager) Redeliver(ctx context.Context, id, dl int64) (int64, error) {
	n, err := m.Store.RedeliverDeadLetters(ctx, id, dl)
	if errors.Is(err, store.ErrNotFound) {
		return 0, &event.Error{Kind: event.ErrNotFound, Message: fmt.Sprintf("dead letter %d of webhook %d does not exist", dl, id)}
	}
	m.changed(ctx, id)
	return n, err
}

// DeleteDeadLetter discards a dead letter.
func (m *Manager) DeleteDeadLetter(ctx context.Context, id, dl int64) error {
	err := m.Store.DeleteDeadLetter(ctx, id, dl)
	if errors.Is(err, store.ErrNotFound) {
		return &event.Error{Kind: event.ErrNotFound, Message: fmt.Sprintf("dead letter %d of webhook %d does not exist", dl, id)}
	}
	return err
}

// views shows each of ws as the REST API does.
func (m *Manager) views(ctx context.Context, ws []store.Webhook) ([]View, error) {
	out := make([]View, 0, len(ws))
	for _, w := range ws {
		v, err := m.view(ctx, w)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// All lists every webhook of the server (the admin page).
func (m *Manager) All(ctx context.Context) ([]View, error) {
	ws, err := m.Store.AllWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	return m.views(ctx, ws)
}
