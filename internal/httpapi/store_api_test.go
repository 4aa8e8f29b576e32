package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var jwtSecret = []byte("store-api-test-secret-0123456789abcdef")

// scenario is one request and what must come of it, in the manner of
// PocketBase's ApiScenario. Paths, bodies and expected fragments may use
// the fixture's placeholders (see fixture.replacer).
type scenario struct {
	name    string
	method  string
	path    string
	body    string
	user    string            // JWT subject; "" sends no token
	token   string            // a raw Authorization header instead of user's
	headers map[string]string // more request headers
	status  int
	want    []string // fragments of the compact JSON answer
	notWant []string
	// events are the types the request must append to the table's stream,
	// in order, at consecutive offsets (nil: not checked; {} none);
	// wsEvents the same for the workspace's stream.
	events   []string
	wsEvents []string
	check    func(t *testing.T, env *apiEnv, fx *apiFixture, body []byte)
}

// apiEnv is one store with the real Service and StoreAPI behind an
// httptest server.
type apiEnv struct {
	st  store.Store
	svc *service.Service
	pub *servicetest.Recorder
	srv *httptest.Server
}

func newAPIEnv(t *testing.T, st store.Store) *apiEnv {
	t.Helper()
	env := &apiEnv{st: st, pub: &servicetest.Recorder{}}
	var err error
	env.svc, err = service.New(service.Config{Store: st, Publisher: env.pub, Secret: jwtSecret, PasswordIterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: jwtSecret})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&StoreAPI{Service: env.svc, Verifier: v}).Register(mux)
	env.srv = httptest.NewServer(mux)
	t.Cleanup(env.srv.Close)
	return env
}

func signToken(user string, exp time.Time) (string, error) {
	return auth.Sign(jwtSecret, auth.Claims{Subject: user, ExpiresAt: exp}, time.Now().Add(-2*time.Hour))
}

func tokenFor(t testing.TB, user string, exp time.Time) string {
	t.Helper()
	tok, err := signToken(user, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func tableStreamOf(fx *apiFixture) store.Stream { return store.TableStream(fx.t) }

// resolve fills the placeholders of a scenario path and escapes its query
// values, which scenarios write raw.
func (fx *apiFixture) resolve(path string) string {
	p, q, found := strings.Cut(fx.rep.Replace(path), "?")
	if !found {
		return p
	}
	var parts []string
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, k+"="+url.QueryEscape(v))
	}
	return p + "?" + strings.Join(parts, "&")
}

// apiFixture is a fresh world for one scenario: workspace "Acme" (alice
// admin, bob editor, vera viewer) with table "Tasks" (a field of every
// type, three rows, a filtered view, a public view and a password-protected
// one), and mallory's workspace with a table of hers.
type apiFixture struct {
	ws, t, ows, ot int64
	f              map[string]table.Field
	rows           []event.Row
	view, public   table.View
	locked         table.View
	rep            *strings.Replacer
}

func newAPIFixture(t *testing.T, env *apiEnv) *apiFixture {
	t.Helper()
	ctx := servicetest.Ctx(t)
	alice := service.Actor{UserID: "alice"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	fx := &apiFixture{f: map[string]table.Field{}}
	ws, err := env.svc.CreateWorkspace(ctx, alice, service.WorkspaceInput{Name: "Acme"})
	must(err)
	fx.ws = ws.ID
	for user, role := range map[string]store.Role{"bob": store.RoleEditor, "vera": store.RoleViewer} {
		_, err := env.svc.AddMember(ctx, alice, ws.ID, service.MemberInput{UserID: user, Role: role})
		must(err)
	}
	d2, yes := 2, true
	tbl, err := env.svc.CreateTable(ctx, alice, ws.ID, service.TableInput{Name: "Tasks", Fields: []service.FieldInput{
		{Name: "Name", Type: table.TypeText},
		{Name: "Notes", Type: table.TypeLongText},
		{Name: "Price", Type: table.TypeNumber, Options: &service.FieldOptionsInput{Decimals: &d2}},
		{Name: "Done", Type: table.TypeBoolean},
		{Name: "Due", Type: table.TypeDate},
		{Name: "At", Type: table.TypeDate, Options: &service.FieldOptionsInput{IncludeTime: &yes}},
		{Name: "Colour", Type: table.TypeSingleSelect, Options: &service.FieldOptionsInput{Choices: &[]table.Choice{{Value: "red"}, {Value: "green"}}}},
		{Name: "Tags", Type: table.TypeMultipleSelect, Options: &service.FieldOptionsInput{Choices: &[]table.Choice{{Value: "a"}, {Value: "b"}}}},
	}})
	must(err)
	fx.t = tbl.ID
	for _, f := range tbl.Fields {
		fx.f[f.Name] = f
	}
	id := func(name string) string { return fmt.Sprint(fx.f[name].ID) }
	created, err := env.svc.CreateRows(ctx, alice, tbl.ID, []service.RowFields{
		{id("Name"): json.RawMessage(`"one"`), id("Price"): json.RawMessage(`1`), id("Notes"): json.RawMessage(`"12.5"`), id("Done"): json.RawMessage(`true`)},
		{id("Name"): json.RawMessage(`"two"`), id("Price"): json.RawMessage(`2`)},
		{id("Name"): json.RawMessage(`"three"`), id("Price"): json.RawMessage(`3`), id("Tags"): json.RawMessage(`["a","b"]`)},
	}, 0)
	must(err)
	fx.rows = created.Rows
	price := fx.f["Price"].ID
	fx.view, err = env.svc.CreateView(ctx, alice, tbl.ID, service.ViewInput{Name: "Cheap",
		Filters: []table.Filter{{FieldID: price, Type: "lower_than", Value: "3"}}, Sorts: []table.Sort{{FieldID: price, Order: "desc"}}})
	must(err)
	fx.public, err = env.svc.CreateView(ctx, alice, tbl.ID, service.ViewInput{Name: "Shared", Public: true,
		Filters: []table.Filter{{FieldID: price, Type: "higher_than", Value: "1"}}, HiddenFieldIDs: []int64{fx.f["Notes"].ID, price}})
	must(err)
	fx.locked, err = env.svc.CreateView(ctx, alice, tbl.ID, service.ViewInput{Name: "Locked", Public: true, Password: "open sesame"})
	must(err)

	mallory := service.Actor{UserID: "mallory"}
	ows, err := env.svc.CreateWorkspace(ctx, mallory, service.WorkspaceInput{Name: "Mallory's"})
	must(err)
	ot, err := env.svc.CreateTable(ctx, mallory, ows.ID, service.TableInput{Name: "Secret"})
	must(err)
	fx.ows, fx.ot = ows.ID, ot.ID

	pairs := []string{
		"{ws}", fmt.Sprint(fx.ws), "{t}", fmt.Sprint(fx.t), "{ows}", fmt.Sprint(fx.ows), "{ot}", fmt.Sprint(fx.ot),
		"{v}", fmt.Sprint(fx.view.ID), "{pv}", fmt.Sprint(fx.public.ID), "{slug}", fx.public.Slug, "{lslug}", fx.locked.Slug,
	}
	for i, r := range fx.rows {
		pairs = append(pairs, fmt.Sprintf("{r%d}", i+1), fmt.Sprint(r.ID))
	}
	for name, f := range fx.f {
		pairs = append(pairs, "{f."+name+"}", fmt.Sprint(f.ID))
		for i, c := range f.Options.Choices {
			pairs = append(pairs, fmt.Sprintf("{c.%s.%d}", name, i), fmt.Sprint(c.ID))
		}
	}
	fx.rep = strings.NewReplacer(pairs...)
	return fx
}

// do sends a request and returns the status and body.
func (env *apiEnv) do(t *testing.T, method, path, body string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, env.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (env *apiEnv) streamEvents(t *testing.T, s store.Stream, after uint64) []store.Event {
	t.Helper()
	evs, err := env.st.Events(servicetest.Ctx(t), s, after, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (env *apiEnv) top(t *testing.T, s store.Stream) uint64 {
	t.Helper()
	top, err := env.st.StreamTop(servicetest.Ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// bigBody is a JSON body over the default 1 MiB limit.
var bigBody = `{"fields":{"1":"` + strings.Repeat("x", 1<<20) + `"}}`

func (sc scenario) run(t *testing.T, env *apiEnv, fx *apiFixture) {
	t.Helper()
	h := http.Header{}
	switch {
	case sc.token == "{expired}":
		h.Set("Authorization", "Bearer "+tokenFor(t, "alice", time.Now().Add(-time.Hour)))
	case sc.token != "":
		h.Set("Authorization", sc.token)
	case sc.user != "":
		h.Set("Authorization", "Bearer "+tokenFor(t, sc.user, time.Now().Add(time.Hour)))
	}
	origin := ""
	for k, v := range sc.headers {
		h.Set(k, v)
		if k == "X-WebSocket-Id" || (k == "WebSocketId" && origin == "") {
			origin = v
		}
	}
	tableStream, wsStream := store.TableStream(fx.t), store.WorkspaceStream(fx.ws)
	tableTop, wsTop := env.top(t, tableStream), env.top(t, wsStream)
	body := fx.rep.Replace(sc.body)
	if sc.body == "{big}" {
		body = bigBody
	}
	status, got := env.do(t, sc.method, fx.resolve(sc.path), body, h)
	var compact bytes.Buffer
	if len(got) > 0 {
		if err := json.Compact(&compact, got); err != nil {
			t.Fatalf("the answer is not JSON: %v: %s", err, got)
		}
	}
	if status != sc.status {
		t.Fatalf("%s %s: status %d, want %d: %s", sc.method, sc.path, status, sc.status, got)
	}
	for _, w := range sc.want {
		if w = fx.rep.Replace(w); !strings.Contains(compact.String(), w) {
			t.Errorf("answer lacks %s:\n%s", w, compact.String())
		}
	}
	for _, w := range sc.notWant {
		if w = fx.rep.Replace(w); strings.Contains(compact.String(), w) {
			t.Errorf("answer holds %s:\n%s", w, compact.String())
		}
	}
	checkEvents(t, env, "table", tableStream, tableTop, sc.events, origin)
	checkEvents(t, env, "workspace", wsStream, wsTop, sc.wsEvents, origin)
	if sc.check != nil {
		sc.check(t, env, fx, got)
	}
}

// checkEvents asserts the events appended to s after top: their types, in
// order, at consecutive offsets, with the request's origin.
func checkEvents(t *testing.T, env *apiEnv, what string, s store.Stream, top uint64, want []string, origin string) {
	t.Helper()
	if want == nil {
		return
	}
	evs := env.streamEvents(t, s, top)
	types := make([]string, len(evs))
	for i, e := range evs {
		types[i] = e.Type
		if e.Offset != top+uint64(i)+1 {
			t.Errorf("%s event %d at offset %d, want %d", what, i, e.Offset, top+uint64(i)+1)
		}
		var meta struct {
			Origin string `json:"origin"`
		}
		if err := json.Unmarshal(e.Payload, &meta); err != nil || meta.Origin != origin {
			t.Errorf("%s event %s: origin %q, want %q", what, e.Type, meta.Origin, origin)
		}
	}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("%s events = %v, want %v", what, types, want)
	}
}

func TestStoreAPI(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		env := newAPIEnv(t, open(t))
		all := append(append(append([]scenario{}, workspaceScenarios...), schemaScenarios...), rowScenarios...)
		all = append(append(all, viewScenarios...), rowWriteScenarios...)
		for _, sc := range all {
			t.Run(sc.name, func(t *testing.T) { sc.run(t, env, newAPIFixture(t, env)) })
		}
	})
}

// rowCount counts the fixture table's rows, paging as alice.
func rowCount(t *testing.T, env *apiEnv, fx *apiFixture) int {
	t.Helper()
	n := 0
	in := service.ListRowsInput{Limit: service.MaxLimit}
	for {
		p, err := env.svc.ListRows(servicetest.Ctx(t), service.Actor{UserID: "alice"}, fx.t, in)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Rows)
		if p.NextCursor == nil {
			return n
		}
		in.Cursor = *p.NextCursor
	}
}

func wantRows(n int) func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
	return func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
		t.Helper()
		if got := rowCount(t, env, fx); got != n {
			t.Errorf("the table has %d rows, want %d", got, n)
		}
	}
}
