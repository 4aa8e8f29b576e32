package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tablecast/tablecast/internal/auth"
)

// TestShareDBUpgrade: the token comes in the query, the Authorization
// header or the tablecast_token cookie; without one, or with a bad or
// expired one, the upgrade is refused with the HTTP API's error body.
func TestShareDBUpgrade(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	tok := tokenFor(t, "alice")
	tn.sdbOpen(t, url.Values{"token": {tok}}, nil).sync()
	tn.sdbOpen(t, nil, http.Header{"Authorization": {"Bearer " + tok}}).sync()
	tn.sdbOpen(t, nil, http.Header{"Cookie": {"tablecast_token=" + tok}}).sync()

	expired := mint(t, auth.Claims{Subject: "alice", ExpiresAt: time.Now().Add(-time.Hour)})
	for _, tc := range []struct {
		name   string
		query  url.Values
		status int
		code   string
	}{
		{"no token", nil, 401, "token_required"},
		{"bad token", url.Values{"token": {"not.a.token"}}, 401, "invalid_token"},
		{"wrong secret", url.Values{"token": {mintWith(t, "another secret", auth.Claims{Subject: "alice"})}}, 401, "invalid_token"},
		{"expired", url.Values{"token": {expired}}, 401, "token_expired"},
		{"user_id not the token's", url.Values{"token": {tok}, "user_id": {"bob"}}, 403, "user_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, status, body := tn.sdbDialRaw(t, tc.query, nil)
			e := decodeAPIError(t, body)
			if status != tc.status || e.Error.Code != tc.code {
				t.Fatalf("got %d %s; want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
}

// TestShareDBBadInput: junk frames, unknown actions, members of the wrong
// type, malformed ops, unknown collections: each gets a ShareDB-style
// error (the request echoed with error {code, message}), nothing is
// stored, and the socket goes on.
func TestShareDBBadInput(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newSdbFixture(t, tn)
	c := tn.sdbUser(t, "owner")
	row := fmt.Sprint(f.firstRow)
	big := strings.Repeat("x", 5000)

	for _, tc := range []struct {
		name   string
		msg    string
		action string // echoed ("" when the request could not be read)
		code   string
	}{
		{"not JSON", `{"a":`, "", "ERR_MESSAGE_BADLY_FORMED"},
		{"a JSON array", `[{"a":"pp"}]`, "", "ERR_MESSAGE_BADLY_FORMED"},
		{"a JSON string", `"pp"`, "", "ERR_MESSAGE_BADLY_FORMED"},
		{"no action", `{"c":"x"}`, "", "ERR_MESSAGE_BADLY_FORMED"},
		{"unknown action", `{"a":"zz"}`, "zz", "ERR_MESSAGE_BADLY_FORMED"},
		{"action not a string", `{"a":5}`, "", "ERR_MESSAGE_BADLY_FORMED"},
		{"collection not a string", `{"a":"f","c":5,"d":"1"}`, "f", "ERR_MESSAGE_BADLY_FORMED"},
		{"id not a string", fmt.Sprintf(`{"a":"f","c":%q,"d":1}`, f.col), "f", "ERR_MESSAGE_BADLY_FORMED"},
		{"id missing", fmt.Sprintf(`{"a":"s","c":%q}`, f.col), "s", "ERR_MESSAGE_BADLY_FORMED"},
		{"unknown collection", `{"a":"f","c":"notes","d":"1"}`, "f", "ERR_UNKNOWN_COLLECTION"},
		{"collection id zero", `{"a":"s","c":"record_0","d":"1"}`, "s", "ERR_UNKNOWN_COLLECTION"},
		{"collection id with a leading zero", fmt.Sprintf(`{"a":"s","c":"record_0%d","d":"1"}`, f.tbl), "s", "ERR_UNKNOWN_COLLECTION"},
		{"collection of a table that does not exist", `{"a":"s","c":"rec_987654","d":"1"}`, "s", "ERR_UNKNOWN_COLLECTION"},
		{"version negative", fmt.Sprintf(`{"a":"f","c":%q,"d":%q,"v":-1}`, f.col, row), "f", "ERR_MESSAGE_BADLY_FORMED"},
		{"version a fraction", fmt.Sprintf(`{"a":"f","c":%q,"d":%q,"v":1.5}`, f.col, row), "f", "ERR_MESSAGE_BADLY_FORMED"},
		{"version a string", fmt.Sprintf(`{"a":"s","c":%q,"d":%q,"v":"1"}`, f.col, row), "s", "ERR_MESSAGE_BADLY_FORMED"},
		{"seq a string", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":"1","op":[]}`, f.col, row), "op", "ERR_MESSAGE_BADLY_FORMED"},
		{"bulk b a number", fmt.Sprintf(`{"a":"bf","c":%q,"b":5}`, f.col), "bf", "ERR_MESSAGE_BADLY_FORMED"},
		{"bulk b with a bad version", fmt.Sprintf(`{"a":"bs","c":%q,"b":{"1":"x"}}`, f.col), "bs", "ERR_MESSAGE_BADLY_FORMED"},
		{"bulk of too many", fmt.Sprintf(`{"a":"bf","c":%q,"b":[%s]}`, f.col, strings.TrimSuffix(strings.Repeat(`"1",`, 1001), ",")), "bf", "ERR_MESSAGE_BADLY_FORMED"},
		{"query without id", fmt.Sprintf(`{"a":"qf","c":%q,"q":{}}`, f.col), "qf", "ERR_MESSAGE_BADLY_FORMED"},
		{"query with an unknown option", fmt.Sprintf(`{"a":"qf","id":1,"c":%q,"q":{"$sort":{}}}`, f.col), "qf", "ERR_MESSAGE_BADLY_FORMED"},
		{"query with a bad filter", fmt.Sprintf(`{"a":"qs","id":2,"c":%q,"q":{"filter":{"filters":[{"field_id":1,"type":"nope","value":"x"}]}}}`, f.col), "qs", "ERR_MESSAGE_BADLY_FORMED"},
		{"query with options on fields", fmt.Sprintf(`{"a":"qf","id":3,"c":"fld_%d","q":{"limit":1}}`, f.tbl), "qf", "ERR_MESSAGE_BADLY_FORMED"},
		{"op without op, create or del", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":1}`, f.col, row), "op", "ERR_MESSAGE_BADLY_FORMED"},
		{"op not a list", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":1,"op":{"p":[]}}`, f.col, row), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"op null", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":1,"op":null}`, f.col, row), "op", "ERR_OT_OP_BADLY_FORMED"},
		{"op component of no kind", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":1,"op":[{"p":["fields",%q]}]}`, f.col, row, f.text), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"op on a path records do not have", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":1,"op":[{"p":["id"],"oi":3}]}`, f.col, row), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"op on a field that does not exist", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":1,"op":[{"p":["fields","999999"],"oi":3}]}`, f.col, row), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"op with a value the field refuses", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":1,"seq":1,"op":[{"p":["fields",%q],"oi":"many"}]}`, f.col, row, f.num), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"op for a version not reached", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"v":99,"seq":1,"op":[]}`, f.col, row), "op", "ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT"},
		{"op on an unknown collection", `{"a":"op","c":"notes_1","d":"1","v":1,"seq":1,"op":[]}`, "op", "ERR_UNKNOWN_COLLECTION"},
		{"op on a row that does not exist", fmt.Sprintf(`{"a":"op","c":%q,"d":"987654321","v":1,"seq":1,"op":[]}`, f.col), "op", "ERR_DOC_DOES_NOT_EXIST"},
		{"del of a row that does not exist", fmt.Sprintf(`{"a":"op","c":%q,"d":"987654321","v":1,"seq":1,"del":true}`, f.col), "op", "ERR_DOC_DOES_NOT_EXIST"},
		{"create of another type", fmt.Sprintf(`{"a":"op","c":%q,"d":"987654321","v":null,"seq":1,"create":{"type":"rich-text","data":{}}}`, f.col), "op", "ERR_DOC_TYPE_NOT_RECOGNIZED"},
		{"create without its type", fmt.Sprintf(`{"a":"op","c":%q,"d":"987654321","seq":1,"create":{"data":{}}}`, f.col), "op", "ERR_DOC_TYPE_NOT_RECOGNIZED"},
		{"create of a row that exists", fmt.Sprintf(`{"a":"op","c":%q,"d":%q,"seq":1,"create":{"type":"json0","data":{}}}`, f.col, row), "op", "ERR_DOC_ALREADY_CREATED"},
		{"create with a document id that is not an integer", fmt.Sprintf(`{"a":"op","c":%q,"d":"abc","seq":1,"create":{"type":"json0","data":{}}}`, f.col), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"create with data that is not a record", fmt.Sprintf(`{"a":"op","c":%q,"d":"987654321","seq":1,"create":{"type":"json0","data":{"name":"x"}}}`, f.col), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"create of a field", fmt.Sprintf(`{"a":"op","c":"fld_%d","d":"987654321","seq":1,"create":{"type":"json0","data":{}}}`, f.tbl), "op", "ERR_OP_SUBMIT_REJECTED"},
		{"snapshot request without id", fmt.Sprintf(`{"a":"nf","c":%q,"d":%q,"v":1}`, f.col, row), "nf", "ERR_MESSAGE_BADLY_FORMED"},
		{"snapshot at a version not reached", fmt.Sprintf(`{"a":"nf","id":1,"c":%q,"d":%q,"v":50}`, f.col, row), "nf", "ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT"},
		// A table's first fields are made with it: their creation is not in the op log.
		{"snapshot of a document whose history is not kept", fmt.Sprintf(`{"a":"nf","id":2,"c":"fld_%d","d":%q,"v":1}`, f.tbl, f.num), "nf", "ERR_SNAPSHOT_READS_REJECTED"},
		{"hs with an id too long", `{"a":"hs","id":"` + strings.Repeat("i", 200) + `"}`, "hs", "ERR_MESSAGE_BADLY_FORMED"},
		{"presence channel with a dot", `{"a":"ps","ch":"a.b","seq":1}`, "ps", "ERR_MESSAGE_BADLY_FORMED"},
		{"presence channel missing", `{"a":"ps","seq":1}`, "ps", "ERR_MESSAGE_BADLY_FORMED"},
		{"presence channel not allowed", `{"a":"ps","ch":"news","seq":1}`, "ps", "ERR_FORBIDDEN"},
		{"presence channel of a table not readable", `{"a":"ps","ch":"__col_user_987654","seq":1}`, "ps", "ERR_FORBIDDEN"},
		{"presence without id", fmt.Sprintf(`{"a":"p","ch":"__col_user_%d","p":{},"pv":0}`, f.tbl), "p", "ERR_MESSAGE_BADLY_FORMED"},
		{"presence without pv", fmt.Sprintf(`{"a":"p","ch":"__col_user_%d","id":"x","p":{}}`, f.tbl), "p", "ERR_MESSAGE_BADLY_FORMED"},
		{"presence too large", fmt.Sprintf(`{"a":"p","ch":"__col_user_%d","id":"x","p":%q,"pv":0}`, f.tbl, big), "p", "ERR_MESSAGE_TOO_LARGE"},
		{"doc presence (json0 has none)", fmt.Sprintf(`{"a":"p","ch":"__col_user_%d","id":"x","p":{},"pv":0,"c":%q,"d":%q,"v":1,"t":"json0"}`, f.tbl, f.col, row), "p", "ERR_TYPE_DOES_NOT_SUPPORT_PRESENCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.sendText(tc.msg)
			c.expectError(tc.action, tc.code)
			c.sync()
		})
	}
	c.t = t

	t.Run("binary frame", func(t *testing.T) {
		c.t = t
		c.mustWrite(ws.OpBinary, []byte(`{"a":"pp"}`))
		c.expectError("", "ERR_MESSAGE_BADLY_FORMED")
		c.sync()
	})
	c.t = t

	// Nothing above changed the row.
	var got struct {
		Version int64
		Fields  map[string]any
	}
	tn.rest(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/rows/%d", f.tbl, f.firstRow), nil, "", &got)
	if got.Version != f.firstRowVer || got.Fields[f.text] != "hello" {
		t.Fatalf("row after the bad input: %+v", got)
	}
	// The socket still works.
	c.sendJSON(map[string]any{"a": "op", "c": f.col, "d": row, "v": f.firstRowVer, "seq": 9,
		"op": []any{map[string]any{"p": []any{"fields", f.text, 5}, "si": "!"}}})
	if ack := c.expect("op"); ack.num("v") != f.firstRowVer || ack.num("seq") != 9 || ack.str("src") != c.src {
		t.Fatalf("ack %s", ack)
	}
}

// TestShareDBTooLarge: a message over the size limit is answered with an
// error, then the socket is closed with 1009.
func TestShareDBTooLarge(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--max-message-size", "1024"))
	c := tn.sdbUser(t, "alice")
	c.sendText(`{"a":"pp","x":"` + strings.Repeat("x", 2000) + `"}`)
	code, msgs := c.expectClose()
	if code != ws.StatusMessageTooBig || len(msgs) != 1 || msgs[0].errCode() != "ERR_MESSAGE_TOO_LARGE" {
		t.Fatalf("close %d after %v; want ERR_MESSAGE_TOO_LARGE then 1009", code, msgs)
	}
}

// TestShareDBRateLimit: over the limit, each request is answered with
// ERR_RATE_LIMITED (a client waiting on an op gets its answer), and the
// socket stays.
func TestShareDBRateLimit(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--rate-limit", "1/s,3"))
	c := tn.sdbUser(t, "alice") // the hs took one of the three
	c.sendJSON(map[string]any{"a": "pp"})
	c.expect("pp")
	c.sendJSON(map[string]any{"a": "pp"})
	c.expect("pp")
	c.sendJSON(map[string]any{"a": "f", "c": "record_1", "d": "1"})
	c.expectError("f", "ERR_RATE_LIMITED")
}
