package store

import (
	"context"
	"encoding/json"
	"time"
)

// Webhook is a table's webhook: where its events go, and how far they
// have gone (DeliveredOffset, in the table's stream).
type Webhook struct {
	ID      int64
	TableID int64
	URL     string
	// Events is the event names asked for (["*"] for all), as JSON: the
	// store keeps it as it is given.
	Events json.RawMessage
	// Headers is a JSON object of extra request headers.
	Headers   json.RawMessage
	Active    bool
	OnFailure string // "pause" or "skip"
	Batch     int
	Secret    string
	// Status is "active" or "paused"; PausedReason says why, and
	// PausedAttempts (JSON) holds the attempts of the call it stopped at.
	Status          string
	PausedReason    string
	PausedAttempts  json.RawMessage
	DeliveredOffset uint64
	CreatedBy       string
	CreatedAt       time.Time
	// LeaseOwner is the node delivering the webhook until LeaseUntil ("":
	// none).
	LeaseOwner string
	LeaseUntil time.Time
}

// The webhook statuses.
const (
	WebhookActive = "active"
	WebhookPaused = "paused"
)

// DeadLetter is one event a webhook gave up on.
type DeadLetter struct {
	ID        int64
	WebhookID int64
	Offset    uint64
	EventType string
	// Body is the event's payload object as it was sent.
	Body json.RawMessage
	// Attempts is the JSON array of every attempt.
	Attempts json.RawMessage
	// Redeliver is set while a redelivery is asked for and not yet done.
	Redeliver bool
	CreatedAt time.Time
}

// WebhookAdvance moves a webhook's cursor from From to To (a compare and
// set), putting Dead in its dead letters in the same transaction. Without
// Resume it needs the webhook active and leased by Owner; with Resume it
// needs the webhook paused (a skip asked by its admin), and makes it active.
type WebhookAdvance struct {
	ID       int64
	Owner    string
	From, To uint64
	Dead     []DeadLetter
	Resume   bool
}

// Webhooks is the store of webhooks and their dead letters, implemented by
// both engines. A compare and set that finds the webhook changed (another
// owner, another offset, another status) is ErrConflict; a webhook or dead
// letter that does not exist is ErrNotFound.
type Webhooks interface {
	// CreateWebhook creates the webhook (ID, Status, DeliveredOffset and
	// CreatedAt are set by the store: active, at the table's stream's top,
	// now).
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	Webhook(ctx context.Context, id int64) (Webhook, error)
	// TableWebhooks lists a table's webhooks by id; AllWebhooks every
	// webhook by id.
	TableWebhooks(ctx context.Context, tableID int64) ([]Webhook, error)
	AllWebhooks(ctx context.Context) ([]Webhook, error)
	// UpdateWebhook sets URL, Events, Headers, Active, OnFailure and Batch.
	UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	SetWebhookSecret(ctx context.Context, id int64, secret string) error
	DeleteWebhook(ctx context.Context, id int64) error

	// ClaimWebhooks leases to owner, until until, at most limit active,
	// unpaused webhooks whose lease is owner's, free or past (before now),
	// and returns them: its own leases are renewed. On PostgreSQL rows
	// another node is claiming are skipped (FOR UPDATE SKIP LOCKED).
	ClaimWebhooks(ctx context.Context, owner string, now, until time.Time, limit int) ([]Webhook, error)
	// ReleaseWebhook gives owner's lease up.
	ReleaseWebhook(ctx context.Context, id int64, owner string) error
	AdvanceWebhook(ctx context.Context, a WebhookAdvance) error
	// AdvanceWebhooks moves several leased webhooks' cursors (without dead
	// letters) in one transaction, and returns the ids of those whose
	// compare and set failed; the others are moved.
	AdvanceWebhooks(ctx context.Context, as []WebhookAdvance) (conflicts []int64, err error)
	// PauseWebhook pauses the webhook at its offset at, if owner leases it
	// and it is there, and gives the lease up.
	PauseWebhook(ctx context.Context, id int64, owner string, at uint64, reason string, attempts json.RawMessage) error
	// ResumeWebhook makes a paused webhook active; ErrConflict if it is not
	// paused.
	ResumeWebhook(ctx context.Context, id int64) error

	// DeadLetters lists a webhook's dead letters by offset.
	DeadLetters(ctx context.Context, webhookID int64) ([]DeadLetter, error)
	// RedeliverDeadLetters asks for one dead letter (dl > 0) or all of
	// them (dl == 0) to be delivered again, and reports how many.
	RedeliverDeadLetters(ctx context.Context, webhookID, dl int64) (int64, error)
	// Redeliveries lists at most limit dead letters asked for again, by
	// offset.
	Redeliveries(ctx context.Context, webhookID int64, limit int) ([]DeadLetter, error)
	// FinishRedelivery deletes a dead letter delivered again (delivered)
	// or records its new attempts and clears its Redeliver.
	FinishRedelivery(ctx context.Context, dl int64, delivered bool, attempts json.RawMessage) error
	DeleteDeadLetter(ctx context.Context, webhookID, dl int64) error
}

var (
	_ Webhooks = (*SQLiteStore)(nil)
	_ Webhooks = (*PostgresStore)(nil)
)
