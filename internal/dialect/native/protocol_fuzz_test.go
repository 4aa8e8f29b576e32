package native

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary frames to the client message decoder. It must
// never panic; a message it accepts is a JSON object with a non-empty type
// and an id of at most 64 bytes; a message it refuses is refused with a
// protocol error 400, the code the client is shown.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		// Valid.
		`{"type":"ping"}`,
		`{"type":"ping","id":"42","timestamp":1700000000000}`,
		`{"type":"ping","id":"1","timestamp":{"a":[1,"x",null]}}`,
		`{"type":"subscribe","id":"7","collection":"record_12","document":"rec1","data":{"since":{"offset":40,"epoch":"e3b0c4"}}}`,
		`{"type":"unsubscribe","collection":"news"}`,
		`{"type":"presence","id":"9","collection":"news","data":{"cell":"A1"}}`,
		`{"type":"presence","collection":"news","data":null}`,
		`{"type":"submit","collection":"record_1","document":"r","data":{"v":3,"op":[{"p":["fields","f"],"oi":1}]}}`,
		`{"type":"submit","collection":"record_1","document":"r","operation":[{"p":["x"],"t":"string","o":"v"}]}`,
		`{"type":"connect","data":{"token":"a.b.c","session_id":"s"}}`,
		`{"type":"explode","unknown":true}`,
		` {"type":"ping"} `,
		`{"type":"ping","id":"` + strings.Repeat("i", 64) + `"}`,
		`{"TYPE":"ping","Id":"case"}`,
		`{"type":"ping","type":"pong"}`,
		"{\"type\":\"ping\",\"id\":\"\\u0000\"}",
		// Invalid.
		``,
		` `,
		`null`,
		`"ping"`,
		`42`,
		`[{"type":"ping"}]`,
		`{`,
		`{"type":"ping"`,
		`{"type":"ping"} trailing`,
		`{"type":"ping"}{"type":"ping"}`,
		`{}`,
		`{"type":""}`,
		`{"type":5}`,
		`{"type":null,"id":"n"}`,
		`{"type":"ping","id":{}}`,
		`{"type":"ping","id":7}`,
		`{"type":"ping","id":"` + strings.Repeat("i", 65) + `"}`,
		`{"type":"subscribe","id":"` + strings.Repeat("L", 100) + `","collection":5}`,
		`{"type":"subscribe","collection":["a"]}`,
		`{"type":"subscribe","data":"x"}`,
		"{\"type\":\"ping\",\"id\":\"\xff\"}",
		`{"type":"ping","id":"\ud800"}`,
		`{"type":"ping","timestamp":1e999}`,
		`{"type":"ping","data":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if plain, ok := decodePlain(payload); ok {
			var want inbound
			if err := json.Unmarshal(payload, &want); err != nil || !reflect.DeepEqual(*plain, want) {
				t.Fatalf("decodePlain(%q) = %+v; json.Unmarshal: %+v, %v", payload, *plain, want, err)
			}
		}
		valid := json.Valid(payload)
		in, err := decode(append([]byte(nil), payload...))
		if err != nil {
			var pe *protoError
			if !errors.As(err, &pe) || pe.code != CodeInvalid || pe.msg == "" {
				t.Fatalf("decode(%q): error %v; want a protocol error 400 with a message", payload, err)
			}
			return
		}
		if in == nil {
			t.Fatalf("decode(%q) accepted a message but returned nil", payload)
		}
		if in.Type == "" {
			t.Errorf("decode(%q) accepted a message without type", payload)
		}
		if len(in.ID) > maxIDLen {
			t.Errorf("decode(%q) accepted an id of %d bytes", payload, len(in.ID))
		}
		if !valid {
			t.Errorf("decode(%q) accepted invalid JSON", payload)
		}
		if trimmed := strings.TrimLeft(string(payload), " \t\r\n"); !strings.HasPrefix(trimmed, "{") {
			t.Errorf("decode(%q) accepted something that is not an object", payload)
		}
	})
}

// FuzzSubmitData: submit data read in the plain form reads as
// json.Unmarshal reads it.
func FuzzSubmitData(f *testing.F) {
	for _, seed := range []string{
		`{"v":1403,"op":[{"p":["fields","12",517],"si":"q"}],"src":"c_8f2","seq":118}`,
		`{"v":-1,"op":[]}`, `{"v":1.0,"op":[]}`, `{"v":null}`, `{"op":null}`, `{"V":1}`, `{"v":1,"v":2}`,
		`{"seq":18446744073709551615}`, `{"seq":-1}`, `{"src":"a\"b"}`, `{"create":{}}`, `{"del":true}`, `{"op":[1,}`,
		` { "v" : 2 , "op" : [ ] } `, `{"v":2} x`, `{}`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var plain submitData
		if !plain.decodePlain(data) {
			return
		}
		var want submitData
		if err := json.Unmarshal(data, &want); err != nil || !reflect.DeepEqual(plain, want) {
			t.Fatalf("decodePlain(%q) = %+v; json.Unmarshal: %+v, %v", data, plain, want, err)
		}
	})
}
