package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/pkg/client"
)

// rowDoc reads a row through REST as its record document and version.
func (tn *testNode) rowDoc(t *testing.T, user string, tbl, row int64) (any, int64) {
	t.Helper()
	var r struct {
		ID      int64           `json:"id"`
		Order   string          `json:"order"`
		Version int64           `json:"version"`
		Fields  json.RawMessage `json:"fields"`
	}
	tn.rest(t, user, "GET", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, r.ID+row), nil, "", &r)
	var doc any
	b := mustJSON(t, map[string]any{"id": r.ID, "order": r.Order, "fields": r.Fields})
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc, r.Version
}

func (tn *testNode) newRow(t *testing.T, tbl int64, fields map[string]any) int64 {
	t.Helper()
	var row struct{ ID int64 }
	tn.rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/rows", tbl), map[string]any{"fields": fields}, "", &row)
	return row.ID
}

// TestSubmitReachesOthers: a submitted op is acknowledged with the version
// after it and its table offset; every other subscriber receives it as
// applied, at the version before, with the submitter as source; the
// submitter does not; the store has it.
func TestSubmitReachesOthers(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		_, tbl, name := tableFixture(t, tn)
		col := fmt.Sprintf("record_%d", tbl)
		fid := strconv.FormatInt(name, 10)
		row := tn.newRow(t, tbl, map[string]any{fid: "ac"})
		a, b := tn.dialUser(t, "owner"), tn.dialUser(t, "owner")
		sub := subscribe(t, a, col, "")
		subscribe(t, b, col, "")

		op := `[{"p":["fields","` + fid + `",1],"si":"b"}]`
		ack, err := a.Submit(ctxFor(t, waitTimeout), col, strconv.FormatInt(row, 10), client.Submission{V: 1, Op: json.RawMessage(op)})
		if err != nil {
			t.Fatal(err)
		}
		if ack.V != 2 || ack.Offset != sub.Offset+1 || ack.Duplicate {
			t.Fatalf("ack %+v, want v 2 at offset %d", ack, sub.Offset+1)
		}
		m := recv(t, b)
		d := opData(t, m)
		if string(d["v"]) != "1" || string(d["op"]) != op || *m.Offset != ack.Offset ||
			!jsonEqual(t, d["source"], a.Info().ConnectionID) || !jsonEqual(t, d["user_id"], "owner") {
			t.Fatalf("op at the other subscriber: %+v %s", m, m.Data)
		}
		if doc, v := tn.rowDoc(t, "owner", tbl, row); v != 2 || !jsonEqual(t, mustJSON(t, doc.(map[string]any)["fields"]), map[string]any{fid: "abc"}) {
			t.Fatalf("stored: %v at %d", doc, v)
		}
		// The submitter's next message is the REST write after its op.
		tn.rest(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, row), map[string]any{"fields": map[string]any{fid: "z"}}, "", nil)
		if d := opData(t, recv(t, a)); string(d["v"]) != "2" {
			t.Fatalf("submitter received %v, want the REST write at v 2", d)
		}
		// Resent with the same src and seq: acknowledged, not applied again.
		s := client.Submission{V: 3, Op: json.RawMessage(`[{"p":["fields","` + fid + `",0],"si":"y"}]`), Src: "tab-1", Seq: 7}
		first, err := a.Submit(ctxFor(t, waitTimeout), col, strconv.FormatInt(row, 10), s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := a.Submit(ctxFor(t, waitTimeout), col, strconv.FormatInt(row, 10), s)
		if err != nil || !again.Duplicate || again.V != first.V || again.Offset != first.Offset {
			t.Fatalf("resent: %+v %v (first %+v)", again, err, first)
		}
		if doc, v := tn.rowDoc(t, "owner", tbl, row); v != 4 || !jsonEqual(t, mustJSON(t, doc.(map[string]any)["fields"]), map[string]any{fid: "yz"}) {
			t.Fatalf("after the resend: %v at %d", doc, v)
		}
		// The seed's form: the op at the top level, t:"string".
		seed := fmt.Sprintf(`{"type":"submit","id":"s1","collection":%q,"document":"%d","operation":[{"p":["fields",%q],"t":"string","o":"seeded"}]}`, col, row, fid)
		if err := a.SendRaw([]byte(seed)); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, a); m.Type != "submit" || m.ID != "s1" || !jsonEqual(t, dataField(t, m.Data, "v"), 5) {
			t.Fatalf("seed form reply %+v %s", m, m.Data)
		}
		if doc, _ := tn.rowDoc(t, "owner", tbl, row); !jsonEqual(t, mustJSON(t, doc.(map[string]any)["fields"]), map[string]any{fid: "seeded"}) {
			t.Fatalf("after the seed form: %v", doc)
		}
	})
}

// otClient is a test client editing one row through an OTDoc.
type otClient struct {
	c    *client.Client
	doc  *client.OTDoc
	col  string
	id   string
	rng  *rand.Rand
	name string // the text field's id
}

type ackResult struct {
	ack client.SubmitAck
	err error
}

func (o *otClient) onMessage(m client.Message) error {
	if m.Type != "op" || m.Collection != o.col || m.Document != o.id {
		return nil
	}
	var d struct {
		V  int64    `json:"v"`
		Op json0.Op `json:"op"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return err
	}
	return o.doc.Remote(d.V, d.Op)
}

// localOp inserts or deletes a character of the text field.
func (o *otClient) localOp() error {
	s, _ := o.doc.Data().(map[string]any)["fields"].(map[string]any)[o.name].(string)
	var op json0.Op
	p := []any{"fields", o.name}
	if len(s) > 0 && o.rng.IntN(3) == 0 {
		i := o.rng.IntN(len(s))
		op = json0.Op{json0.StringDelete(p, i, s[i:i+1])}
	} else {
		op = json0.Op{json0.StringInsert(p, o.rng.IntN(len(s)+1), string(rune('a'+o.rng.IntN(26))))}
	}
	return o.doc.Apply(op)
}

// run makes n local ops, submitting as an OT client does (one op in
// flight, the rest queued), and returns once all are acknowledged.
func (o *otClient) run(t *testing.T, n int) error {
	acks := make(chan ackResult, 1)
	inflight := false
	deadline := time.After(30 * time.Second)
	for {
		if n > 0 && o.rng.IntN(2) == 0 {
			if err := o.localOp(); err != nil {
				return err
			}
			n--
		}
		if !inflight {
			if op, v, ok := o.doc.Flush(); ok {
				inflight = true
				raw, err := json.Marshal(op)
				if err != nil {
					return err
				}
				go func() {
					ack, err := o.c.Submit(ctxFor(t, waitTimeout), o.col, o.id, client.Submission{V: v, Op: raw})
					acks <- ackResult{ack, err}
				}()
			}
		}
		if n == 0 && !o.doc.Pending() {
			return nil
		}
		if n > 0 && !inflight {
			continue
		}
		select {
		case m := <-o.c.Messages():
			if err := o.onMessage(m); err != nil {
				return err
			}
		case a := <-acks:
			if a.err != nil {
				return a.err
			}
			if err := o.doc.Acked(a.ack.V - 1); err != nil {
				return err
			}
			inflight = false
		case <-deadline:
			return errors.New("no progress within 30s")
		}
	}
}

// TestSubmitConcurrentClientsConverge: clients edit the same text cell
// concurrently through OT (one op in flight each, the rest queued, remote
// ops transformed), while REST writes change another cell; at the end
// every client's copy equals the stored document.
func TestSubmitConcurrentClientsConverge(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		v := editConcurrently(t, []*testNode{tn}, tn, 42)
		t.Logf("4 clients converged at version %d", v)
	})
}

// editConcurrently has four OT clients, on the nodes in turn, make 25
// edits each to one record's text cell, while ten REST writes through
// rest change its number cell. Every client's copy must end equal to the
// stored document, whose version it returns.
func editConcurrently(t *testing.T, nodes []*testNode, rest *testNode, seed uint64) int64 {
	t.Helper()
	_, tbl, name := tableFixture(t, nodes[0])
	var num struct{ ID int64 }
	nodes[0].rest(t, "owner", "POST", fmt.Sprintf("/api/tables/%d/fields", tbl), map[string]any{"name": "n", "type": "number"}, "", &num)
	col := fmt.Sprintf("record_%d", tbl)
	row := nodes[0].newRow(t, tbl, map[string]any{strconv.FormatInt(name, 10): "start"})
	const clients, ops, writes = 4, 25, 10
	cs := make([]*otClient, clients)
	for i := range cs {
		tn := nodes[i%len(nodes)]
		c := tn.dialUser(t, "owner")
		subscribe(t, c, col, strconv.FormatInt(row, 10))
		doc, v := tn.rowDoc(t, "owner", tbl, row)
		cs[i] = &otClient{c: c, doc: client.NewOTDoc(doc, v), col: col, id: strconv.FormatInt(row, 10),
			rng: rand.New(rand.NewPCG(uint64(i), seed)), name: strconv.FormatInt(name, 10)}
	}
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i, o := range cs {
		wg.Go(func() { errs[i] = o.run(t, ops) })
	}
	for i := range writes {
		rest.rest(t, "owner", "PATCH", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, row),
			map[string]any{"fields": map[string]any{strconv.FormatInt(num.ID, 10): strconv.Itoa(i)}}, "", nil)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	want, v := rest.rowDoc(t, "owner", tbl, row)
	if v < 1+writes+clients { // a client sends the ops it queued meanwhile as one
		t.Fatalf("the row is at version %d after %d ops and %d REST writes", v, clients*ops, writes)
	}
	for i, o := range cs {
		for o.doc.Version() < v {
			if err := o.onMessage(recv(t, o.c)); err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
		}
		if o.doc.Version() != v || !json0.Equal(o.doc.Data(), want) {
			t.Fatalf("client %d (node %d) at %d holds %v\nstored at %d: %v", i, i%len(nodes), o.doc.Version(), o.doc.Data(), v, want)
		}
	}
	return v
}

// TestSubmitRefusals: each bad submission gets a clear error, changes
// nothing, and the socket keeps working.
func TestSubmitRefusals(t *testing.T) {
	engines(t, func(t *testing.T, db nodeOption) {
		tn := startNode(t, db)
		ws, tbl, name := tableFixture(t, tn)
		fid := strconv.FormatInt(name, 10)
		col := fmt.Sprintf("record_%d", tbl)
		row := tn.newRow(t, tbl, map[string]any{fid: "x"})
		gone := tn.newRow(t, tbl, nil)
		tn.rest(t, "owner", "DELETE", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, gone), nil, "", nil)
		tn.rest(t, "owner", "POST", fmt.Sprintf("/api/workspaces/%d/members", ws), map[string]any{"user_id": "vera", "role": "viewer"}, "", nil)
		owner, viewer, stranger := tn.dialUser(t, "owner"), tn.dialUser(t, "vera"), tn.dialUser(t, "mallory")
		doc := strconv.FormatInt(row, 10)
		big := make([]map[string]any, 1001)
		for i := range big {
			big[i] = map[string]any{"p": []any{"fields", fid, 0}, "si": "a"}
		}
		set := func(od, oi any) string {
			return string(mustJSON(t, []map[string]any{{"p": []any{"fields", fid}, "od": od, "oi": oi}}))
		}
		cases := []struct {
			name string
			c    *client.Client
			col  string
			doc  string
			data string
			code int
		}{
			{"path that does not exist", owner, col, doc, `{"v":1,"op":[{"p":["fields","999999"],"oi":1}]}`, 400},
			{"od that does not match", owner, col, doc, `{"v":1,"op":` + set("y", "z") + `}`, 400},
			{"li on a non-list", owner, col, doc, `{"v":1,"op":[{"p":["fields","` + fid + `",0],"li":1}]}`, 400},
			{"na on a non-number", owner, col, doc, `{"v":1,"op":[{"p":["fields","` + fid + `"],"na":1}]}`, 400},
			{"v ahead", owner, col, doc, `{"v":9,"op":[]}`, 409},
			{"malformed component", owner, col, doc, `{"v":1,"op":[{"p":["fields","` + fid + `"],"oi":1,"na":2}]}`, 400},
			{"op too large", owner, col, doc, `{"v":1,"op":` + string(mustJSON(t, big)) + `}`, 400},
			{"create on an existing document", owner, col, doc, `{"v":0,"create":{"fields":{}}}`, 409},
			{"edit of a deleted document", owner, col, strconv.FormatInt(gone, 10), `{"v":1,"op":[]}`, 409},
			{"no form of the field's type", owner, col, doc, `{"v":1,"op":` + set("x", map[string]any{"a": 1}) + `}`, 400},
			{"not json", owner, col, doc, `"nope"`, 400},
			{"two changes", owner, col, doc, `{"v":1,"op":[],"del":true}`, 400},
			{"no document", owner, col, "", `{"v":1,"op":[]}`, 400},
			{"app channel", owner, "chat", "x", `{"v":1,"op":[]}`, 400},
			{"viewer", viewer, col, doc, `{"v":1,"op":` + set("x", "v") + `}`, 403},
			{"stranger", stranger, col, doc, `{"v":1,"op":` + set("x", "s") + `}`, 404},
			{"stranger, no such table", stranger, "record_99999999", "1", `{"v":1,"op":[]}`, 404},
		}
		for _, tc := range cases {
			_, err := tc.c.Request(ctxFor(t, waitTimeout), client.Message{Type: "submit", Collection: tc.col, Document: tc.doc, Data: json.RawMessage(tc.data)})
			var se *client.ServerError
			if !asServerError(err, &se) || se.Code != tc.code || se.Message == "" {
				t.Errorf("%s: %v, want error %d", tc.name, err, tc.code)
			}
		}
		for _, c := range []*client.Client{owner, viewer, stranger} {
			if _, err := c.Ping(ctxFor(t, waitTimeout)); err != nil {
				t.Fatalf("socket broken after bad input: %v", err)
			}
		}
		if d, v := tn.rowDoc(t, "owner", tbl, row); v != 1 || !jsonEqual(t, mustJSON(t, d.(map[string]any)["fields"]), map[string]any{fid: "x"}) {
			t.Fatalf("bad input changed the row: %v at %d", d, v)
		}
		if st := tn.rest(t, "owner", "GET", fmt.Sprintf("/api/tables/%d/rows/%d", tbl, gone), nil, "", nil); st != http.StatusNotFound {
			t.Fatalf("deleted row: %d", st)
		}
	})
}
