package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture is a service over a fresh store with a workspace and a table
// holding one field of every type.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	st    store.Store
	svc   *service.Service
	pub   *servicetest.Recorder
	now   time.Time
	admin service.Actor
	ws    event.Workspace
	tbl   event.Table
	f     map[string]table.Field // by name
}

var testSecret = []byte("service-test-secret-0123456789abcdef")

func newFixture(t testing.TB, st store.Store, cfg service.Config) *fixture {
	t.Helper()
	fx := &fixture{t: t, ctx: servicetest.Ctx(t), st: st, pub: &servicetest.Recorder{}, now: time.Now(),
		admin: service.Actor{UserID: "alice", Origin: "sock-alice"}, f: map[string]table.Field{}}
	cfg.Store, cfg.Publisher = st, fx.pub
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.PasswordIterations == 0 {
		cfg.PasswordIterations = 1000
	}
	var err error
	if fx.svc, err = service.New(cfg); err != nil {
		t.Fatal(err)
	}
	fx.ws = ok(fx.svc.CreateWorkspace(fx.ctx, fx.admin, service.WorkspaceInput{Name: "Acme"}))(t)
	d2 := 2
	fx.tbl = ok(fx.svc.CreateTable(fx.ctx, fx.admin, fx.ws.ID, service.TableInput{Name: "Tasks", Fields: []service.FieldInput{
		{Name: "Name", Type: table.TypeText},
		{Name: "Notes", Type: table.TypeLongText},
		{Name: "Price", Type: table.TypeNumber, Options: &service.FieldOptionsInput{Decimals: &d2}},
		{Name: "Done", Type: table.TypeBoolean},
		{Name: "Due", Type: table.TypeDate},
		{Name: "Colour", Type: table.TypeSingleSelect, Options: &service.FieldOptionsInput{Choices: &[]table.Choice{{Value: "red"}, {Value: "green"}}}},
		{Name: "Tags", Type: table.TypeMultipleSelect, Options: &service.FieldOptionsInput{Choices: &[]table.Choice{{Value: "a"}, {Value: "b"}}}},
	}}))(t)
	for _, f := range fx.tbl.Fields {
		fx.f[f.Name] = f
	}
	fx.pub.Reset()
	return fx
}

func (fx *fixture) id(name string) string { return fmt.Sprint(fx.f[name].ID) }

// fields builds a RowFields from name/JSON pairs.
func (fx *fixture) fields(kv ...string) service.RowFields {
	m := service.RowFields{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fx.id(kv[i])] = json.RawMessage(kv[i+1])
	}
	return m
}

// events returns the committed events of a stream after offset.
func (fx *fixture) events(s store.Stream, after uint64) []store.Event {
	fx.t.Helper()
	evs, err := fx.st.Events(fx.ctx, s, after, 10_000)
	if err != nil {
		fx.t.Fatalf("events of %s: %v", s, err)
	}
	return evs
}

func (fx *fixture) top(s store.Stream) uint64 {
	fx.t.Helper()
	top, err := fx.st.StreamTop(fx.ctx, s)
	if err != nil {
		fx.t.Fatal(err)
	}
	return top
}

func (fx *fixture) tableStream() store.Stream { return store.TableStream(fx.tbl.ID) }

// ok(f())(t) returns f's value, failing t when f returned an error.
func ok[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func decode[T any](t testing.TB, e store.Event) *T {
	t.Helper()
	v, err := event.Decode(e.Type, e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	p, isT := v.(*T)
	if !isT {
		t.Fatalf("event %s decodes to %T", e.Type, v)
	}
	return p
}

func wantErr(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %v", err, kind)
	}
}

func wantDetail(t testing.TB, err error, key string) {
	t.Helper()
	var ve *table.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a validation error with %q", err, key)
	}
	if _, has := ve.Details[key]; !has {
		t.Fatalf("details = %v, want key %q", ve.Details, key)
	}
}

func TestService(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		t.Run("events", func(t *testing.T) { testEvents(t, newFixture(t, open(t), service.Config{})) })
		t.Run("batch1000", func(t *testing.T) { testBatch1000(t, newFixture(t, open(t), service.Config{})) })
		t.Run("rollback", func(t *testing.T) { testRollback(t, newFixture(t, open(t), service.Config{})) })
		t.Run("publisher_down", func(t *testing.T) { testPublisherDown(t, newFixture(t, open(t), service.Config{})) })
		t.Run("concurrent_writers", func(t *testing.T) { testConcurrentWriters(t, newFixture(t, open(t), service.Config{})) })
		t.Run("field_delete_views", func(t *testing.T) { testFieldDeleteViews(t, newFixture(t, open(t), service.Config{})) })
		t.Run("field_conversion", func(t *testing.T) { testFieldConversion(t, newFixture(t, open(t), service.Config{})) })
		t.Run("primary_field", func(t *testing.T) { testPrimaryField(t, newFixture(t, open(t), service.Config{})) })
		t.Run("versions", func(t *testing.T) { testVersions(t, newFixture(t, open(t), service.Config{})) })
		t.Run("list_rows", func(t *testing.T) { testListRows(t, newFixture(t, open(t), service.Config{MaxSortRows: 50})) })
		t.Run("public_view", func(t *testing.T) { testPublicView(t, open(t)) })
		t.Run("members", func(t *testing.T) { testMembers(t, newFixture(t, open(t), service.Config{})) })
		t.Run("delete_table", func(t *testing.T) { testDeleteTable(t, newFixture(t, open(t), service.Config{})) })
	})
}

func testEvents(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	s := fx.tableStream()
	created := ok(fx.svc.CreateRows(ctx, fx.admin, fx.tbl.ID, []service.RowFields{
		fx.fields("Name", `"a"`, "Price", `1.5`), fx.fields("Name", `"b"`), fx.fields("Done", `"yes"`),
	}, 0))(t)
	first := created.Rows[0]
	upd := ok(fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: first.ID, Fields: fx.fields("Name", `"A"`)}))(t)
	if upd.Version != 2 {
		t.Fatalf("version after update = %d, want 2", upd.Version)
	}
	if err := fx.svc.DeleteRows(ctx, service.Actor{UserID: "alice"}, fx.tbl.ID, []int64{created.Rows[2].ID, created.Rows[1].ID}); err != nil {
		t.Fatal(err)
	}
	placed := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"first"`), first.ID))(t)

	evs := fx.events(s, 0)
	want := []string{event.EventRowsCreated, event.EventRowsUpdated, event.EventRowsDeleted, event.EventRowsCreated}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, e := range evs {
		if e.Type != want[i] || e.Offset != uint64(i+1) {
			t.Errorf("event %d: %s@%d, want %s@%d", i, e.Type, e.Offset, want[i], i+1)
		}
	}
	rc := decode[event.RowsCreated](t, evs[0])
	if rc.TableID != fx.tbl.ID || rc.WorkspaceID != fx.ws.ID || rc.Actor != "alice" || rc.Origin != "sock-alice" {
		t.Errorf("rows_created meta = %+v", rc.TableMeta)
	}
	if len(rc.Rows) != 3 || string(rc.Rows[0].Fields[fx.f["Price"].ID]) != `1.5` ||
		string(rc.Rows[2].Fields[fx.f["Done"].ID]) != "true" || string(rc.Rows[1].Fields[fx.f["Tags"].ID]) != "[]" {
		t.Errorf("rows_created rows = %+v", rc.Rows)
	}
	if rc.BeforeRowID != nil {
		t.Errorf("before_row_id = %v, want null", *rc.BeforeRowID)
	}
	ru := decode[event.RowsUpdated](t, evs[1])
	if len(ru.Rows) != 1 || string(ru.Rows[0].Fields[fx.f["Name"].ID]) != `"A"` ||
		string(ru.RowsBefore[0].Fields[fx.f["Name"].ID]) != `"a"` || fmt.Sprint(ru.UpdatedFieldIDs) != fmt.Sprint([]int64{fx.f["Name"].ID}) {
		t.Errorf("rows_updated = %+v", ru)
	}
	rd := decode[event.RowsDeleted](t, evs[2])
	if fmt.Sprint(rd.RowIDs) != fmt.Sprint([]int64{created.Rows[1].ID, created.Rows[2].ID}) || len(rd.Rows) != 2 || rd.Origin != "" {
		t.Errorf("rows_deleted = %+v", rd)
	}
	rp := decode[event.RowsCreated](t, evs[3])
	if rp.BeforeRowID == nil || *rp.BeforeRowID != first.ID || rp.Rows[0].ID != placed.ID {
		t.Errorf("placed rows_created = %+v", rp)
	}
	if placed.Order >= first.Order {
		t.Errorf("placed order %s is not before %s", placed.Order, first.Order)
	}

	// what was published is what was committed, in order
	pub := fx.pub.Events()
	if len(pub) != len(evs) {
		t.Fatalf("published %d events, committed %d", len(pub), len(evs))
	}
	for i := range pub {
		if pub[i].Key() != evs[i].Key() || pub[i].Type != evs[i].Type || string(pub[i].Payload) != string(evs[i].Payload) {
			t.Errorf("published %d = %s %s@%d, committed %s %s@%d", i, pub[i].Type, pub[i].Stream, pub[i].Offset, evs[i].Type, evs[i].Stream, evs[i].Offset)
		}
	}

	// workspace stream: workspace_created, table_created
	wevs := fx.events(store.WorkspaceStream(fx.ws.ID), 0)
	if len(wevs) != 2 || wevs[0].Type != event.EventWorkspaceCreated || wevs[1].Type != event.EventTableCreated {
		t.Fatalf("workspace events = %v", wevs)
	}
	tc := decode[event.TableCreated](t, wevs[1])
	if tc.Table.ID != fx.tbl.ID || len(tc.Fields) != 7 || !tc.Fields[0].Primary {
		t.Errorf("table_created = %+v", tc)
	}
}

func testBatch1000(t *testing.T, fx *fixture) {
	items := make([]service.RowFields, service.MaxBatch)
	for i := range items {
		items[i] = fx.fields("Name", fmt.Sprintf(`"row %d"`, i), "Price", fmt.Sprint(i))
	}
	before := fx.top(fx.tableStream())
	out := ok(fx.svc.CreateRows(fx.ctx, fx.admin, fx.tbl.ID, items, 0))(t)
	if len(out.Rows) != 1000 {
		t.Fatalf("%d rows", len(out.Rows))
	}
	evs := fx.events(fx.tableStream(), before)
	if len(evs) != 1 || evs[0].Type != event.EventRowsCreated {
		t.Fatalf("a 1000-row batch appended %d events, want 1", len(evs))
	}
	if rc := decode[event.RowsCreated](t, evs[0]); len(rc.Rows) != 1000 {
		t.Fatalf("the event holds %d rows", len(rc.Rows))
	}
	if n := len(fx.pub.Events()); n != 1 {
		t.Fatalf("published %d events", n)
	}
	// one more is too many
	_, err := fx.svc.CreateRows(fx.ctx, fx.admin, fx.tbl.ID, append(items, fx.fields()), 0)
	wantDetail(t, err, "items")
}

func testRollback(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	row := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
	top := fx.top(fx.tableStream())
	calls := fx.pub.Calls()

	// one bad item: nothing stored, no event
	_, err := fx.svc.CreateRows(ctx, fx.admin, fx.tbl.ID, []service.RowFields{
		fx.fields("Name", `"ok"`), fx.fields("Price", `"abc"`), fx.fields("Name", `"ok too"`),
	}, 0)
	wantDetail(t, err, "items[1].fields."+fx.id("Price"))
	_, err = fx.svc.UpdateRows(ctx, fx.admin, fx.tbl.ID, []service.RowPatch{
		{ID: row.ID, Fields: fx.fields("Name", `"changed"`)}, {ID: row.ID + 1000, Fields: fx.fields("Name", `"y"`)},
	})
	wantErr(t, err, event.ErrNotFound)
	_, err = fx.svc.UpdateRow(ctx, fx.admin, fx.tbl.ID, service.RowPatch{ID: row.ID, Fields: fx.fields("Name", `"v"`), Version: 7})
	wantErr(t, err, event.ErrConflict)
	err = fx.svc.DeleteRows(ctx, fx.admin, fx.tbl.ID, []int64{row.ID, row.ID + 1000})
	wantErr(t, err, event.ErrNotFound)
	_, err = fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"z"`), row.ID+1000)
	wantDetail(t, err, "before")
	unmoved := func(what string) {
		t.Helper()
		if got := fx.top(fx.tableStream()); got != top {
			t.Fatalf("%s moved the stream from %d to %d", what, top, got)
		}
		if got := fx.pub.Calls(); got != calls {
			t.Fatalf("%s published (%d calls, want %d)", what, got, calls)
		}
	}
	unmoved("failed writes")
	// a viewer cannot write
	ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "vera", Role: store.RoleViewer}))(t)
	top, calls = fx.top(fx.tableStream()), fx.pub.Calls()
	_, err = fx.svc.CreateRow(ctx, service.Actor{UserID: "vera"}, fx.tbl.ID, fx.fields("Name", `"v"`), 0)
	wantErr(t, err, event.ErrForbidden)
	unmoved("a viewer's refused write")
	page := ok(fx.svc.ListRows(ctx, fx.admin, fx.tbl.ID, service.ListRowsInput{}))(t)
	if len(page.Rows) != 1 || string(page.Rows[0].Fields[fx.f["Name"].ID]) != `"x"` || page.Rows[0].Version != 1 {
		t.Fatalf("rows after failed writes = %+v", page.Rows)
	}
}

func testPublisherDown(t *testing.T, fx *fixture) {
	fx.pub.Fail(true)
	row := ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
	if row.ID == 0 || fx.pub.Calls() != 1 {
		t.Fatalf("row %+v, %d publish calls", row, fx.pub.Calls())
	}
	un, err := fx.st.Unpublished(fx.ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range un {
		found = found || (e.Stream == fx.tableStream() && e.Type == event.EventRowsCreated && e.Offset == 1)
	}
	if !found {
		t.Fatalf("the committed event is not left for the relay: %v", un)
	}
}

func testConcurrentWriters(t *testing.T, fx *fixture) {
	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a := service.Actor{UserID: "alice", Origin: fmt.Sprintf("w%d", w)}
				if _, err := fx.svc.CreateRow(fx.ctx, a, fx.tbl.ID, fx.fields("Name", fmt.Sprintf(`"%d-%d"`, w, i)), 0); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs := fx.events(fx.tableStream(), 0)
	if len(evs) != writers*each {
		t.Fatalf("%d events, want %d", len(evs), writers*each)
	}
	for i, e := range evs {
		if e.Offset != uint64(i+1) {
			t.Fatalf("event %d has offset %d", i, e.Offset)
		}
	}
	if len(fx.pub.Events()) != writers*each {
		t.Fatalf("published %d", len(fx.pub.Events()))
	}
}

func testFieldDeleteViews(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	price := fx.f["Price"]
	v := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{
		Name: "Cheap", Filters: []table.Filter{{FieldID: price.ID, Type: "lower_than", Value: "10"}, {FieldID: fx.f["Name"].ID, Type: "contains", Value: "a"}},
		Sorts: []table.Sort{{FieldID: price.ID, Order: "desc"}}, HiddenFieldIDs: []int64{price.ID},
	}))(t)
	other := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{Name: "All"}))(t)
	top := fx.top(fx.tableStream())
	if err := fx.svc.DeleteField(ctx, fx.admin, price.ID); err != nil {
		t.Fatal(err)
	}
	views := ok(fx.svc.ListViews(ctx, fx.admin, fx.tbl.ID))(t)
	for _, got := range views {
		if got.ID == v.ID && (len(got.Filters) != 1 || len(got.Sorts) != 0 || len(got.HiddenFieldIDs) != 0) {
			t.Errorf("view after the field's deletion = %+v", got)
		}
	}
	evs := fx.events(fx.tableStream(), top)
	if len(evs) != 1 || evs[0].Type != event.EventFieldDeleted {
		t.Fatalf("events = %v", evs)
	}
	fd := decode[event.FieldDeleted](t, evs[0])
	if fd.FieldID != price.ID || len(fd.ViewsChanged) != 1 || fd.ViewsChanged[0].ID != v.ID || len(fd.ViewsChanged[0].Filters) != 1 {
		t.Errorf("field_deleted = %+v (other view %d)", fd, other.ID)
	}
	// the primary field stays
	wantErr(t, fx.svc.DeleteField(ctx, fx.admin, fx.f["Name"].ID), event.ErrConflict)
}

func testFieldConversion(t *testing.T, fx *fixture) {
	ctx := fx.ctx
	notes, colour := fx.f["Notes"], fx.f["Colour"]
	rows := ok(fx.svc.CreateRows(ctx, fx.admin, fx.tbl.ID, []service.RowFields{
		fx.fields("Notes", `"12.345"`, "Colour", `"red"`),
		fx.fields("Notes", `"not a number"`, "Colour", `"green"`),
		fx.fields("Name", `"untouched"`),
	}, 0))(t).Rows
	v := ok(fx.svc.CreateView(ctx, fx.admin, fx.tbl.ID, service.ViewInput{
		Name: "Notes", Filters: []table.Filter{{FieldID: notes.ID, Type: "contains", Value: "1"}, {FieldID: colour.ID, Type: "single_select_equal", Value: table.FilterValue(fmt.Sprint(colour.Options.Choices[1].ID))}},
	}))(t)
	top := fx.top(fx.tableStream())

	num := table.TypeNumber
	d1 := 1
	f := ok(fx.svc.UpdateField(ctx, fx.admin, notes.ID, service.FieldPatch{Type: &num, Options: &service.FieldOptionsInput{Decimals: &d1}}))(t)
	if f.Type != table.TypeNumber || f.Options.Decimals != 1 {
		t.Fatalf("field = %+v", f)
	}
	evs := fx.events(fx.tableStream(), top)
	if len(evs) != 2 || evs[0].Type != event.EventFieldUpdated || evs[1].Type != event.EventRowsUpdated {
		t.Fatalf("events = %v", evs)
	}
	fu := decode[event.FieldUpdated](t, evs[0])
	if fu.FieldBefore.Type != table.TypeLongText || fu.RowsConverted != 2 {
		t.Errorf("field_updated = %+v", fu)
	}
	ru := decode[event.RowsUpdated](t, evs[1])
	if !ru.FieldConversion || len(ru.Rows) != 2 || string(ru.Rows[0].Fields[notes.ID]) != `12.3` || string(ru.Rows[1].Fields[notes.ID]) != "null" {
		t.Errorf("rows_updated = %+v", ru)
	}
	// contains still applies to numbers: the view keeps its filter
	if len(fu.ViewsChanged) != 0 {
		t.Errorf("views changed = %+v", fu.ViewsChanged)
	}

	// drop the choice "green": the cell empties, the filter on it goes
	top = fx.top(fx.tableStream())
	keep := []table.Choice{colour.Options.Choices[0], {Value: "blue"}}
	f = ok(fx.svc.UpdateField(ctx, fx.admin, colour.ID, service.FieldPatch{Options: &service.FieldOptionsInput{Choices: &keep}}))(t)
	if len(f.Options.Choices) != 2 || f.Options.Choices[1].ID != 3 {
		t.Fatalf("choices = %+v (a new choice takes the next id)", f.Options.Choices)
	}
	evs = fx.events(fx.tableStream(), top)
	fu = decode[event.FieldUpdated](t, evs[0])
	if len(fu.ViewsChanged) != 1 || fu.ViewsChanged[0].ID != v.ID || len(fu.ViewsChanged[0].Filters) != 1 {
		t.Errorf("views changed = %+v", fu.ViewsChanged)
	}
	got := ok(fx.svc.GetRow(ctx, fx.admin, fx.tbl.ID, rows[1].ID))(t)
	if string(got.Fields[colour.ID]) != "null" {
		t.Errorf("colour of a row with a deleted choice = %s", got.Fields[colour.ID])
	}
	got = ok(fx.svc.GetRow(ctx, fx.admin, fx.tbl.ID, rows[0].ID))(t)
	if string(got.Fields[colour.ID]) != fmt.Sprint(colour.Options.Choices[0].ID) {
		t.Errorf("colour of a row with a kept choice = %s", got.Fields[colour.ID])
	}

	// single to multiple select keeps the choices and the values
	multi := table.TypeMultipleSelect
	ok(fx.svc.UpdateField(ctx, fx.admin, colour.ID, service.FieldPatch{Type: &multi}))(t)
	got = ok(fx.svc.GetRow(ctx, fx.admin, fx.tbl.ID, rows[0].ID))(t)
	if want := fmt.Sprintf("[%d]", colour.Options.Choices[0].ID); strings.ReplaceAll(string(got.Fields[colour.ID]), " ", "") != want {
		t.Errorf("converted to multiple_select: %s, want %s", got.Fields[colour.ID], want)
	}
	// a name taken by another field is refused
	name := "Name"
	_, err := fx.svc.UpdateField(ctx, fx.admin, colour.ID, service.FieldPatch{Name: &name})
	wantDetail(t, err, "name")
	// options of another type are refused
	_, err = fx.svc.UpdateField(ctx, fx.admin, colour.ID, service.FieldPatch{Options: &service.FieldOptionsInput{Decimals: &d1}})
	wantDetail(t, err, "options.decimals")
}

func testPrimaryField(t *testing.T, fx *fixture) {
	yes, no := true, false
	done := fx.f["Done"]
	_, err := fx.svc.UpdateField(fx.ctx, fx.admin, fx.f["Name"].ID, service.FieldPatch{Primary: &no})
	wantDetail(t, err, "primary")
	top := fx.top(fx.tableStream())
	f := ok(fx.svc.UpdateField(fx.ctx, fx.admin, done.ID, service.FieldPatch{Primary: &yes}))(t)
	if !f.Primary {
		t.Fatal("not primary")
	}
	fields := ok(fx.svc.ListFields(fx.ctx, fx.admin, fx.tbl.ID))(t)
	n := 0
	for _, g := range fields {
		if g.Primary {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d primary fields", n)
	}
	fu := decode[event.FieldUpdated](t, fx.events(fx.tableStream(), top)[0])
	if len(fu.RelatedFields) != 1 || fu.RelatedFields[0].ID != fx.f["Name"].ID || fu.RelatedFields[0].Primary {
		t.Errorf("related fields = %+v", fu.RelatedFields)
	}
}

// lockingStore gives its transactions the TableLocker ability and records
// the tables locked.
type lockingStore struct {
	store.Store
	mu     sync.Mutex
	locked []int64
}

func (l *lockingStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return l.Store.Update(ctx, func(tx store.Tx) error { return fn(lockingTx{Tx: tx, s: l}) })
}

func (l *lockingStore) taken() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.locked...)
}

type lockingTx struct {
	store.Tx
	s *lockingStore
}

var _ service.TableLocker = lockingTx{}

func (t lockingTx) LockTable(_ context.Context, id int64) (int64, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.s.locked = append(t.s.locked, id)
	return 0, nil
}

func TestTableLocker(t *testing.T) {
	ls := &lockingStore{Store: servicetest.OpenSQLite(t)}
	fx := newFixture(t, ls, service.Config{})
	before := len(ls.taken())
	ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
	ok(fx.svc.ListRows(fx.ctx, fx.admin, fx.tbl.ID, service.ListRowsInput{}))(t)
	ok(fx.svc.CreateView(fx.ctx, fx.admin, fx.tbl.ID, service.ViewInput{Name: "v"}))(t)
	got := ls.taken()[before:]
	if fmt.Sprint(got) != fmt.Sprint([]int64{fx.tbl.ID, fx.tbl.ID}) {
		t.Fatalf("tables locked = %v, want the table once per write", got)
	}
}

// failingCommitStore runs each write to its end, AppendEvent included, and
// then fails it, as a commit that does not go through.
type failingCommitStore struct{ store.Store }

var errCommit = errors.New("commit failed")

func (f failingCommitStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return f.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCommit
	})
}

func TestRolledBackWriteAppendsNothing(t *testing.T) {
	st := servicetest.OpenSQLite(t)
	fx := newFixture(t, st, service.Config{})
	failing, err := service.New(service.Config{Store: failingCommitStore{st}, Publisher: fx.pub, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	top := fx.top(fx.tableStream())
	_, err = failing.CreateRows(fx.ctx, fx.admin, fx.tbl.ID, []service.RowFields{fx.fields("Name", `"x"`)}, 0)
	if !errors.Is(err, errCommit) {
		t.Fatalf("error = %v", err)
	}
	if got := fx.top(fx.tableStream()); got != top {
		t.Fatalf("a rolled-back write moved the stream from %d to %d", top, got)
	}
	if fx.pub.Calls() != 0 {
		t.Fatalf("a rolled-back write published %d times", fx.pub.Calls())
	}
	// the next write takes the next offset: no gap
	ok(fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"y"`), 0))(t)
	if evs := fx.events(fx.tableStream(), top); len(evs) != 1 || evs[0].Offset != top+1 {
		t.Fatalf("events after the rollback = %v", evs)
	}
}
