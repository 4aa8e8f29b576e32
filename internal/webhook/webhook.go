// Package webhook sends a table's changes to the URLs its admins name.
//
// A webhook is a cursor over its table's stream in the outbox: every
// change is an event there with a gapless offset, and the webhook's
// delivered offset says how far it has gone. Nothing is queued per call,
// so nothing is dropped for want of room: a webhook that falls behind reads
// further back in the outbox, which keeps what a webhook has not delivered
// (up to TABLECAST_WEBHOOK_RETENTION).
//
// The Dispatcher delivers: one goroutine per webhook leased to this node,
// in offset order, at least once, each call signed (Standard Webhooks),
// retried with backoff, and on failure paused or dead-lettered; a call
// gives way to the node's writes in flight (yield.go). The lease
// is a row in the store, so several nodes share the webhooks and a dead
// node's are taken over once its lease runs out. The Manager is what the
// REST API calls. Nothing here speaks HTTP to clients or SQL.
package webhook

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tablecast/tablecast/internal/store"
)

// Store is what the webhooks need from the table store.
type Store interface {
	store.Webhooks
	StreamTop(ctx context.Context, s store.Stream) (uint64, error)
	OldestEventOffset(ctx context.Context, s store.Stream) (uint64, error)
	Events(ctx context.Context, s store.Stream, afterOffset uint64, limit int) ([]store.Event, error)
}

// Attempt is one call of a webhook, as dead letters and paused webhooks
// keep it.
type Attempt struct {
	At time.Time `json:"at"`
	// Status is the HTTP status answered, 0 when there was none (Error
	// says why).
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Response is the first bytes of the response's body.
	Response string `json:"response,omitempty"`
	// Duration of the call, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
}

// Observer is told what the dispatcher does (metrics). Every method must
// be quick and safe from several goroutines.
type Observer interface {
	Delivered(webhookID int64, events int)
	Failed(webhookID int64, status int) // one failed call
	Retried(webhookID int64)
	DeadLettered(webhookID int64, events int)
	Paused(webhookID int64)
	Lag(webhookID int64, lag uint64)
	Gone(webhookID int64) // no longer delivered by this node
}

type nopObserver struct{}

func (nopObserver) Delivered(int64, int)    {}
func (nopObserver) Failed(int64, int)       {}
func (nopObserver) Retried(int64)           {}
func (nopObserver) DeadLettered(int64, int) {}
func (nopObserver) Paused(int64)            {}
func (nopObserver) Lag(int64, uint64)       {}
func (nopObserver) Gone(int64)              {}

// Announcer tells the table's subscribers that a webhook paused.
type Announcer func(ctx context.Context, w store.Webhook, reason string) error

// events decodes a webhook's event names; "*" (or none) is all.
func events(raw json.RawMessage) (all bool, names map[string]bool) {
	var list []string
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return true, nil
	}
	names = make(map[string]bool, len(list))
	for _, n := range list {
		if n == "*" {
			return true, nil
		}
		names[n] = true
	}
	return false, names
}
