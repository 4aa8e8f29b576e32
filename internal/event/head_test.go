package event

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// headSeeds are payloads as the service writes them, and variants the
// plain-form scan must leave to encoding/json or read the same.
func headSeeds(t testing.TB) [][]byte {
	at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	meta := TableMeta{TableID: 12, WorkspaceID: 3, Actor: "alice", Origin: "c_1", Src: "s1", Seq: 42,
		Reply: &SubmitReply{Collection: "record_12", Doc: 7, Tag: "native:9"}}
	head := &RowHead{ID: 7, Order: "1.00000000000000000000", Version: 9, CreatedAt: at, UpdatedAt: at, UpdatedBefore: at}
	compact, err := json.Marshal(RowsUpdated{TableMeta: meta, Op: json.RawMessage(`[{"p":["fields","5",3],"si":"x"}]`),
		Row: head, UpdatedFieldIDs: []int64{5}})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := json.Marshal(RowsUpdated{TableMeta: meta, Op: json.RawMessage(`[{"p":["fields","5",0],"si":"é\"q"}]`),
		Rows: []Row{{ID: 7, Order: "1.00000000000000000000", Version: 32}}, RowsBefore: []Row{{ID: 7, Version: 31}},
		UpdatedFieldIDs: []int64{5}})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := json.Marshal(RowsUpdated{TableMeta: TableMeta{TableID: 12, WorkspaceID: 3, Actor: "bob"},
		Rows: []Row{{ID: 8, Version: 2}}, RowsBefore: []Row{{ID: 8, Version: 1}}, UpdatedFieldIDs: []int64{5}})
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{compact, whole, rest}
	for _, s := range []string{
		`{}`, `[]`, `null`, `{"actor":1,"origin":null,"src":2,"seq":"3"}`, `{"actor":"a\u0041","origin":"o"}`,
		`{"table_id":1,"actor":"a","rows":[],"origin":"late"}`, `{"seq":1.5,"src":"x","reply":null}`,
		`{"seq":-1,"reply":{"c":"record_1","d":2,"t":"x","extra":1}}`, `{"reply":{"C":"record_1","d":2}}`,
		`{"table_id":1,"op":[],"row":{"version":3,"x":[1,{"id":9}],"id":4}}`, `{"op":null,"table_id":1,"row":{"id":1,"version":1}}`,
		`{"table_id":1.0,"op":[1],"row":{"id":1,"version":1}}`, `{"table_id":1,"op":[1],"rows":[{"id":"1","version":1}]}`,
		`{"table_id":-4,"op":[1],"row":{"id":1,"version":1}}`, `{"table_id":4,"op":[1],"row":{"id":1,"version":0}}`,
		` { "table_id" : 4 , "op" : [ 1 ] , "rows" : [ { "version" : 2 , "id" : 5 } ] } `, `{"op":[1],"row":{"id":1,"version":1}}`,
		`{"a\"b":1,"actor":"x"}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzHead: on any JSON payload, the plain-form scans answer as
// encoding/json does wherever they answer.
func FuzzHead(f *testing.F) {
	for _, s := range headSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // payloads are JSON: the store checks them
		}
		if a, o, ok := scanActorOrigin(data); ok {
			if wa, wo := decodeActorOrigin(data); a != wa || o != wo {
				t.Fatalf("ActorOrigin(%s): scanned %q %q, decoded %q %q", data, a, o, wa, wo)
			}
		}
		if m, ok := scanSubmit(data); ok {
			if want := decodeSubmit(data); !reflect.DeepEqual(m, want) {
				t.Fatalf("Submit(%s): scanned %+v, decoded %+v", data, m, want)
			}
		}
		if ch, ok, done := scanSubmitChange(data); done {
			want, wantOK := decodeSubmitChange(data)
			if ok != wantOK || !reflect.DeepEqual(ch, want) {
				t.Fatalf("submitChange(%s): scanned %+v %v, decoded %+v %v", data, ch, ok, want, wantOK)
			}
		}
	})
}

// The payloads the service writes are read by the scans, not decoded.
func TestHeadScansServicePayloads(t *testing.T) {
	seeds := headSeeds(t)
	for _, p := range seeds[:3] {
		if _, _, ok := scanActorOrigin(p); !ok {
			t.Errorf("ActorOrigin left %s to encoding/json", p)
		}
		if _, ok := scanSubmit(p); !ok {
			t.Errorf("Submit left %s to encoding/json", p)
		}
	}
	for _, p := range seeds[:2] {
		ch, ok, done := scanSubmitChange(p)
		if !done || !ok || ch.DocID != 7 || ch.Collection != "record_12" {
			t.Errorf("submitChange(%s) = %+v %v %v", p, ch, ok, done)
		}
	}
	if m := Submit(seeds[0]); m.Src != "s1" || m.Seq != 42 || m.Reply == nil || m.Reply.Doc != 7 || m.Reply.Tag != "native:9" {
		t.Errorf("Submit = %+v", m)
	}
	if a, o := ActorOrigin(seeds[0]); a != "alice" || o != "c_1" {
		t.Errorf("ActorOrigin = %q %q", a, o)
	}
}
