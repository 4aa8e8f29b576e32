package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestBaserowBadInput: unknown pages, missing or wrong parameters, a page
// of a table in another workspace, a wrong view token, junk frames: a
// clear page_add_failed or no effect, and the socket survives (its table
// page still gets the next event).
func TestBaserowBadInput(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	f := newBrFixture(t, tn)
	v := f.publicView(t, map[string]any{"password": "open sesame"})
	// A table of another workspace, whose owner is someone else.
	var ows struct{ ID int64 }
	tn.restAs(t, "mallory", "POST", "/api/workspaces", map[string]any{"name": "theirs"}, "", &ows)
	var otbl struct{ ID int64 }
	tn.restAs(t, "mallory", "POST", fmt.Sprintf("/api/workspaces/%d/tables", ows.ID), map[string]any{"name": "hidden"}, "", &otbl)

	c := tn.brUser(t, "owner")
	c.tablePage(f.tbl)

	refused := []struct {
		name   string
		msg    string
		page   string // as echoed (JSON)
		params string // as echoed (JSON)
		word   string
	}{
		{"unknown page", `{"page":"dashboard","dashboard_id":1}`, `"dashboard"`, `{}`, "invalid"},
		{"page not a string", `{"page":7}`, `null`, `{}`, "invalid"},
		{"page an object", `{"page":{"table_id":1}}`, `null`, `{}`, "invalid"},
		{"table_id missing", `{"page":"table"}`, `"table"`, `{"table_id":null}`, "invalid"},
		{"table_id null", `{"page":"table","table_id":null}`, `"table"`, `{"table_id":null}`, "invalid"},
		{"table_id not a number", `{"page":"table","table_id":"abc"}`, `"table"`, `{"table_id":"abc"}`, "invalid"},
		{"table_id negative", `{"page":"table","table_id":-1}`, `"table"`, `{"table_id":-1}`, "invalid"},
		{"table_id zero", `{"page":"table","table_id":0}`, `"table"`, `{"table_id":0}`, "invalid"},
		{"table_id a fraction", `{"page":"table","table_id":1.5}`, `"table"`, `{"table_id":1.5}`, "invalid"},
		{"table_id a boolean", `{"page":"table","table_id":true}`, `"table"`, `{"table_id":true}`, "invalid"},
		{"table_id huge", `{"page":"table","table_id":123456789012345678901234567890}`, `"table"`, `{"table_id":123456789012345678901234567890}`, "invalid"},
		{"table of another workspace", fmt.Sprintf(`{"page":"table","table_id":%d}`, otbl.ID), `"table"`, fmt.Sprintf(`{"table_id":%d}`, otbl.ID), "not_found"},
		{"table that does not exist", `{"page":"table","table_id":987654}`, `"table"`, `{"table_id":987654}`, "not_found"},
		{"row_id missing", fmt.Sprintf(`{"page":"row","table_id":%d}`, f.tbl), `"row"`, fmt.Sprintf(`{"table_id":%d,"row_id":null}`, f.tbl), "invalid"},
		{"row of another workspace's table", fmt.Sprintf(`{"page":"row","table_id":%d,"row_id":1}`, otbl.ID), `"row"`, fmt.Sprintf(`{"table_id":%d,"row_id":1}`, otbl.ID), "not_found"},
		{"slug missing", `{"page":"view"}`, `"view"`, `{"slug":null,"token":null}`, "invalid"},
		{"slug with a slash", `{"page":"view","slug":"a/b"}`, `"view"`, `{"slug":"a/b","token":null}`, "invalid"},
		{"slug too long", `{"page":"view","slug":"` + strings.Repeat("s", 200) + `"}`, `"view"`, `{"slug":"` + strings.Repeat("s", 200) + `","token":null}`, "invalid"},
		{"token not a string", fmt.Sprintf(`{"page":"view","slug":%q,"token":5}`, v.Slug), `"view"`, fmt.Sprintf(`{"slug":%q,"token":5}`, v.Slug), "invalid"},
		{"wrong view token", fmt.Sprintf(`{"page":"view","slug":%q,"token":"x.y"}`, v.Slug), `"view"`, fmt.Sprintf(`{"slug":%q,"token":"x.y"}`, v.Slug), "forbidden"},
		{"no view token", fmt.Sprintf(`{"page":"view","slug":%q}`, v.Slug), `"view"`, fmt.Sprintf(`{"slug":%q,"token":null}`, v.Slug), "forbidden"},
	}
	run := subtests(t, c)
	for _, tt := range refused {
		run(tt.name, func(t *testing.T) {
			c.mustWrite(ws.OpText, []byte(tt.msg))
			m := c.expect("page_add_failed")
			if string(m.M["page"]) != tt.page || !jsonEqual(t, m.M["parameters"], json.RawMessage(tt.params)) || string(m.M["error"]) != `"`+tt.word+`"` {
				t.Fatalf("got %s; want page %s, parameters %s, error %q", m, tt.page, tt.params, tt.word)
			}
		})
	}

	// No effect at all: the next message the socket gets is the event of
	// the next write.
	ignored := []struct {
		name string
		op   ws.OpCode
		msg  string
	}{
		{"not JSON", ws.OpText, `{"page":`},
		{"a JSON array", ws.OpText, `[{"page":"table","table_id":1}]`},
		{"a JSON string", ws.OpText, `"page"`},
		{"empty", ws.OpText, ``},
		{"an object without page", ws.OpText, `{"hello":"world"}`},
		{"an unknown type", ws.OpText, `{"type":"subscribe","collection":"record_1"}`},
		{"remove_page of an unknown page", ws.OpText, `{"remove_page":"dashboard"}`},
		{"remove_page with bad parameters", ws.OpText, `{"remove_page":"table","table_id":"x"}`},
		{"remove_page not a string", ws.OpText, `{"remove_page":[1]}`},
		{"a binary frame", ws.OpBinary, `{"page":"table","table_id":1}`},
	}
	for i, tt := range ignored {
		run(tt.name, func(t *testing.T) {
			c.mustWrite(tt.op, []byte(tt.msg))
			f.createRow(t, map[int64]any{f.name: fmt.Sprintf("after junk %d", i)}, "")
			if m := c.expect("rows_created"); !strings.Contains(m.String(), fmt.Sprintf("after junk %d", i)) {
				t.Fatalf("got %s", m)
			}
		})
	}
}

// TestBaserowOversizedMessage: a message over max_message_size closes the
// socket with 1009; others are unaffected.
func TestBaserowOversizedMessage(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--max-message-size", "1024"))
	c := tn.brAnon(t)
	other := tn.brAnon(t)
	c.mustWrite(ws.OpText, []byte(`{"page":"view","slug":"`+strings.Repeat("x", 2000)+`"}`))
	if code, before := c.expectClose(); code != ws.StatusMessageTooBig || len(before) != 0 {
		t.Fatalf("close %d after %v; want 1009 and nothing before", code, before)
	}
	other.sync()
}

// TestBaserowTooManyPages: past TABLECAST_MAX_SUBSCRIPTIONS pages a page
// is refused with too_many_pages. The workspaces a socket follows count:
// the owner's one workspace and one table page are two.
func TestBaserowTooManyPages(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--max-subscriptions", "2"))
	f := newBrFixture(t, tn)
	r := f.createRow(t, map[int64]any{f.name: "r"}, "")
	c := tn.brUser(t, "owner")
	c.tablePage(f.tbl)
	c.tablePage(f.tbl) // the same page again does not count
	c.addPageFails("row", map[string]any{"table_id": f.tbl, "row_id": r.ID}, "too_many_pages")
}

// TestBaserowRateLimit: page requests over the rate limit are answered
// page_add_failed rate_limited; the socket stays open.
func TestBaserowRateLimit(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--rate-limit", "5/s,5"))
	c := tn.brAnon(t)
	const sent = 15
	for range sent {
		c.sendJSON(map[string]any{"page": "view", "slug": "nope"})
	}
	limited, answered := 0, 0
	for range sent {
		m := c.expect("page_add_failed")
		switch string(m.M["error"]) {
		case `"rate_limited"`:
			limited++
		case `"not_found"`:
			answered++
		default:
			t.Fatalf("got %s", m)
		}
	}
	if limited < sent-6 || answered == 0 {
		t.Errorf("%d answered and %d rate_limited for %d page adds at 5/s with a burst of 5", answered, limited, sent)
	}
}

// TestBaserowRateAbuse: a sustained flood far over the limit is closed
// with 4004, without force_disconnect (which Baserow's front end takes
// for a logout, and an anonymous visitor has no login).
func TestBaserowRateAbuse(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withArgs("--rate-limit", "20/s,20"), withAbuseWindow(500*time.Millisecond))
	c := tn.brAnon(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		frame := ws.MaskFrameInPlace(ws.NewTextFrame([]byte(`{"junk":true}`)))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for range 20 {
				if ws.WriteFrame(c.nc, frame) != nil {
					return
				}
			}
		}
	}()
	code, before := c.expectClose()
	close(stop)
	<-done
	if code != 4004 || len(before) != 0 {
		t.Fatalf("close %d after %v; want 4004 and nothing before it", code, before)
	}
}
