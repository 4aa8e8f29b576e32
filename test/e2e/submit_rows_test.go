package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/pkg/client"
)

// TestSubmitRowsWholeForBaserowAndWebhooks: a submit's event holds its op,
// not the row (event.FullRowEvery), yet a Baserow table page receives each
// submit's rows_updated with the rows whole, before and after, and a
// webhook each rows.updated with its items and old_items, as for a REST
// write; past a whole-row version too; and so does a dead letter that a
// skip made of a submit's event (the webhook routes' own read).
func TestSubmitRowsWholeForBaserowAndWebhooks(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db, webhookArgs())
		f := newBrFixture(t, tn)
		rcv := newReceiver(t, func(int, []byte) reply { return reply{} })
		tn.createWebhook(t, "owner", f.tbl, map[string]any{"url": rcv.url(), "events": []string{"rows.updated"}})

		reader := tn.brUser(t, "owner")
		reader.tablePage(f.tbl)
		prev := f.createRow(t, map[int64]any{f.name: "a", f.status: "open", f.secret: "kept", f.amount: "1.5"}, "")
		reader.expect("rows_created")

		c := tn.dialUser(t, "owner")
		col := fmt.Sprintf("record_%d", f.tbl)
		doc := strconv.FormatInt(prev.ID, 10)
		subscribe(t, c, col, doc)
		states := []restRow{prev}
		n := event.FullRowEvery + 3
		for i := range n {
			op := `[{"p":["fields","` + strconv.FormatInt(f.name, 10) + `",0],"si":"x"}]`
			if i%4 == 3 {
				op = `[{"p":["fields","` + strconv.FormatInt(f.amount, 10) + `"],"oi":` + strconv.Itoa(i) + `.25}]`
			}
			if _, err := c.Submit(ctxFor(t, waitTimeout), col, doc, client.Submission{V: prev.Version, Op: json.RawMessage(op)}); err != nil {
				t.Fatalf("submit %d: %v", i, err)
			}
			var cur restRow
			f.tn.restAs(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/rows/%d", f.tbl, prev.ID), nil, "", &cur)
			fid := f.name
			if i%4 == 3 {
				fid = f.amount
			}
			f.expectEvent(t, reader, "rows_updated", map[string]any{
				"table_id": f.tbl, "rows_before_update": []any{prev.shape()}, "rows": []any{cur.shape()},
				"metadata": map[string]any{}, "updated_field_ids": []int64{fid}})
			states = append(states, cur)
			prev = cur
		}
		calls := rcv.waitCalls(t, waitTimeout, "every rows.updated", func(cs []hookCall) bool { return len(accepted(t, cs)) >= n })
		for i, p := range accepted(t, calls)[:n] {
			if len(p.Items) != 1 || len(p.OldItems) != 1 {
				t.Fatalf("webhook event %d: %d items, %d old items", i, len(p.Items), len(p.OldItems))
			}
			sameRow(t, fmt.Sprintf("webhook event %d item", i), p.Items[0], states[i+1])
			sameRow(t, fmt.Sprintf("webhook event %d old item", i), p.OldItems[0], states[i])
		}

		// A second webhook refuses its first call (410: paused), is skipped
		// past it, and has the dead letter redelivered: that body is built
		// by the webhook routes, not the dispatcher, and must hold the rows
		// whole too.
		gone := newReceiver(t, func(n int, _ []byte) reply {
			if n == 1 {
				return reply{status: http.StatusGone}
			}
			return reply{}
		})
		skipped := tn.createWebhook(t, "owner", f.tbl, map[string]any{"url": gone.url(), "events": []string{"rows.updated"}})
		op := `[{"p":["fields","` + strconv.FormatInt(f.name, 10) + `",0],"si":"y"}]`
		if _, err := c.Submit(ctxFor(t, waitTimeout), col, doc, client.Submission{V: prev.Version, Op: json.RawMessage(op)}); err != nil {
			t.Fatalf("last submit: %v", err)
		}
		var last restRow
		f.tn.restAs(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/rows/%d", f.tbl, prev.ID), nil, "", &last)
		states = append(states, last)
		waitUntil(t, waitTimeout, "the second webhook paused", func() bool { return tn.getWebhook(t, skipped.ID).Status == "paused" })
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/skip", skipped.ID), nil, "", &struct{}{})
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/webhooks/%d/dead-letters/redeliver", skipped.ID), nil, "", &struct{}{})
		first := decodePayloads(t, gone.snapshot()[0].Body)[0].Offset
		redelivered := gone.waitCalls(t, waitTimeout, "the dead letter redelivered", func(cs []hookCall) bool {
			for _, c := range cs[1:] {
				if c.Accepted && decodePayloads(t, c.Body)[0].Offset == first {
					return true
				}
			}
			return false
		})
		for _, c := range redelivered[1:] {
			if p := decodePayloads(t, c.Body)[0]; c.Accepted && p.Offset == first {
				if len(p.Items) != 1 || len(p.OldItems) != 1 {
					t.Fatalf("redelivered dead letter: %d items, %d old items", len(p.Items), len(p.OldItems))
				}
				sameRow(t, "redelivered dead letter's item", p.Items[0], states[len(states)-1])
				sameRow(t, "redelivered dead letter's old item", p.OldItems[0], states[len(states)-2])
				break
			}
		}
	})
}

func sameRow(t *testing.T, what string, raw json.RawMessage, want restRow) {
	t.Helper()
	var got restRow
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got.ID != want.ID || got.Version != want.Version || got.Order != want.Order || len(got.Fields) != len(want.Fields) {
		t.Fatalf("%s: %s, want %+v", what, raw, want)
	}
	for k, v := range want.Fields {
		if !sameCell(got.Fields[k], v) {
			t.Fatalf("%s: cell %s is %s, want %s", what, k, got.Fields[k], v)
		}
	}
}
