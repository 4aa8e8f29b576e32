package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/rowimage"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// Hot documents (hotdocs.go) must be invisible: the same calls store the
// same rows, events and op log entries, and answer the same, as when every
// submit works in its transaction (Config.ColdSubmits).
func TestSubmitHot(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		t.Run("same_as_cold", func(t *testing.T) {
			hot := newFixture(t, open(t), service.Config{})
			cold := newFixture(t, open(t), service.Config{ColdSubmits: true})
			hotLog, coldLog := hotScript(t, hot), hotScript(t, cold)
			for i := range max(len(hotLog), len(coldLog)) {
				if i >= len(hotLog) || i >= len(coldLog) || hotLog[i] != coldLog[i] {
					t.Fatalf("step %d differs:\n hot: %s\ncold: %s", i, at(hotLog, i), at(coldLog, i))
				}
			}
			he, ce := fx2events(t, hot), fx2events(t, cold)
			if len(he) != len(ce) {
				t.Fatalf("%d events with hot documents, %d without", len(he), len(ce))
			}
			for i := range he {
				if he[i] != ce[i] {
					t.Fatalf("event %d differs:\n hot: %s\ncold: %s", i, he[i], ce[i])
				}
			}
			n := hot.svc.HotStats().Prepared
			if n < 5 {
				t.Fatalf("only %d submits went through hot documents", n)
			}
			if cold.svc.HotStats().Prepared != 0 {
				t.Fatal("ColdSubmits still used hot documents")
			}
		})
		t.Run("concurrent_with_rest", func(t *testing.T) { testHotConcurrent(t, newFixture(t, open(t), service.Config{})) })
		t.Run("stale", func(t *testing.T) { testHotStale(t, newFixture(t, open(t), service.Config{})) })
		t.Run("memory", func(t *testing.T) { testHotMemory(t, newFixture(t, open(t), service.Config{})) })
	})
}

func at(log []string, i int) string {
	if i < len(log) {
		return log[i]
	}
	return "(none)"
}

// hotScript runs submits mixed with the writes that make a hot document
// stale, and returns what each answered.
func hotScript(t *testing.T, fx *fixture) []string {
	ctx := fx.ctx
	var log []string
	say := func(what string, res event.SubmitResult, err error) {
		var e *event.Error
		if errors.As(err, &e) {
			err = fmt.Errorf("%v/%v", e.Kind, e.Reason)
		}
		missed, _ := json.Marshal(res.Missed)
		fixup, _ := json.Marshal(res.Fixup)
		log = append(log, fmt.Sprintf("%s: v%d off%d dup=%v tr=%d missed=%s fixup=%s err=%v", what, res.V, res.Offset, res.Duplicate, res.Transformed, missed, fixup, err))
	}
	sub := func(what string, s event.Submission) {
		res, err := fx.svc.Submit(ctx, fx.admin, s)
		say(what, res, err)
	}
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"ab"`, "Notes", `"x"`), 0))(t)
	name, notes, price, done := fx.id("Name"), fx.id("Notes"), fx.id("Price"), fx.id("Done")
	si := func(field string, pos int, s string) string {
		return fmt.Sprintf(`[{"p":["fields","%s",%d],"si":%q}]`, field, pos, s)
	}
	sub("first", fx.rowOp(r.ID, 1, "A", 1, si(name, 1, "X")))
	sub("stale", fx.rowOp(r.ID, 1, "B", 1, si(name, 0, "Y")))
	sub("resent", fx.rowOp(r.ID, 1, "B", 1, si(name, 0, "Y")))
	sub("seed form", fx.rowOp(r.ID, 3, "A", 2, `[{"p":["fields","`+price+`"],"t":"string","o":"2.50"}]`))
	sub("too many decimals", fx.rowOp(r.ID, 3, "A", 21, `[{"p":["fields","`+price+`"],"oi":"2.555"}]`))
	sub("na", fx.rowOp(r.ID, 3, "D", 1, `[{"p":["fields","`+price+`"],"na":0.001}]`))
	sub("two cells", fx.rowOp(r.ID, 4, "A", 3, `[{"p":["fields","`+done+`"],"od":false,"oi":true},`+si(notes, 0, "n")[1:]))
	sub("unversioned", event.Submission{Collection: fx.records(), DocID: r.ID, Op: json.RawMessage(si(name, 0, "<"))})
	ok(fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: r.ID, Fields: fx.fields("Notes", `"rest"`)}))(t)
	sub("after REST", fx.rowOp(r.ID, 6, "C", 1, si(name, 0, ">")))
	sub("after REST again", fx.rowOp(r.ID, 7, "C", 2, si(name, 0, "}")))
	ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "vera", Role: store.RoleViewer}))(t)
	_, err := fx.svc.Submit(ctx, service.Actor{UserID: "vera"}, fx.rowOp(r.ID, 9, "V", 1, si(name, 0, "v")))
	say("viewer", event.SubmitResult{}, err)
	sub("bad od", fx.rowOp(r.ID, 9, "A", 4, `[{"p":["fields","`+done+`"],"od":false,"oi":true}]`))
	sub("bad value", fx.rowOp(r.ID, 9, "A", 5, `[{"p":["fields","`+price+`"],"od":"2.50","oi":"2.5"}]`))
	sub("ahead", fx.rowOp(r.ID, 99, "A", 6, si(name, 0, "a")))
	sub("after refusals", fx.rowOp(r.ID, 9, "A", 7, si(name, 0, "!")))
	newName := "Title"
	ok(fx.svc.UpdateField(ctx, fx.admin, fx.f["Name"].ID, service.FieldPatch{Name: &newName}))(t)
	sub("after a rename", fx.rowOp(r.ID, 10, "A", 8, si(name, 0, "r")))
	long := table.TypeLongText
	ok(fx.svc.UpdateField(ctx, fx.admin, fx.f["Name"].ID, service.FieldPatch{Type: &long}))(t)
	sub("after a conversion", fx.rowOp(r.ID, 10, "A", 9, si(name, 0, "c")))
	if err := fx.svc.DeleteField(ctx, fx.admin, fx.f["Price"].ID); err != nil {
		t.Fatal(err)
	}
	sub("after a field delete", fx.rowOp(r.ID, 11, "A", 10, si(notes, 0, "d")))
	sub("on the deleted field", fx.rowOp(r.ID, 12, "A", 11, si(price, 0, "d")))
	sub("move", fx.rowOp(r.ID, 12, "A", 12, `[{"p":["order"],"od":"`+r.Order+`","oi":"7.00000000000000000000"}]`))
	sub("after a move", fx.rowOp(r.ID, 13, "A", 13, si(name, 0, "m")))
	sub("delete", event.Submission{Collection: fx.records(), DocID: r.ID, V: 14, HasV: true, Del: true})
	sub("after the delete", fx.rowOp(r.ID, 14, "A", 14, si(name, 0, "z")))
	got, err := fx.svc.GetRow(ctx, fx.admin, fx.tbl.ID, r.ID)
	log = append(log, fmt.Sprintf("row: %v", err))
	_ = got
	return log
}

// fx2events are the table's events, a submit's compact rows_updated
// completed with the rows whole (rowimage), without the times that come
// from clocks: whether an event holds the row whole depends on who
// decided (a hot document from its memory, a cold submit from the
// store's, which knows other whole events), what it says does not.
func fx2events(t *testing.T, fx *fixture) []string {
	var out []string
	im := rowimage.New(fx.st)
	for _, e := range fx.events(fx.tableStream(), 0) {
		payload := e.Payload
		if e.Type == event.EventRowsUpdated {
			data, err := event.WholeRowsData(fx.ctx, nil, im, e.Type, fx.tbl.ID, e.Offset, e.Payload)
			if err != nil {
				t.Fatalf("event at %d: %v", e.Offset, err)
			}
			payload = data
		}
		var v any
		if err := json.Unmarshal(payload, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(dropTimes(v))
		out = append(out, fmt.Sprintf("%d %s %s", e.Offset, e.Type, b))
	}
	return out
}

func dropTimes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.HasSuffix(k, "_at") {
				delete(v, k)
				continue
			}
			v[k] = dropTimes(x)
		}
	case []any:
		for i, x := range v {
			v[i] = dropTimes(x)
		}
	}
	return v
}

// testHotConcurrent: editors submit stale ops to two rows at once while
// REST writes and a field rename go around the hot documents. Every op
// lands once, the op log replays to each stored row, and nothing is lost.
func testHotConcurrent(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	name, notes := fx.id("Name"), fx.id("Notes")
	rows := []event.Row{
		ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"-"`), 0))(t),
		ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"-"`), 0))(t),
	}
	const writers, each = 6, 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	landed := map[int64]int{} // si per row
	errs := make(chan error, writers*each+100)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			versions := map[int64]int64{rows[0].ID: 1, rows[1].ID: 1}
			for i := range each {
				row := rows[rng.IntN(2)].ID
				if rng.IntN(3) == 0 {
					r, err := fx.svc.GetRow(ctx, fx.admin, fx.tbl.ID, row)
					if err != nil {
						errs <- err
						return
					}
					versions[row] = r.Version
				}
				op := fmt.Sprintf(`[{"p":["fields","%s",0],"si":"%c"}]`, name, 'a'+w)
				res, err := fx.svc.Submit(ctx, fx.admin, fx.rowOp(row, versions[row], fmt.Sprint("w", w), uint64(i+1), op))
				if err != nil {
					errs <- fmt.Errorf("writer %d op %d: %w", w, i, err)
					return
				}
				versions[row] = res.V + 1
				mu.Lock()
				landed[row]++
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			row := rows[i%2].ID
			if _, err := fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: row, Fields: fx.fields("Notes", fmt.Sprintf(`"rest %d"`, i))}); err != nil {
				errs <- err
				return
			}
			if i == 10 {
				n := "Renamed"
				if _, err := fx.svc.UpdateField(ctx, fx.admin, fx.f["Notes"].ID, service.FieldPatch{Name: &n}); err != nil {
					errs <- err
					return
				}
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, r := range rows {
		stored := fx.row(r.ID)
		if got := len(strings.Trim(string(stored.Fields[fx.f["Name"].ID]), `"`)) - 1; got != landed[r.ID] {
			t.Errorf("row %d holds %d inserted characters, %d submits landed", r.ID, got, landed[r.ID])
		}
		if !strings.HasPrefix(string(stored.Fields[fx.f["Notes"].ID]), `"rest`) {
			t.Errorf("row %d notes %s", r.ID, stored.Fields[fx.f["Notes"].ID])
		}
		// Replaying the op log from the create gives the stored row.
		logged := ok(fx.st.DocOps(ctx, fx.records(), r.ID, 0, 1000))(t)
		var doc any
		for i, l := range logged {
			if l.Version != int64(i) {
				t.Fatalf("row %d: op log entry %d is at version %d", r.ID, i, l.Version)
			}
			var entry struct {
				Create json.RawMessage `json:"create"`
				Op     json0.Op        `json:"op"`
			}
			if err := json.Unmarshal(l.Op, &entry); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if err := json.Unmarshal(entry.Create, &doc); err != nil {
					t.Fatal(err)
				}
				continue
			}
			var err error
			if doc, err = json0.Apply(doc, entry.Op); err != nil {
				t.Fatalf("row %d: op log entry %d does not apply: %v", r.ID, i, err)
			}
		}
		if int64(len(logged)) != stored.Version {
			t.Errorf("row %d: %d op log entries, version %d", r.ID, len(logged), stored.Version)
		}
		var want any
		b, _ := json.Marshal(map[string]any{"id": stored.ID, "order": stored.Order, "fields": stored.Fields})
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !json0.Equal(doc, want) {
			t.Errorf("row %d: the op log replays to\n%v\nthe stored row is\n%v", r.ID, doc, want)
		}
	}
	_ = notes
}

// testHotStale: a submit prepared on a document that a REST write or a
// field change made stale meanwhile must not undo them: the store refuses
// the prepared write and the ordinary submit runs.
func testHotStale(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	name, notes, price := fx.id("Name"), fx.id("Notes"), fx.id("Price")
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"ab"`, "Price", `"1.00"`), 0))(t)
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "A", 1, `[{"p":["fields","`+name+`",0],"si":"x"}]`)))(t)

	restore := service.KeepHotDocs(fx.svc, fx.tbl.ID)
	ok(fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: r.ID, Fields: fx.fields("Notes", `"rest"`)}))(t)
	restore()
	res := ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 2, "A", 2, `[{"p":["fields","`+name+`",0],"si":"y"}]`)))(t)
	got := fx.row(r.ID)
	if res.V != 3 || res.Transformed != 1 || fx.cell(got, "Notes") != `"rest"` || fx.cell(got, "Name") != `"yxab"` || got.Version != 4 {
		t.Fatalf("after a REST write the hot document missed: %+v, row %s %s v%d", res, fx.cell(got, "Name"), fx.cell(got, "Notes"), got.Version)
	}

	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 4, "A", 3, `[{"p":["fields","`+name+`",0],"si":"z"}]`)))(t)
	restore = service.KeepHotDocs(fx.svc, fx.tbl.ID)
	if err := fx.svc.DeleteField(ctx, fx.admin, fx.f["Price"].ID); err != nil {
		t.Fatal(err)
	}
	restore()
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 5, "A", 4, `[{"p":["fields","`+notes+`",0],"si":"n"}]`)))(t)
	stored := ok(fx.st.Row(ctx, fx.tbl.ID, r.ID))(t)
	if strings.Contains(string(stored.Values), `"`+price+`"`) || !strings.Contains(string(stored.Values), `"nrest"`) {
		t.Fatalf("after a field delete the row holds %s", stored.Values)
	}
}

// A submit's change is read from the start of its event; an event with its
// members in another order (as stored before the op led them) or without
// an op reads the same through the whole decoding.
func TestEventDocChangesSubmit(t *testing.T) {
	row := `{"id":7,"order":"1.00000000000000000000","version":5,"fields":{"1":"abc"},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	before := strings.Replace(row, `"version":5`, `"version":4`, 1)
	op := `[{"p":["fields","1",0],"si":"a"}]`
	meta := `"table_id":3,"workspace_id":1,"actor":"u","origin":""`
	for name, payload := range map[string]string{
		"op first": `{` + meta + `,"op":` + op + `,"rows":[` + row + `],"rows_before":[` + before + `],"updated_field_ids":[1]}`,
		"op last":  `{` + meta + `,"rows":[` + row + `],"rows_before":[` + before + `],"updated_field_ids":[1],"op":` + op + `}`,
	} {
		got, err := event.DocChanges(event.EventRowsUpdated, []byte(payload))
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %v %v", name, got, err)
		}
		c := got[0]
		if c.Collection != "record_3" || c.DocID != 7 || c.V != 4 || !c.HasV || string(c.Op) != op {
			t.Errorf("%s: %+v", name, c)
		}
	}
	rest := `{` + meta + `,"rows":[` + strings.Replace(row, `"abc"`, `"abd"`, 1) + `],"rows_before":[` + before + `],"updated_field_ids":[1]}`
	got, err := event.DocChanges(event.EventRowsUpdated, []byte(rest))
	if err != nil || len(got) != 1 || got[0].DocID != 7 || !strings.Contains(string(got[0].Op), `"oi":"abd"`) {
		t.Fatalf("a REST update: %+v %v", got, err)
	}
}

// testHotMemory: the memory hot documents hold is counted, grows with
// their rows and is given back when they are dropped.
func testHotMemory(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	name := fx.id("Name")
	r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`), 0))(t)
	// A viewer's or a stranger's op loads nothing.
	ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "vera", Role: store.RoleViewer}))(t)
	for _, who := range []string{"vera", "mallory"} {
		if _, err := fx.svc.Submit(ctx, service.Actor{UserID: who}, fx.rowOp(r.ID, 1, "", 0, `[{"p":["fields","`+name+`",0],"si":"x"}]`)); err == nil {
			t.Fatalf("%s's op was applied", who)
		}
	}
	if n := fx.svc.HotStats().Bytes; n != 0 {
		t.Fatalf("refused ops loaded %d bytes of documents", n)
	}
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "", 0, `[{"p":["fields","`+name+`",0],"si":"x"}]`)))(t)
	small := fx.svc.HotStats().Bytes
	long := strings.Repeat("y", 5000)
	ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 2, "", 0, `[{"p":["fields","`+name+`",0],"si":"`+long+`"}]`)))(t)
	if big := fx.svc.HotStats().Bytes; small <= 0 || big-small < 3*(5000-10) { // the row's times vary in length
		t.Fatalf("hot documents hold %d bytes, then %d after a 5,000-character insert", small, big)
	}
	renamed := "Renamed"
	ok(fx.svc.UpdateField(ctx, fx.admin, fx.f["Name"].ID, service.FieldPatch{Name: &renamed}))(t)
	if n := fx.svc.HotStats().Bytes; n != 0 {
		t.Fatalf("%d bytes counted after the table's documents were dropped", n)
	}
}

// A submit that says it does not read Missed (NoMissed) is answered as
// any other, without the ops it missed; the others still get them.
func TestSubmitHotNoMissed(t *testing.T) {
	fx := newFixture(t, servicetest.OpenSQLite(t), service.Config{})
	r := ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
	op := `[{"p":["fields","` + fx.id("Name") + `",0],"si":"a"}]`
	ok(fx.svc.Submit(fx.ctx, fx.admin, fx.rowOp(r.ID, 1, "A", 1, op)))(t)
	ok(fx.svc.Submit(fx.ctx, fx.admin, fx.rowOp(r.ID, 2, "A", 2, op)))(t)
	quiet := fx.rowOp(r.ID, 1, "B", 1, op)
	quiet.NoMissed = true
	res := ok(fx.svc.Submit(fx.ctx, fx.admin, quiet))(t)
	if res.V != 3 || res.Transformed != 2 || res.Missed != nil {
		t.Fatalf("NoMissed: v%d transformed %d, missed %+v; want v3, 2 and none", res.V, res.Transformed, res.Missed)
	}
	res = ok(fx.svc.Submit(fx.ctx, fx.admin, fx.rowOp(r.ID, 1, "C", 1, op)))(t)
	if res.V != 4 || res.Transformed != 3 || len(res.Missed) != 3 || res.Missed[2].V != 3 {
		t.Fatalf("without NoMissed: v%d transformed %d, missed %+v; want v4, 3 and versions 1-3", res.V, res.Transformed, res.Missed)
	}
	if fx.svc.HotStats().Prepared < 4 {
		t.Fatal("the submits did not go through hot documents")
	}
}

// TestHotLoadOnce: when many clients of a record not in memory submit at
// once, one of them loads the record's document and the others wait for
// it: the row is read once, and every submit lands.
func TestHotLoadOnce(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		sw, single := st.(store.SingleWriter)
		g := newGatedStore(st, !single || !sw.SingleWriter())
		defer func() { // the first submit's read ends, whatever the outcome
			select {
			case <-g.release:
			default:
				close(g.release)
			}
		}()
		fx := newFixture(t, g, service.Config{})
		r := ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"a"`), 0))(t)
		op := `[{"p":["fields","` + fx.id("Name") + `",0],"si":"x"}]`
		const n = 8
		errs := make(chan error, n)
		submit := func(i int) {
			_, err := fx.svc.Submit(fx.ctx, fx.admin, fx.rowOp(r.ID, 1, fmt.Sprint("c", i), 1, op))
			errs <- err
		}
		before := g.rows.Load()
		g.rowArmed <- struct{}{}
		go submit(0)
		<-g.entered // the first submit is reading the row
		for i := 1; i < n; i++ {
			go submit(i)
		}
		for service.HotLoadWaits(fx.svc) < n-1 {
			if reads := g.rows.Load() - before; reads > 1 {
				t.Fatalf("%d submits read the row", reads)
			}
			runtime.Gosched()
		}
		close(g.release)
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if loads, got := g.rows.Load()-before, fx.row(r.ID); got.Version != 1+n || loads != 1 {
			t.Fatalf("row at v%d after %d submits, read %d times to load", got.Version, n, loads)
		}
	})
}
