package client

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/tablecast/tablecast/internal/ot/json0"
)

// otServer is the server side of the native submit, reduced to its rules:
// an op made against version v is transformed against the ops since v
// (left), applied, and logged.
type otServer struct {
	data any
	log  []json0.Op
}

func (s *otServer) submit(t *testing.T, op json0.Op, v int64) (json0.Op, int64) {
	t.Helper()
	var err error
	for _, l := range s.log[v:] {
		if op, err = json0.Transform(op, l, json0.Left); err != nil {
			t.Fatal(err)
		}
	}
	if s.data, err = json0.Apply(s.data, op); err != nil {
		t.Fatalf("server apply %v: %v", op, err)
	}
	s.log = append(s.log, op)
	return op, int64(len(s.log) - 1)
}

type simClient struct {
	doc    *OTDoc
	remote []struct {
		v  int64
		op json0.Op
	}
	ack      int64 // applied-at of the acknowledgement not delivered yet
	hasAck   bool
	inflight bool
}

// TestOTDocConverges simulates clients whose acknowledgements arrive at any
// moment relative to the ops of others (before ops below their version,
// after ops above it), as the native protocol allows, and checks that every
// copy ends equal to the server's.
func TestOTDocConverges(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		srv := &otServer{data: map[string]any{"s": "", "n": float64(0)}}
		clients := make([]*simClient, 2+rng.IntN(3))
		for i := range clients {
			clients[i] = &simClient{doc: NewOTDoc(srv.data, 0)}
		}
		local := func(c *simClient) {
			s := c.doc.Data().(map[string]any)["s"].(string)
			var op json0.Op
			switch {
			case rng.IntN(4) == 0:
				op = json0.Op{json0.NumberAdd([]any{"n"}, 1)}
			case len(s) > 0 && rng.IntN(3) == 0:
				i := rng.IntN(len(s))
				op = json0.Op{json0.StringDelete([]any{"s"}, i, s[i:i+1])}
			default:
				op = json0.Op{json0.StringInsert([]any{"s"}, rng.IntN(len(s)+1), string(rune('a'+rng.IntN(26))))}
			}
			if err := c.doc.Apply(op); err != nil {
				t.Fatalf("seed %d: local apply: %v", seed, err)
			}
		}
		step := func(c *simClient, idx int, allowLocal bool) bool {
			switch r := rng.IntN(4); {
			case r == 0 && allowLocal:
				local(c)
			case r == 1 && c.hasAck:
				c.hasAck, c.inflight = false, false
				if err := c.doc.Acked(c.ack); err != nil {
					t.Fatalf("seed %d: ack: %v", seed, err)
				}
			case r == 2 && len(c.remote) > 0:
				m := c.remote[0]
				c.remote = c.remote[1:]
				if err := c.doc.Remote(m.v, m.op); err != nil {
					t.Fatalf("seed %d: remote: %v", seed, err)
				}
			case r == 3 && !c.inflight:
				op, v, ok := c.doc.Flush()
				if !ok {
					return false
				}
				applied, at := srv.submit(t, op, v)
				c.inflight, c.hasAck, c.ack = true, true, at
				for j, o := range clients {
					if j != idx {
						o.remote = append(o.remote, struct {
							v  int64
							op json0.Op
						}{at, applied})
					}
				}
			default:
				return false
			}
			return true
		}
		for range 300 {
			i := rng.IntN(len(clients))
			step(clients[i], i, true)
		}
		// Drain: no new local ops; everything in flight and queued goes out.
		for busy := true; busy; {
			busy = false
			for i, c := range clients {
				for c.doc.Pending() || len(c.remote) > 0 || c.hasAck {
					busy = true
					step(c, i, false)
				}
			}
		}
		for i, c := range clients {
			if c.doc.Version() != int64(len(srv.log)) || !json0.Equal(c.doc.Data(), srv.data) {
				t.Fatalf("seed %d: client %d at %d holds %v; server at %d holds %v", seed, i, c.doc.Version(), c.doc.Data(), len(srv.log), srv.data)
			}
		}
	}
}

// An acknowledgement's fixup turns the copy into the stored document, once
// the ops below the acknowledged version are in, and the queued local ops
// are transformed past it.
func TestOTDocFixup(t *testing.T) {
	parse := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	op := func(s string) json0.Op {
		var o json0.Op
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	d := NewOTDoc(parse(`{"fields":{"p":null,"n":"ab"}}`), 3)
	if err := d.Apply(op(`[{"p":["fields","p"],"oi":2.555}]`)); err != nil {
		t.Fatal(err)
	}
	if _, v, ok := d.Flush(); !ok || v != 3 {
		t.Fatalf("flush at %d, %v", v, ok)
	}
	// queued while in flight
	if err := d.Apply(op(`[{"p":["fields","n",0],"si":"x"}]`)); err != nil {
		t.Fatal(err)
	}
	// someone else's op at 3 comes after the ack of the op applied at 4
	if err := d.AckedFixup(4, op(`[{"p":["fields","p"],"od":2.555,"oi":2.56}]`)); err != nil {
		t.Fatal(err)
	}
	if got := docJSON(t, d.Data()); got != `{"fields":{"n":"xab","p":2.555}}` {
		t.Fatalf("before the op below: %s", got)
	}
	if err := d.Remote(3, op(`[{"p":["fields","n",2],"si":"c"}]`)); err != nil {
		t.Fatal(err)
	}
	if got := docJSON(t, d.Data()); got != `{"fields":{"n":"xabc","p":2.56}}` || d.Version() != 5 {
		t.Fatalf("after: %s at %d", got, d.Version())
	}
	if _, v, ok := d.Flush(); !ok || v != 5 {
		t.Fatalf("the queued op flushes at %d, %v", v, ok)
	}
}

func docJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
