package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// batchBody is a batch create of n rows.
func batchBody(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"fields":{"{f.Name}":"row %d","{f.Price}":%d}}`, i, i)
	}
	return `{"items":[` + strings.Join(items, ",") + `]}`
}

// firstRow checks the first row of a listing.
func firstRow(id func(fx *apiFixture) int64) func(t *testing.T, env *apiEnv, fx *apiFixture, body []byte) {
	return func(t *testing.T, env *apiEnv, fx *apiFixture, body []byte) {
		t.Helper()
		_, list := env.do(t, "GET", fmt.Sprintf("/api/tables/%d/rows", fx.t), "", bearerFor("alice"))
		var p struct {
			Results []struct {
				ID int64 `json:"id"`
			} `json:"results"`
		}
		if err := json.Unmarshal(list, &p); err != nil || len(p.Results) == 0 || p.Results[0].ID != id(fx) {
			t.Errorf("first row is not %d: %s", id(fx), list)
		}
	}
}

var rowScenarios = []scenario{
	{name: "list rows", method: "GET", path: "/api/tables/{t}/rows", user: "vera", status: 200,
		want: []string{`"results":[{"id":{r1},"order":"1.00000000000000000000","version":1,"fields":{`, `"{f.Tags}":[]`,
			`"{f.Price}":1`, `"{f.Due}":null`, `"created_at":"`, `"updated_at":"`, `"next_cursor":null`, `"offset":4`}},
	{name: "list rows by page", method: "GET", path: "/api/tables/{t}/rows?limit=2", user: "vera", status: 200,
		want: []string{`"next_cursor":"`}, notWant: []string{`"id":{r3}`},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, body []byte) {
			var p struct {
				Next string `json:"next_cursor"`
			}
			_ = json.Unmarshal(body, &p)
			status, page := env.do(t, "GET", fmt.Sprintf("/api/tables/%d/rows?limit=2&cursor=%s", fx.t, p.Next), "", bearerFor("vera"))
			if status != 200 || !strings.Contains(string(page), fmt.Sprintf(`"results":[{"id":%d,`, fx.rows[2].ID)) ||
				!strings.Contains(string(page), `"next_cursor":null`) {
				t.Errorf("second page: %d %s", status, page)
			}
		}},
	{name: "list rows of a view", method: "GET", path: "/api/tables/{t}/rows?view={v}", user: "vera", status: 200,
		want: []string{`"results":[{"id":{r2}`}, notWant: []string{`"id":{r3}`}},
	{name: "list rows filtered", method: "GET", path: `/api/tables/{t}/rows?filter={"filter_type":"OR","filters":[{"field_id":{f.Name},"type":"equal","value":"ONE"},{"field_id":{f.Tags},"type":"contains","value":"b"}]}`,
		user: "vera", status: 200, want: []string{`"id":{r1}`, `"id":{r3}`}, notWant: []string{`"id":{r2}`}},
	{name: "list rows sorted", method: "GET", path: `/api/tables/{t}/rows?sort=[{"field_id":{f.Price},"order":"desc"}]`, user: "vera",
		status: 200, want: []string{`"results":[{"id":{r3}`}},
	{name: "list rows searched", method: "GET", path: "/api/tables/{t}/rows?search=THR", user: "vera", status: 200,
		want: []string{`"id":{r3}`}, notWant: []string{`"id":{r1}`}},
	{name: "list rows with filter in bad JSON", method: "GET", path: `/api/tables/{t}/rows?filter={"filters":[`, user: "vera", status: 400,
		want: []string{invalid, `"filter":"must be valid JSON`}},
	{name: "list rows with a filter on an unknown field", method: "GET", user: "vera", status: 400,
		path: `/api/tables/{t}/rows?filter={"filters":[{"field_id":999999,"type":"equal","value":"x"}]}`, want: []string{`"filter.filters[0].field_id"`}},
	{name: "list rows with a filter of the wrong type", method: "GET", user: "vera", status: 400,
		path: `/api/tables/{t}/rows?filter={"filters":[{"field_id":{f.Done},"type":"contains","value":"x"}]}`, want: []string{`"filter.filters[0].type"`}},
	{name: "list rows with sort in bad JSON", method: "GET", path: `/api/tables/{t}/rows?sort=[{"field_id"`, user: "vera", status: 400,
		want: []string{`"sort":"must be valid JSON`}},
	{name: "list rows with a bad sort order", method: "GET", path: `/api/tables/{t}/rows?sort=[{"field_id":{f.Price},"order":"sideways"}]`,
		user: "vera", status: 400, want: []string{`"sort[0].order":"must be asc or desc"`}},
	{name: "list rows with a bad limit", method: "GET", path: "/api/tables/{t}/rows?limit=abc", user: "vera", status: 400, want: []string{`"limit"`}},
	{name: "list rows with limit 0", method: "GET", path: "/api/tables/{t}/rows?limit=0", user: "vera", status: 400, want: []string{`"limit"`}},
	{name: "list rows over the limit", method: "GET", path: "/api/tables/{t}/rows?limit=1001", user: "vera", status: 400,
		want: []string{`"limit":"must be from 1 to 1000"`}},
	{name: "list rows with a bad cursor", method: "GET", path: "/api/tables/{t}/rows?cursor=zzz", user: "vera", status: 400, want: []string{`"cursor"`}},
	{name: "list rows of an unknown view", method: "GET", path: "/api/tables/{t}/rows?view=999999", user: "vera", status: 400, want: []string{`"view"`}},
	{name: "list rows of another's table", method: "GET", path: "/api/tables/{t}/rows", user: "mallory", status: 404},
	{name: "list rows of an unknown table", method: "GET", path: "/api/tables/999999999/rows", user: "alice", status: 404},
	{name: "get row", method: "GET", path: "/api/tables/{t}/rows/{r1}", user: "vera", status: 200,
		want: []string{`"id":{r1}`, `"{f.Price}":1`, `"{f.Done}":true`, `"{f.Notes}":"12.5"`}},
	{name: "get unknown row", method: "GET", path: "/api/tables/{t}/rows/999999999", user: "vera", status: 404,
		want: []string{`"message":"row 999999999 does not exist in table {t}"`}},
	{name: "get row through another table", method: "GET", path: "/api/tables/{ot}/rows/{r1}", user: "mallory", status: 404},
}

var rowWriteScenarios = []scenario{
	{name: "create row", method: "POST", path: "/api/tables/{t}/rows", user: "bob", headers: map[string]string{"X-WebSocket-Id": "sock-9"},
		body: `{"fields":{"{f.Name}":"new","field_{f.Price}":"3.14159","{f.Due}":"2026-02-03","{f.At}":"2026-02-03T04:05:06+02:00",` +
			`"{f.Colour}":"green","{f.Tags}":["b",{c.Tags.0}],"{f.Done}":"yes","{f.Notes}":42}}`,
		status: 200, want: []string{`"version":1`, `"{f.Price}":3.14`, `"{f.At}":"2026-02-03T02:05:06Z"`, `"{f.Due}":"2026-02-03"`,
			`"{f.Colour}":{c.Colour.1}`, `"{f.Tags}":[{c.Tags.1},{c.Tags.0}]`, `"{f.Done}":true`, `"{f.Notes}":"42"`, `"order":"4.00000000000000000000"`},
		events: []string{"rows_created"}, check: wantRows(4)},
	{name: "create empty row", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{}`, status: 200,
		want: []string{`"{f.Name}":null`, `"{f.Done}":false`}, events: []string{"rows_created"}},
	{name: "create row: text not a string", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.Name}":{"a":1}}}`,
		status: 400, want: []string{`"fields.{f.Name}":"must be a string"`}, events: none, check: wantRows(3)},
	{name: "create row: long text not a string", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.Notes}":[1]}}`,
		status: 400, want: []string{`"fields.{f.Notes}"`}, events: none},
	{name: "create row: number not a number", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.Price}":"abc"}}`,
		status: 400, want: []string{`"fields.{f.Price}"`}, events: none},
	{name: "create row: boolean not a boolean", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.Done}":"maybe"}}`,
		status: 400, want: []string{`"fields.{f.Done}"`}, events: none},
	{name: "create row: date not a date", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.Due}":"2026-13-45"}}`,
		status: 400, want: []string{`"fields.{f.Due}"`}, events: none},
	{name: "create row: date-time not a date", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.At}":true}}`,
		status: 400, want: []string{`"fields.{f.At}"`}, events: none},
	{name: "create row: unknown choice", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.Colour}":999999}}`,
		status: 400, want: []string{`"fields.{f.Colour}":"choice 999999 does not exist"`}, events: none},
	{name: "create row: choices not a list", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"{f.Tags}":"a"}}`,
		status: 400, want: []string{`"fields.{f.Tags}"`}, events: none},
	{name: "create row: unknown field id", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"999999":"x"}}`,
		status: 400, want: []string{`"fields.999999":"no such field"`}, events: none},
	{name: "create row: one field twice", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"field_{f.Name}":"a","{f.Name}":"b"}}`,
		status: 400, want: []string{`"given twice"`}, events: none},
	{name: "create row: not a field key", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{"Name":"x"}}`,
		status: 400, want: []string{`"fields.Name":"no such field"`}, events: none},
	{name: "create row: fields not an object", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":[1]}`,
		status: 400, want: []string{`"fields":"must be an object"`}, events: none},
	{name: "create row as viewer", method: "POST", path: "/api/tables/{t}/rows", user: "vera", body: `{}`, status: 403, events: none},
	{name: "create row in another's table", method: "POST", path: "/api/tables/{t}/rows", user: "mallory", body: `{}`, status: 404, events: none},
	{name: "create row without a token", method: "POST", path: "/api/tables/{t}/rows", body: `{}`, status: 401, events: none},
	{name: "create row with an oversized body", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: "{big}", status: 413,
		want: []string{`"code":"too_large"`}, events: none, check: wantRows(3)},
	{name: "create batch", method: "POST", path: "/api/tables/{t}/rows", user: "bob", headers: map[string]string{"WebSocketId": "ws-7"},
		body: `{"items":[{"fields":{"{f.Name}":"a"}},{"fields":{"{f.Name}":"b"}},{}]}`, status: 200,
		want: []string{`"items":[{"id":`, `"orders_shifted":false`}, events: []string{"rows_created"}, check: wantRows(6)},
	{name: "create batch with one bad item", method: "POST", path: "/api/tables/{t}/rows", user: "bob",
		body: `{"items":[{"fields":{"{f.Name}":"a"}},{"fields":{"{f.Price}":"abc"}},{"fields":{"{f.Due}":"x"}}]}`, status: 400,
		want: []string{`"items[1].fields.{f.Price}"`, `"items[2].fields.{f.Due}"`}, notWant: []string{`"items[0]`}, events: none, check: wantRows(3)},
	{name: "create batch before a row", method: "POST", path: "/api/tables/{t}/rows?before={r1}", user: "bob",
		body: `{"items":[{"fields":{"{f.Name}":"first"}}]}`, status: 200, events: []string{"rows_created"},
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, body []byte) {
			var out struct {
				Items []struct {
					ID int64 `json:"id"`
				} `json:"items"`
			}
			_ = json.Unmarshal(body, &out)
			firstRow(func(*apiFixture) int64 { return out.Items[0].ID })(t, env, fx, body)
			evs := env.streamEvents(t, tableStreamOf(fx), 0)
			if !strings.Contains(string(evs[len(evs)-1].Payload), fmt.Sprintf(`"before_row_id":%d`, fx.rows[0].ID)) {
				t.Errorf("rows_created lacks before_row_id: %s", evs[len(evs)-1].Payload)
			}
		}},
	{name: "create before an unknown row", method: "POST", path: "/api/tables/{t}/rows?before=999999999", user: "bob", body: `{}`,
		status: 400, want: []string{`"before"`}, events: none},
	{name: "create before a non-id", method: "POST", path: "/api/tables/{t}/rows?before=x", user: "bob", body: `{}`,
		status: 400, want: []string{`"before":"must be an integer"`}},
	{name: "create batch of 1000 rows is one event", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: batchBody(1000),
		status: 200, events: []string{"rows_created"}, check: wantRows(1003)},
	{name: "create batch of 1001 rows", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: batchBody(1001),
		status: 400, want: []string{`"items":"must hold 1 to 1000 items"`}, events: none},
	{name: "create empty batch", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"items":[]}`, status: 400, want: []string{`"items"`}},
	{name: "create with fields and items", method: "POST", path: "/api/tables/{t}/rows", user: "bob", body: `{"fields":{},"items":[{}]}`,
		status: 400, want: []string{`"body"`}},
	{name: "update row", method: "PATCH", path: "/api/tables/{t}/rows/{r1}", user: "bob", headers: map[string]string{"X-WebSocket-Id": "me"},
		body: `{"fields":{"{f.Name}":"uno","{f.Price}":null}}`, status: 200,
		want: []string{`"version":2`, `"{f.Name}":"uno"`, `"{f.Price}":null`, `"{f.Notes}":"12.5"`}, events: []string{"rows_updated"}},
	{name: "update row with its version", method: "PATCH", path: "/api/tables/{t}/rows/{r1}", user: "bob",
		body: `{"fields":{"{f.Name}":"uno"},"version":1}`, status: 200, want: []string{`"version":2`}, events: []string{"rows_updated"}},
	{name: "update row with a stale version", method: "PATCH", path: "/api/tables/{t}/rows/{r1}", user: "bob",
		body: `{"fields":{"{f.Name}":"uno"},"version":5}`, status: 409, want: []string{"is at version 1, not 5"}, events: none},
	{name: "update row with a bad value", method: "PATCH", path: "/api/tables/{t}/rows/{r1}", user: "bob",
		body: `{"fields":{"{f.Price}":[]}}`, status: 400, want: []string{`"fields.{f.Price}"`}, events: none},
	{name: "update row as viewer", method: "PATCH", path: "/api/tables/{t}/rows/{r1}", user: "vera", body: `{"fields":{}}`, status: 403, events: none},
	{name: "update unknown row", method: "PATCH", path: "/api/tables/{t}/rows/999999999", user: "bob", body: `{"fields":{}}`, status: 404, events: none},
	{name: "update batch", method: "PATCH", path: "/api/tables/{t}/rows", user: "bob",
		body: `{"items":[{"id":{r1},"fields":{"{f.Done}":false}},{"id":{r2},"fields":{"{f.Tags}":["a"]}}]}`, status: 200,
		want: []string{`"items":[{"id":{r1}`, `"{f.Tags}":[{c.Tags.0}]`}, events: []string{"rows_updated"}},
	{name: "update batch as viewer", method: "PATCH", path: "/api/tables/{t}/rows", user: "vera",
		body: `{"items":[{"id":{r1},"fields":{}}]}`, status: 403, events: none},
	{name: "update batch with one bad item", method: "PATCH", path: "/api/tables/{t}/rows", user: "bob",
		body: `{"items":[{"id":{r1},"fields":{"{f.Name}":"changed"}},{"id":{r2},"fields":{"{f.Due}":"soon"}}]}`, status: 400,
		want: []string{`"items[1].fields.{f.Due}"`}, events: none,
		check: func(t *testing.T, env *apiEnv, fx *apiFixture, _ []byte) {
			_, row := env.do(t, "GET", fmt.Sprintf("/api/tables/%d/rows/%d", fx.t, fx.rows[0].ID), "", bearerFor("alice"))
			if !strings.Contains(string(row), `"version":1`) || strings.Contains(string(row), "changed") {
				t.Errorf("a failed batch changed a row: %s", row)
			}
		}},
	{name: "update batch with an unknown row", method: "PATCH", path: "/api/tables/{t}/rows", user: "bob",
		body: `{"items":[{"id":{r1},"fields":{}},{"id":999999999,"fields":{}}]}`, status: 404, want: []string{"999999999"}, events: none},
	{name: "update batch with a row twice", method: "PATCH", path: "/api/tables/{t}/rows", user: "bob",
		body: `{"items":[{"id":{r1},"fields":{}},{"id":{r1},"fields":{}}]}`, status: 400, want: []string{`"items[1].id"`}, events: none},
	{name: "update empty batch", method: "PATCH", path: "/api/tables/{t}/rows", user: "bob", body: `{"items":[]}`, status: 400},
	{name: "update batch with an unknown key", method: "PATCH", path: "/api/tables/{t}/rows", user: "bob",
		body: `{"items":[{"id":{r1},"values":{}}]}`, status: 400, want: []string{`"values":"is not a known field"`}},
	{name: "delete row", method: "DELETE", path: "/api/tables/{t}/rows/{r1}", user: "bob", status: 204,
		events: []string{"rows_deleted"}, check: wantRows(2)},
	{name: "delete row as viewer", method: "DELETE", path: "/api/tables/{t}/rows/{r1}", user: "vera", status: 403, events: none},
	{name: "delete unknown row", method: "DELETE", path: "/api/tables/{t}/rows/999999999", user: "bob", status: 404, events: none},
	{name: "delete rows", method: "POST", path: "/api/tables/{t}/rows/delete", user: "bob", body: `{"ids":[{r1},{r3}]}`, status: 204,
		events: []string{"rows_deleted"}, check: wantRows(1)},
	{name: "delete rows with an unknown one", method: "POST", path: "/api/tables/{t}/rows/delete", user: "bob",
		body: `{"ids":[{r1},999999999]}`, status: 404, events: none, check: wantRows(3)},
	{name: "delete rows with a repeat", method: "POST", path: "/api/tables/{t}/rows/delete", user: "bob",
		body: `{"ids":[{r1},{r1}]}`, status: 400, want: []string{`"ids[1]"`}, events: none},
	{name: "delete no rows", method: "POST", path: "/api/tables/{t}/rows/delete", user: "bob", body: `{"ids":[]}`, status: 400},
	{name: "delete rows as viewer", method: "POST", path: "/api/tables/{t}/rows/delete", user: "vera", body: `{"ids":[{r1}]}`,
		status: 403, events: none},
}
