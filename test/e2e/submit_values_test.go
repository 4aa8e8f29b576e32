package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/pkg/client"
)

// TestSubmitValuesThroughOTDoc: the cases Teable's op builders produce, sent
// by the Go client's OTDoc: cells set empty (oi without od), filled and
// cleared; numbers as numbers, with na, with too many decimals and as
// strings, a select option by its value. Each is stored in its stored form,
// the submitter's copy equals the store after the reply's fixup, and the
// other client's copy equals it from the ops it receives. The reply comes
// after the ops below its version (no ack held by OTDoc); a record added,
// a field renamed and a view renamed through submit apply too.
func TestSubmitValuesThroughOTDoc(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		_, tbl, name := tableFixture(t, tn)
		var price, colour struct {
			ID      int64
			Options struct{ Choices []struct{ ID int64 } }
		}
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/fields", tbl),
			map[string]any{"name": "Price", "type": "number", "options": map[string]any{"decimals": 2}}, "", &price)
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/fields", tbl),
			map[string]any{"name": "Colour", "type": "single_select", "options": map[string]any{"choices": []any{
				map[string]any{"value": "red"}, map[string]any{"value": "green"}}}}, "", &colour)
		col := fmt.Sprintf("record_%d", tbl)
		fName, fPrice, fColour := strconv.FormatInt(name, 10), strconv.FormatInt(price.ID, 10), strconv.FormatInt(colour.ID, 10)
		row := tn.newRow(t, tbl, map[string]any{fName: "first"})
		doc := strconv.FormatInt(row, 10)
		a, b := tn.dialUser(t, "owner"), tn.dialUser(t, "owner")
		subscribe(t, a, col, doc)
		subscribe(t, b, col, doc)
		data, v := tn.rowDoc(t, "owner", tbl, row)
		da, dbDoc := client.NewOTDoc(data, v), client.NewOTDoc(data, v)

		// follow applies b's messages until its copy reaches version v.
		follow := func(c *client.Client, d *client.OTDoc, v int64) {
			t.Helper()
			for d.Version() < v {
				m := recv(t, c)
				if m.Type != "op" || m.Document != doc {
					continue
				}
				var od struct {
					V  int64    `json:"v"`
					Op json0.Op `json:"op"`
				}
				if err := json.Unmarshal(m.Data, &od); err != nil {
					t.Fatal(err)
				}
				if err := d.Remote(od.V, od.Op); err != nil {
					t.Fatal(err)
				}
			}
		}
		// edit applies op to a's copy, submits it and settles the reply.
		edit := func(what, op string) client.SubmitAck {
			t.Helper()
			var o json0.Op
			if err := json.Unmarshal([]byte(op), &o); err != nil {
				t.Fatal(err)
			}
			if err := da.Apply(o); err != nil {
				t.Fatalf("%s: local apply: %v", what, err)
			}
			sent, v, ok := da.Flush()
			if !ok {
				t.Fatalf("%s: nothing to flush", what)
			}
			ack, err := a.Submit(ctxFor(t, waitTimeout), col, doc, client.Submission{V: v, Op: mustJSON(t, sent)})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			var fix json0.Op
			if len(ack.Fixup) > 0 {
				if err := json.Unmarshal(ack.Fixup, &fix); err != nil {
					t.Fatal(err)
				}
			}
			if err := da.AckedFixup(ack.V-1, fix); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if da.Pending() || da.Version() != ack.V {
				t.Fatalf("%s: the reply did not settle (at %d, reply v %d)", what, da.Version(), ack.V)
			}
			follow(b, dbDoc, ack.V)
			stored, sv := tn.rowDoc(t, "owner", tbl, row)
			for name, d := range map[string]*client.OTDoc{"submitter": da, "other": dbDoc} {
				if d.Version() != sv || !json0.Equal(d.Data(), stored) {
					t.Fatalf("%s: the %s holds %v at %d; stored %v at %d", what, name, d.Data(), d.Version(), stored, sv)
				}
			}
			return ack
		}
		cell := func() map[string]any {
			return da.Data().(map[string]any)["fields"].(map[string]any)
		}
		p := func(f string) string { return `["fields","` + f + `"]` }

		edit("number on an empty cell, no od", `[{"p":`+p(fPrice)+`,"oi":32283}]`)
		if ack := edit("too many decimals", `[{"p":`+p(fPrice)+`,"od":32283,"oi":2.555}]`); len(ack.Fixup) == 0 {
			t.Fatal("no fixup for 2.555 in a field of 2 decimals")
		}
		if cell()[fPrice] != 2.56 {
			t.Fatalf("price %v", cell()[fPrice])
		}
		edit("na", `[{"p":`+p(fPrice)+`,"na":1}]`)
		edit("a number as a string", `[{"p":`+p(fPrice)+`,"od":3.56,"oi":"7.10"}]`)
		edit("select by its value", `[{"p":`+p(fColour)+`,"oi":"green"}]`)
		if cell()[fColour] != float64(colour.Options.Choices[1].ID) {
			t.Fatalf("colour %v", cell()[fColour])
		}
		edit("filled cell, no od", `[{"p":`+p(fName)+`,"oi":"second"}]`)
		edit("cleared", `[{"p":`+p(fPrice)+`,"od":7.1,"oi":null}]`)

		// The reply after the ops below it: b's op lands first; a's reply,
		// read in order with the ops, needs no holding.
		bOp := `[{"p":["fields","` + fName + `",0],"si":"B"}]`
		if _, err := b.Submit(ctxFor(t, waitTimeout), col, doc, client.Submission{V: dbDoc.Version(), Op: json.RawMessage(bOp)}); err != nil {
			t.Fatal(err)
		}
		stale := `[{"p":["fields","` + fName + `",0],"si":"A"}]`
		if err := a.SendRaw([]byte(fmt.Sprintf(`{"type":"submit","id":"stale","collection":%q,"document":%q,"data":{"v":%d,"op":%s}}`,
			col, doc, da.Version(), stale))); err != nil {
			t.Fatal(err)
		}
		var order []string
		for len(order) < 2 {
			m := recv(t, a)
			switch {
			case m.Type == "op" && m.Document == doc:
				order = append(order, "op v"+string(dataField(t, m.Data, "v")))
			case m.Type == "submit" && m.ID == "stale":
				order = append(order, "reply v"+string(dataField(t, m.Data, "v")))
			}
		}
		want := []string{fmt.Sprintf("op v%d", da.Version()), fmt.Sprintf("reply v%d", da.Version()+2)}
		if fmt.Sprint(order) != fmt.Sprint(want) {
			t.Fatalf("a received %v, want %v", order, want)
		}

		// A record added, a field and a view renamed, through submit.
		created := strconv.FormatInt(row+1000, 10)
		if _, err := a.Submit(ctxFor(t, waitTimeout), col, created, client.Submission{V: 0,
			Create: json.RawMessage(`{"id":"` + created + `","fields":{}}`)}); err != nil {
			t.Fatalf("create as Teable's creator builds it: %v", err)
		}
		var f struct{ Name string }
		ack, err := a.Submit(ctxFor(t, waitTimeout), fmt.Sprintf("field_%d", tbl), fPrice, client.Submission{V: 1,
			Op: json.RawMessage(`[{"p":["name"],"oi":"Cost","od":"Price"}]`)})
		if err != nil || ack.V != 2 {
			t.Fatalf("field rename: %+v %v", ack, err)
		}
		var fields struct {
			Results []struct {
				ID   int64
				Name string
			}
		}
		tn.rest(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/fields", tbl), nil, "", &fields)
		for _, x := range fields.Results {
			if x.ID == price.ID {
				f.Name = x.Name
			}
		}
		if f.Name != "Cost" {
			t.Fatalf("field after the rename: %q", f.Name)
		}
		var view struct {
			ID      int64
			Version int64
		}
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/views", tbl), map[string]any{"name": "Grid", "type": "grid"}, "", &view)
		if _, err := a.Submit(ctxFor(t, waitTimeout), fmt.Sprintf("view_%d", tbl), strconv.FormatInt(view.ID, 10),
			client.Submission{V: view.Version, Op: json.RawMessage(`[{"p":["name"],"oi":"Board","od":"Grid"}]`)}); err != nil {
			t.Fatalf("view rename: %v", err)
		}
		_, err = a.Submit(ctxFor(t, waitTimeout), fmt.Sprintf("view_%d", tbl), strconv.FormatInt(view.ID, 10),
			client.Submission{V: view.Version + 1, Op: json.RawMessage(`[{"p":["filter"],"oi":{"conjunction":"and","filterSet":[]}}]`)})
		var se *client.ServerError
		if !errors.As(err, &se) || se.Code != 400 {
			t.Fatalf("Teable's filter property: %v, want 400", err)
		}
	})
}
