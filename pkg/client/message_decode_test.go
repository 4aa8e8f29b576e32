package client

import (
	"encoding/json"
	"reflect"
	"testing"
)

var envelopeSeeds = []string{
	`{"type":"op","collection":"record_1","document":"7","data":{"v":1234,"op":[{"p":["fields","12",613],"si":"x"}]},"offset":4567,"timestamp":"2026-11-22T05:14:57.123456Z"}`,
	`{"type":"submit","id":"r1","data":{"v":3,"offset":9,"duplicate":false}}`,
	`{"type":"error","id":"r2","error":{"code":409,"message":"conflict"}}`,
	`{}`, `{"type":"pong"}`, ` { "type" : "op" , "data" : [1, "a\"]"] , "offset" : 0 } `,
	`{"type":"a\u00e9"}`, `{"Type":"op"}`, `{"type":"op","type":"x"}`, `{"offset":null}`, `{"offset":1.5}`,
	`{"data":null}`, `{"data":"s\"x"}`, `{"data":12e3}`, `{"data":tru}`, `{"offset":01}`, `{"extra":{"a":1},"type":"op"}`,
}

// reference decodes an envelope with encoding/json alone.
func referenceMessage(data []byte) (Message, error) {
	type plain Message
	var p plain
	err := json.Unmarshal(data, &p)
	return Message(p), err
}

func checkMessage(t *testing.T, data []byte) {
	t.Helper()
	var got Message
	gotErr := got.UnmarshalJSON(data) // as readLoop calls it: no check before
	if gotErr == nil && !json.Valid(data) {
		t.Fatalf("%q is not JSON, and was read", data)
	}
	want, wantErr := referenceMessage(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", data, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", data, got, want)
	}
}

func TestMessageDecode(t *testing.T) {
	for _, s := range envelopeSeeds {
		checkMessage(t, []byte(s))
	}
	if _, ok := decodeMessageFast([]byte(envelopeSeeds[0])); !ok {
		t.Error("an op envelope did not take the fast reader")
	}
}

// FuzzMessageDecode: Message.UnmarshalJSON agrees with encoding/json.
func FuzzMessageDecode(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) <= 4096 {
			checkMessage(t, data)
		}
	})
}

func BenchmarkMessageDecode(b *testing.B) {
	raw := []byte(envelopeSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		var m Message
		if err := m.UnmarshalJSON(raw); err != nil { // as readLoop does
			b.Fatal(err)
		}
	}
}
