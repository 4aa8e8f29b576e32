package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// A submitted op is never refused for the form of a value REST accepts: the
// value is normalised, the op kept and sent on sets the stored form, and the
// fixup turns the submitter's copy into the stored document. Hot documents
// and the ordinary submit answer the same.
func TestSubmitNormalises(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		for _, cfg := range []struct {
			name string
			cfg  service.Config
		}{{"hot", service.Config{}}, {"cold", service.Config{ColdSubmits: true}}} {
			t.Run(cfg.name, func(t *testing.T) { testSubmitNormalises(t, newFixture(t, open(t), cfg.cfg)) })
		}
	})
}

func testSubmitNormalises(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	green := fmt.Sprint(fx.f["Colour"].Options.Choices[1].ID)
	cases := []struct {
		name    string
		initial []string // name/JSON pairs of the row's cells
		field   string
		op      string // %s is the field's id
		stored  string // the cell after
		fixup   bool
	}{
		{"number as a number on an empty cell", nil, "Price", `[{"p":["fields","%s"],"oi":32283}]`, `32283`, false},
		{"number as a number, od given", []string{"Price", `1`}, "Price", `[{"p":["fields","%s"],"od":1,"oi":2.5}]`, `2.5`, false},
		{"number with too many decimals", nil, "Price", `[{"p":["fields","%s"],"oi":2.555}]`, `2.56`, true},
		{"number as a string", []string{"Price", `1`}, "Price", `[{"p":["fields","%s"],"od":1,"oi":"12.50"}]`, `12.5`, true},
		{"na on a number", []string{"Price", `1.5`}, "Price", `[{"p":["fields","%s"],"na":2}]`, `3.5`, false},
		{"na leaving too many decimals", []string{"Price", `0.1`}, "Price", `[{"p":["fields","%s"],"na":0.2}]`, `0.3`, true},
		{"select by its value", nil, "Colour", `[{"p":["fields","%s"],"oi":"green"}]`, green, true},
		{"select by its id as a string", nil, "Colour", `[{"p":["fields","%s"],"oi":"` + green + `"}]`, green, true},
		{"date in another form", nil, "Due", `[{"p":["fields","%s"],"oi":"2026-01-02T23:30:00-02:00"}]`, `"2026-01-03"`, true},
		{"oi without od on a filled cell", []string{"Name", `"ab"`}, "Name", `[{"p":["fields","%s"],"oi":"cd"}]`, `"cd"`, false},
		{"text emptied to empty string", []string{"Name", `"ab"`}, "Name", `[{"p":["fields","%s",0],"sd":"ab"}]`, `null`, true},
		{"boolean as a word", nil, "Done", `[{"p":["fields","%s"],"oi":"yes"}]`, `true`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields(tc.initial...), 0))(t)
			before := recordJSON(t, r)
			op := fmt.Sprintf(tc.op, fx.id(tc.field))
			top := fx.top(fx.tableStream())
			res, err := fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, r.Version, "n", 1, op))
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			after := fx.row(r.ID)
			if got := fx.cell(after, tc.field); got != tc.stored {
				t.Fatalf("stored %s, want %s", got, tc.stored)
			}
			if (len(res.Fixup) > 0) != tc.fixup {
				t.Fatalf("fixup %s, want one: %v", mustJSON(res.Fixup), tc.fixup)
			}
			// resent (its ack lost): acknowledged again with the same fixup
			again, err := fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, r.Version, "n", 1, op))
			if err != nil || !again.Duplicate || mustJSON(again.Fixup) != mustJSON(res.Fixup) {
				t.Fatalf("resent: %+v, %v; want a duplicate with fixup %s", again, err, mustJSON(res.Fixup))
			}
			stored := recordJSON(t, after)
			// the submitter's copy: its op as it applied it, then the fixup
			var clientOp json0.Op
			if err := json.Unmarshal([]byte(op), &clientOp); err != nil {
				t.Fatal(err)
			}
			mine, err := json0.Apply(before, clientOp)
			if err != nil {
				t.Fatal(err)
			}
			if mine, err = json0.Apply(mine, res.Fixup); err != nil || !json0.Equal(mine, stored) {
				t.Fatalf("submitter's copy after the fixup = %s (%v), stored %s", mustJSON(mine), err, mustJSON(stored))
			}
			// everyone else: the op the event carries, on the copy before
			evs := fx.events(fx.tableStream(), top)
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			ru := decode[event.RowsUpdated](t, evs[0])
			var sent json0.Op
			if err := json.Unmarshal(ru.Op, &sent); err != nil {
				t.Fatal(err)
			}
			theirs, err := json0.Apply(before, sent)
			if err != nil || !json0.Equal(theirs, stored) {
				t.Fatalf("op sent %s gives %s (%v), stored %s", ru.Op, mustJSON(theirs), err, mustJSON(stored))
			}
			// the op sent inverts back: every oi that replaced carries its od
			// (na is float arithmetic: its inverse need not be exact)
			if strings.Contains(op, `"na"`) {
				return
			}
			inv, err := json0.Invert(sent)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := json0.Apply(theirs, inv); err != nil || !json0.Equal(back, before) {
				t.Fatalf("op sent %s does not invert: %s (%v)", ru.Op, mustJSON(back), err)
			}
		})
	}
	// Values no form makes valid are still refused.
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields(), 0))(t)
	for _, op := range []string{
		`[{"p":["fields","` + fx.id("Price") + `"],"oi":"twelve"}]`,
		`[{"p":["fields","` + fx.id("Price") + `"],"oi":1e15}]`,
		`[{"p":["fields","` + fx.id("Colour") + `"],"oi":"blue"}]`,
		`[{"p":["fields","` + fx.id("Due") + `"],"oi":"tomorrow"}]`,
	} {
		if _, err := fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "", 0, op)); !isValidation(err) {
			t.Errorf("%s: %v, want a validation error", op, err)
		}
	}
}

func recordJSON(t *testing.T, r event.Row) any {
	t.Helper()
	b, err := json.Marshal(event.RecordDoc{ID: r.ID, Order: r.Order, Fields: r.Fields})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func isValidation(err error) bool {
	var ve *table.ValidationError
	return errors.As(err, &ve)
}
