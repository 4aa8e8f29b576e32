package transport

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gobwas/ws"
)

func TestControl(t *testing.T) {
	for _, tc := range []struct {
		op      ws.OpCode
		handled bool
		err     error
		sent    []byte
	}{
		{ws.OpPing, true, nil, PongFrame([]byte("hi"))},
		{ws.OpPong, true, nil, nil},
		{ws.OpClose, true, ErrClientClose, nil},
		{ws.OpText, false, nil, nil},
		{ws.OpBinary, false, nil, nil},
	} {
		var sent []byte
		payload := []byte("hi")
		handled, err := Control(Message{Op: tc.op, Payload: payload}, func(f []byte) bool { sent = f; return true })
		if handled != tc.handled || !errors.Is(err, tc.err) || !bytes.Equal(sent, tc.sent) {
			t.Errorf("%v: handled %v, err %v, sent %q", tc.op, handled, err, sent)
		}
		payload[0] = 'X' // the pong keeps its own copy of the payload
		if tc.sent != nil && !bytes.Equal(sent, tc.sent) {
			t.Errorf("%v: the pong shares the ping's buffer", tc.op)
		}
	}
}
