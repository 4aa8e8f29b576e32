package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/pkg/client"
)

// TestSubmitRowsWholeForBaserowAndWebhooks: a submit's event holds its op,
// not the row (event.FullRowEvery), yet a Baserow table page receives each
// submit's rows_updated with the rows whole, before and after, and a
// webhook each rows.updated with its items and old_items, as for a REST
// write; past a whole-row version too.
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
