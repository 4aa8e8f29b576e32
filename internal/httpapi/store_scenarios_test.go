package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

var none = []string{}

const invalid = `"code":"invalid_request"`

var workspaceScenarios = []scenario{
	{name: "no token", method: "GET", path: "/api/workspaces", status: 401, want: []string{`"code":"unauthorized"`}},
	{name: "bad token", method: "GET", path: "/api/workspaces", token: "Bearer not.a.jwt", status: 401, want: []string{`"code":"unauthorized"`}},
	{name: "expired token", method: "GET", path: "/api/workspaces", token: "{expired}", status: 401, want: []string{`"code":"token_expired"`}},
	{name: "wrong scheme", method: "GET", path: "/api/workspaces", token: "Basic YWxpY2U6eA==", status: 401},
	{name: "my workspaces", method: "GET", path: "/api/workspaces", user: "vera", status: 200,
		want: []string{`{"id":{ws},"name":"Acme","created_at":"`, `"role":"viewer"`, `"next_cursor":null`}, notWant: []string{"Mallory"}},
	{name: "create workspace", method: "POST", path: "/api/workspaces", body: `{"name":"  New  "}`, user: "vera", status: 200,
		want: []string{`"name":"New"`, `"role":"admin"`}},
	{name: "create workspace without a name", method: "POST", path: "/api/workspaces", body: `{"name":""}`, user: "alice", status: 400,
		want: []string{invalid, `"details":{"name":"must not be empty"}`}},
	{name: "create workspace with an unknown key", method: "POST", path: "/api/workspaces", body: `{"nme":"x"}`, user: "alice", status: 400,
		want: []string{`"nme":"is not a known field"`}},
	{name: "create workspace with bad JSON", method: "POST", path: "/api/workspaces", body: `{"name":`, user: "alice", status: 400,
		want: []string{`"body":"is not valid JSON"`}},
	{name: "create workspace with a wrong type", method: "POST", path: "/api/workspaces", body: `{"name":5}`, user: "alice", status: 400,
		want: []string{`"name":"must be a string"`}},
	{name: "rename workspace", method: "PATCH", path: "/api/workspaces/{ws}", body: `{"name":"Renamed"}`, user: "alice", status: 200,
		want: []string{`"name":"Renamed"`}, wsEvents: []string{"workspace_updated"}, events: none},
	{name: "rename workspace as editor", method: "PATCH", path: "/api/workspaces/{ws}", body: `{"name":"x"}`, user: "bob", status: 403,
		want: []string{`"code":"forbidden"`}, wsEvents: none},
	{name: "rename another's workspace", method: "PATCH", path: "/api/workspaces/{ows}", body: `{"name":"x"}`, user: "alice", status: 404,
		want: []string{`"code":"not_found"`}},
	{name: "delete workspace as viewer", method: "DELETE", path: "/api/workspaces/{ws}", user: "vera", status: 403, events: none, wsEvents: none},
	{name: "delete workspace", method: "DELETE", path: "/api/workspaces/{ws}", user: "alice", status: 204,
		events: []string{"table_deleted"}, wsEvents: []string{"workspace_deleted"},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
			if status, body := env.do(t, "GET", fmt.Sprintf("/api/tables/%d", fx.t), "", bearerFor("alice")); status != 404 {
				t.Errorf("the deleted workspace's table answers %d %s", status, body)
			}
		}},
	{name: "delete unknown workspace", method: "DELETE", path: "/api/workspaces/999999999", user: "alice", status: 404},
	{name: "list members", method: "GET", path: "/api/workspaces/{ws}/members", user: "alice", status: 200,
		want: []string{`{"user_id":"bob","role":"editor"}`, `{"user_id":"alice","role":"admin"}`, `"next_cursor":null`}},
	{name: "list members as editor", method: "GET", path: "/api/workspaces/{ws}/members", user: "bob", status: 403},
	{name: "list members of another's workspace", method: "GET", path: "/api/workspaces/{ows}/members", user: "alice", status: 404},
	{name: "add member", method: "POST", path: "/api/workspaces/{ws}/members", body: `{"user_id":"9001","role":"viewer"}`, user: "alice",
		headers: map[string]string{"X-WebSocket-Id": "sock-1"}, status: 200,
		want: []string{`{"user_id":"9001","role":"viewer"}`}, wsEvents: []string{"member_added"}},
	{name: "add member as editor", method: "POST", path: "/api/workspaces/{ws}/members", body: `{"user_id":"x","role":"viewer"}`, user: "bob",
		status: 403, wsEvents: none},
	{name: "add member twice", method: "POST", path: "/api/workspaces/{ws}/members", body: `{"user_id":"bob","role":"viewer"}`, user: "alice",
		status: 409, want: []string{`"code":"conflict"`}, wsEvents: none},
	{name: "add member with a bad role", method: "POST", path: "/api/workspaces/{ws}/members", body: `{"user_id":"x","role":"owner"}`,
		user: "alice", status: 400, want: []string{`"role":"must be admin, editor or viewer"`}},
	{name: "add member without a user", method: "POST", path: "/api/workspaces/{ws}/members", body: `{"role":"viewer"}`,
		user: "alice", status: 400, want: []string{`"user_id":"is required"`}},
	{name: "change role", method: "PATCH", path: "/api/workspaces/{ws}/members/bob", body: `{"role":"viewer"}`, user: "alice", status: 200,
		want: []string{`{"user_id":"bob","role":"viewer"}`}, wsEvents: []string{"member_updated"},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
			if status, _ := env.do(t, "POST", fmt.Sprintf("/api/tables/%d/rows", fx.t), `{}`, bearerFor("bob")); status != 403 {
				t.Errorf("a demoted editor still writes: %d", status)
			}
		}},
	{name: "change role as editor", method: "PATCH", path: "/api/workspaces/{ws}/members/vera", body: `{"role":"editor"}`, user: "bob",
		status: 403, wsEvents: none},
	{name: "demote the last admin", method: "PATCH", path: "/api/workspaces/{ws}/members/alice", body: `{"role":"editor"}`, user: "alice",
		status: 409, want: []string{"last admin"}, wsEvents: none},
	{name: "change role of a non-member", method: "PATCH", path: "/api/workspaces/{ws}/members/nobody", body: `{"role":"editor"}`,
		user: "alice", status: 404},
	{name: "change role with user_id in the body", method: "PATCH", path: "/api/workspaces/{ws}/members/bob", body: `{"role":"editor","user_id":"x"}`,
		user: "alice", status: 400, want: []string{`"user_id":"is not a known field"`}},
	{name: "remove member", method: "DELETE", path: "/api/workspaces/{ws}/members/vera", user: "alice", status: 204,
		wsEvents: []string{"member_removed"},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
			if status, _ := env.do(t, "GET", fmt.Sprintf("/api/tables/%d/rows", fx.t), "", bearerFor("vera")); status != 404 {
				t.Errorf("a removed member still reads: %d", status)
			}
		}},
	{name: "remove the last admin", method: "DELETE", path: "/api/workspaces/{ws}/members/alice", user: "alice", status: 409, wsEvents: none},
	{name: "remove member as viewer", method: "DELETE", path: "/api/workspaces/{ws}/members/bob", user: "vera", status: 403, wsEvents: none},
}

var schemaScenarios = []scenario{
	{name: "list tables", method: "GET", path: "/api/workspaces/{ws}/tables", user: "vera", status: 200,
		want: []string{`"results":[{"id":{t},"workspace_id":{ws},"name":"Tasks"`}},
	{name: "list another's tables", method: "GET", path: "/api/workspaces/{ows}/tables", user: "alice", status: 404},
	{name: "create table", method: "POST", path: "/api/workspaces/{ws}/tables", body: `{"name":"Later"}`, user: "alice", status: 200,
		want: []string{`"name":"Later"`, `"fields":[{"id":`, `"name":"Name","type":"text","primary":true`}, wsEvents: []string{"table_created"}},
	{name: "create table with fields", method: "POST", path: "/api/workspaces/{ws}/tables", user: "alice", status: 200,
		body: `{"name":"T","fields":[{"name":"Amount","type":"number","options":{"decimals":3}},{"name":"Kind","type":"single_select","options":{"choices":[{"id":0,"value":"x","color":"red"}]}}]}`,
		want: []string{`"name":"Amount","type":"number","primary":true`, `"options":{"decimals":3}`, `"choices":[{"id":1,"value":"x","color":"red"}]`}},
	{name: "create table with a bad field", method: "POST", path: "/api/workspaces/{ws}/tables", user: "alice", status: 400,
		body: `{"name":"T","fields":[{"name":"A","type":"text"},{"name":"B","type":"nope"}]}`, want: []string{`"fields[1].type"`}, wsEvents: none},
	{name: "create table as editor", method: "POST", path: "/api/workspaces/{ws}/tables", body: `{"name":"x"}`, user: "bob", status: 403, wsEvents: none},
	{name: "create table in another's workspace", method: "POST", path: "/api/workspaces/{ows}/tables", body: `{"name":"x"}`, user: "alice", status: 404},
	{name: "get table", method: "GET", path: "/api/tables/{t}", user: "vera", status: 200, want: []string{`"id":{t}`, `"name":"Tasks"`}},
	{name: "probe another's table", method: "GET", path: "/api/tables/{ot}", user: "alice", status: 404,
		want: []string{`"code":"not_found"`, `"message":"table {ot} does not exist"`}},
	{name: "unknown table", method: "GET", path: "/api/tables/999999999", user: "alice", status: 404,
		want: []string{`"message":"table 999999999 does not exist"`}},
	{name: "table id not a number", method: "GET", path: "/api/tables/abc", user: "alice", status: 404},
	{name: "update table", method: "PATCH", path: "/api/tables/{t}", body: `{"name":"Jobs","order":3}`, user: "alice", status: 200,
		want: []string{`"name":"Jobs"`, `"order":3`}, wsEvents: []string{"table_updated"}, events: []string{"table_updated"}},
	{name: "update table as editor", method: "PATCH", path: "/api/tables/{t}", body: `{"name":"x"}`, user: "bob", status: 403, wsEvents: none},
	{name: "update table with an empty name", method: "PATCH", path: "/api/tables/{t}", body: `{"name":" "}`, user: "alice", status: 400,
		want: []string{`"name":"must not be empty"`}},
	{name: "delete table", method: "DELETE", path: "/api/tables/{t}", user: "alice", status: 204,
		events: []string{"table_deleted"}, wsEvents: []string{"table_deleted"}},
	{name: "delete table as editor", method: "DELETE", path: "/api/tables/{t}", user: "bob", status: 403, events: none, wsEvents: none},
	{name: "delete another's table", method: "DELETE", path: "/api/tables/{ot}", user: "alice", status: 404},
	{name: "list fields", method: "GET", path: "/api/tables/{t}/fields", user: "vera", status: 200,
		want: []string{`"name":"Price","type":"number"`, `"options":{"decimals":2}`, `"options":{"include_time":true}`,
			`{"id":{c.Colour.0},"value":"red","color":""}`}},
	{name: "list fields of another's table", method: "GET", path: "/api/tables/{ot}/fields", user: "alice", status: 404},
	{name: "create field", method: "POST", path: "/api/tables/{t}/fields", body: `{"name":"Urgent","type":"boolean"}`, user: "bob",
		headers: map[string]string{"WebSocketId": "baserow-socket"}, status: 200,
		want: []string{`"name":"Urgent","type":"boolean","primary":false`}, events: []string{"field_created"}},
	{name: "create field as viewer", method: "POST", path: "/api/tables/{t}/fields", body: `{"name":"x","type":"text"}`, user: "vera",
		status: 403, events: none},
	{name: "create field with a taken name", method: "POST", path: "/api/tables/{t}/fields", body: `{"name":"Price","type":"text"}`,
		user: "bob", status: 400, want: []string{`"name":"a field with this name already exists in the table"`}, events: none},
	{name: "create field with options of another type", method: "POST", path: "/api/tables/{t}/fields",
		body: `{"name":"x","type":"text","options":{"decimals":2}}`, user: "bob", status: 400, want: []string{`"options.decimals"`}},
	{name: "create field of an unknown type", method: "POST", path: "/api/tables/{t}/fields", body: `{"name":"x","type":"formula"}`,
		user: "bob", status: 400, want: []string{`"type":"unknown field type`}},
	{name: "create field with bad decimals", method: "POST", path: "/api/tables/{t}/fields",
		body: `{"name":"x","type":"number","options":{"decimals":11}}`, user: "bob", status: 400, want: []string{`"options.decimals":"must be from 0 to 10"`}},
	{name: "create primary field", method: "POST", path: "/api/tables/{t}/fields", body: `{"name":"x","type":"text","primary":true}`,
		user: "bob", status: 400, want: []string{`"primary"`}},
	{name: "rename field", method: "PATCH", path: "/api/fields/{f.Notes}", body: `{"name":"Remarks"}`, user: "bob", status: 200,
		want: []string{`"name":"Remarks","type":"long_text"`}, events: []string{"field_updated"}},
	{name: "convert field", method: "PATCH", path: "/api/fields/{f.Notes}", body: `{"type":"number"}`, user: "bob", status: 200,
		want: []string{`"type":"number"`, `"options":{"decimals":0}`}, events: []string{"field_updated", "rows_updated"},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
			_, body := env.do(t, "GET", fmt.Sprintf("/api/tables/%d/rows/%d", fx.t, fx.rows[0].ID), "", bearerFor("alice"))
			if !strings.Contains(string(body), fmt.Sprintf(`"%d":13`, fx.f["Notes"].ID)) {
				t.Errorf("converted row = %s", body)
			}
		}},
	{name: "update field as viewer", method: "PATCH", path: "/api/fields/{f.Notes}", body: `{"name":"x"}`, user: "vera", status: 403, events: none},
	{name: "update another's field", method: "PATCH", path: "/api/fields/{f.Notes}", body: `{"name":"x"}`, user: "mallory", status: 404,
		want: []string{`"message":"field {f.Notes} does not exist"`}},
	{name: "update unknown field", method: "PATCH", path: "/api/fields/999999999", body: `{"name":"x"}`, user: "alice", status: 404},
	{name: "delete field used by a view", method: "DELETE", path: "/api/fields/{f.Price}", user: "bob", status: 204,
		events: []string{"field_deleted"},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
			_, body := env.do(t, "GET", fmt.Sprintf("/api/tables/%d/views", fx.t), "", bearerFor("alice"))
			if strings.Contains(string(body), fmt.Sprintf(`"field_id":%d`, fx.f["Price"].ID)) {
				t.Errorf("a view still uses the deleted field: %s", body)
			}
			evs := env.streamEvents(t, tableStreamOf(fx), 0)
			var fd struct {
				ViewsChanged []struct {
					ID int64 `json:"id"`
				} `json:"views_changed"`
			}
			_ = json.Unmarshal(evs[len(evs)-1].Payload, &fd)
			if len(fd.ViewsChanged) != 2 {
				t.Errorf("views_changed = %+v, want the filtered view and the public one", fd.ViewsChanged)
			}
		}},
	{name: "delete the primary field", method: "DELETE", path: "/api/fields/{f.Name}", user: "bob", status: 409, events: none},
	{name: "delete field as viewer", method: "DELETE", path: "/api/fields/{f.Notes}", user: "vera", status: 403, events: none},
	{name: "put is not allowed", method: "PUT", path: "/api/tables/{t}", user: "alice", status: 405, want: []string{`"code":"method_not_allowed"`}},
	{name: "unknown path", method: "GET", path: "/api/tables/{t}/nothing", user: "alice", status: 404, want: []string{`"code":"not_found"`}},
}

var viewScenarios = []scenario{
	{name: "list views", method: "GET", path: "/api/tables/{t}/views", user: "vera", status: 200,
		want: []string{`"name":"Cheap","type":"grid"`, `"filters":[{"field_id":{f.Price},"type":"lower_than","value":"3"}]`,
			`"sorts":[{"field_id":{f.Price},"order":"desc"}]`, `"slug":"{slug}"`, `"has_password":true`}, notWant: []string{"open sesame", "pbkdf2"}},
	{name: "list another's views", method: "GET", path: "/api/tables/{ot}/views", user: "alice", status: 404},
	{name: "create view", method: "POST", path: "/api/tables/{t}/views", user: "bob", status: 200,
		body:   `{"name":"Grid","type":"grid","filter_type":"OR","filters":[{"field_id":{f.Price},"type":"higher_than","value":1}],"sorts":[{"field_id":{f.Name},"order":"DESC"}],"hidden_field_ids":[{f.Notes}],"public":true,"password":"long enough"}`,
		want:   []string{`"filter_type":"OR"`, `"value":"1"`, `"order":"desc"`, `"hidden_field_ids":[{f.Notes}]`, `"public":true,"slug":"`, `"has_password":true`},
		events: []string{"view_created"}},
	{name: "create view as viewer", method: "POST", path: "/api/tables/{t}/views", body: `{"name":"x"}`, user: "vera", status: 403, events: none},
	{name: "create view with a bad filter", method: "POST", path: "/api/tables/{t}/views", user: "bob", status: 400,
		body: `{"name":"x","filters":[{"field_id":{f.Done},"type":"higher_than","value":"1"}]}`, want: []string{`"filters[0].type"`}, events: none},
	{name: "create view hiding the primary field", method: "POST", path: "/api/tables/{t}/views", user: "bob", status: 400,
		body: `{"name":"x","hidden_field_ids":[{f.Name}]}`, want: []string{`"hidden_field_ids[0]":"the primary field cannot be hidden"`}},
	{name: "create view of another type", method: "POST", path: "/api/tables/{t}/views", body: `{"name":"x","type":"kanban"}`, user: "bob",
		status: 400, want: []string{`"type":"must be grid"`}},
	{name: "create view with a short password", method: "POST", path: "/api/tables/{t}/views", body: `{"name":"x","password":"abc"}`,
		user: "bob", status: 400, want: []string{`"password"`}},
	{name: "update view", method: "PATCH", path: "/api/views/{v}", body: `{"name":"Cheaper","filters":[]}`, user: "bob", status: 200,
		want: []string{`"name":"Cheaper"`, `"filters":[]`}, events: []string{"view_updated"}},
	{name: "update view as viewer", method: "PATCH", path: "/api/views/{v}", body: `{"name":"x"}`, user: "vera", status: 403, events: none},
	{name: "update another's view", method: "PATCH", path: "/api/views/{v}", body: `{"name":"x"}`, user: "mallory", status: 404},
	{name: "delete view", method: "DELETE", path: "/api/views/{v}", user: "bob", status: 204, events: []string{"view_deleted"}},
	{name: "delete view as viewer", method: "DELETE", path: "/api/views/{v}", user: "vera", status: 403, events: none},
	{name: "public rows", method: "GET", path: "/api/views/{slug}/public/rows", status: 200,
		want: []string{`"results":[{"id":{r2}`, `"{f.Name}":"two"`, `"offset":`}, notWant: []string{`"{f.Price}":`, `"{f.Notes}":`, `"one"`},
		check: func(t *testing.T, _ *apiEnv, fx *apiFixture, body []byte) {
			var p struct {
				Results []struct {
					Fields map[string]json.RawMessage `json:"fields"`
				} `json:"results"`
			}
			if err := json.Unmarshal(body, &p); err != nil || len(p.Results) != 2 {
				t.Fatalf("public rows = %s", body)
			}
			for _, r := range p.Results {
				if len(r.Fields) != len(fx.f)-2 {
					t.Errorf("a public row shows %d fields, want %d", len(r.Fields), len(fx.f)-2)
				}
			}
		}},
	{name: "public rows of a private view", method: "GET", path: "/api/views/nope/public/rows", status: 404},
	{name: "public rows without the token", method: "GET", path: "/api/views/{lslug}/public/rows", status: 401},
	{name: "public rows with a user's JWT", method: "GET", path: "/api/views/{lslug}/public/rows", user: "alice", status: 401},
	{name: "public auth with a wrong password", method: "POST", path: "/api/views/{lslug}/public/auth", body: `{"password":"guess"}`, status: 401},
	{name: "public auth", method: "POST", path: "/api/views/{lslug}/public/auth", body: `{"password":"open sesame"}`, status: 200,
		want: []string{`"access_token":"`, `"expires_at":"`},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, body []byte) {
			var tok struct {
				Token string `json:"access_token"`
			}
			_ = json.Unmarshal(body, &tok)
			h := http.Header{"Authorization": {"Bearer " + tok.Token}}
			status, rows := env.do(t, "GET", "/api/views/"+fx.locked.Slug+"/public/rows?limit=2", "", h)
			if status != 200 || !strings.Contains(string(rows), `"next_cursor":"`) {
				t.Errorf("rows with the token: %d %s", status, rows)
			}
			if status, _ := env.do(t, "GET", "/api/views/"+fx.public.Slug+"/public/rows", "", h); status != 200 {
				t.Errorf("a view without a password ignores the token: %d", status)
			}
		}},
	{name: "public auth of a private view", method: "POST", path: "/api/views/nope/public/auth", body: `{"password":"x"}`, status: 404},
}

// bearerFor is the header of a fresh token for user.
func bearerFor(user string) http.Header {
	tok, _ := signToken(user, time.Now().Add(time.Hour))
	return http.Header{"Authorization": {"Bearer " + tok}}
}
