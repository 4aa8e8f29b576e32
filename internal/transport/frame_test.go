//lint:file-ignore SA1019 ws.ReadFrame reads frames this code built, from memory; its deprecation is about untrusted peers

package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// clientFrame encodes a masked client frame with gobwas/ws.
func clientFrame(t testing.TB, op ws.OpCode, fin bool, payload []byte) []byte {
	t.Helper()
	f := ws.MaskFrame(ws.NewFrame(op, fin, append([]byte(nil), payload...)))
	var buf bytes.Buffer
	if err := ws.WriteFrame(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type collected struct {
	ops      []ws.OpCode
	payloads []string
}

func (c *collected) handler(m Message) error {
	c.ops = append(c.ops, m.Op)
	c.payloads = append(c.payloads, string(m.Payload))
	return nil
}

func TestParserSplitsAndJoins(t *testing.T) {
	stream := append(clientFrame(t, ws.OpText, true, []byte(`{"type":"ping"}`)),
		clientFrame(t, ws.OpText, false, []byte("hel"))...)
	stream = append(stream, clientFrame(t, ws.OpPing, true, []byte("p"))...) // control inside a fragmented message
	stream = append(stream, clientFrame(t, ws.OpContinuation, false, []byte("lo "))...)
	stream = append(stream, clientFrame(t, ws.OpContinuation, true, []byte("world"))...)
	stream = append(stream, clientFrame(t, ws.OpText, true, bytes.Repeat([]byte("x"), 70000))...)

	// Every way of cutting the stream into two reads gives the same messages;
	// then one byte at a time.
	want := []string{`{"type":"ping"}`, "p", "hello world", strings.Repeat("x", 70000)}
	for _, cut := range []int{0, 1, 2, 5, 17, 30, len(stream) / 2, len(stream) - 1} {
		p := Parser{MaxMessage: 1 << 20}
		var got collected
		data := append([]byte(nil), stream...)
		if err := p.Feed(data[:cut], got.handler); err != nil {
			t.Fatal(err)
		}
		if err := p.Feed(data[cut:], got.handler); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.payloads, "|") != strings.Join(want, "|") {
			t.Fatalf("cut at %d: got %d messages %.40q", cut, len(got.payloads), got.payloads)
		}
		if p.Pending() {
			t.Fatalf("cut at %d: parser still holds bytes", cut)
		}
	}
	p := Parser{MaxMessage: 1 << 20}
	var got collected
	data := append([]byte(nil), stream...)
	for i := range data {
		if err := p.Feed(data[i:i+1], got.handler); err != nil {
			t.Fatal(err)
		}
	}
	if len(got.payloads) != len(want) || got.payloads[2] != "hello world" {
		t.Fatalf("byte by byte: %d messages", len(got.payloads))
	}
	if got.ops[1] != ws.OpPing || got.ops[2] != ws.OpText {
		t.Fatalf("ops %v", got.ops)
	}
}

func TestParserRejects(t *testing.T) {
	unmasked := func() []byte {
		var buf bytes.Buffer
		_ = ws.WriteFrame(&buf, ws.NewTextFrame([]byte("hi")))
		return buf.Bytes()
	}
	rsv := clientFrame(t, ws.OpText, true, []byte("hi"))
	rsv[0] |= 0x40
	tests := []struct {
		name string
		data []byte
		want error
		code ws.StatusCode
	}{
		{"too large", clientFrame(t, ws.OpText, true, bytes.Repeat([]byte("a"), 129)), ErrTooLarge, ws.StatusMessageTooBig},
		{"too large in fragments", append(clientFrame(t, ws.OpText, false, bytes.Repeat([]byte("a"), 100)),
			clientFrame(t, ws.OpContinuation, true, bytes.Repeat([]byte("a"), 100))...), ErrTooLarge, ws.StatusMessageTooBig},
		{"unmasked", unmasked(), ErrProtocol, ws.StatusProtocolError},
		{"reserved bits", rsv, ErrProtocol, ws.StatusProtocolError},
		{"invalid utf-8", clientFrame(t, ws.OpText, true, []byte{0xff, 0xfe}), ErrInvalidUTF8, ws.StatusInvalidFramePayloadData},
		{"continuation first", clientFrame(t, ws.OpContinuation, true, []byte("x")), ErrProtocol, ws.StatusProtocolError},
		{"text inside fragments", append(clientFrame(t, ws.OpText, false, []byte("a")),
			clientFrame(t, ws.OpText, true, []byte("b"))...), ErrProtocol, ws.StatusProtocolError},
		{"fragmented ping", clientFrame(t, ws.OpPing, false, nil), ErrProtocol, ws.StatusProtocolError},
		{"reserved opcode", clientFrame(t, ws.OpCode(0x3), true, nil), ErrProtocol, ws.StatusProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{MaxMessage: 128}
			var got collected
			err := p.Feed(tt.data, got.handler)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if code := CloseCodeFor(err); code != tt.code {
				t.Fatalf("close code %d, want %d", code, tt.code)
			}
		})
	}
}

func TestServerFramesDecode(t *testing.T) {
	for _, tt := range []struct {
		frame []byte
		op    ws.OpCode
		body  string
	}{
		{TextFrame([]byte(`{"a":1}`)), ws.OpText, `{"a":1}`},
		{TextFrame(bytes.Repeat([]byte("y"), 70000)), ws.OpText, strings.Repeat("y", 70000)},
		{PingFrame, ws.OpPing, ""},
		{PongFrame([]byte("z")), ws.OpPong, "z"},
	} {
		f, err := ws.ReadFrame(bytes.NewReader(tt.frame))
		if err != nil {
			t.Fatal(err)
		}
		if f.Header.OpCode != tt.op || string(f.Payload) != tt.body || f.Header.Masked || !f.Header.Fin {
			t.Fatalf("frame %v %.20q", f.Header, f.Payload)
		}
	}
	f, err := ws.ReadFrame(bytes.NewReader(CloseFrame(4002, strings.Repeat("r", 200))))
	if err != nil {
		t.Fatal(err)
	}
	code, reason := ws.ParseCloseFrameData(f.Payload)
	if code != 4002 || len(reason) != 123 {
		t.Fatalf("close %d %d", code, len(reason))
	}
}

func FuzzParser(f *testing.F) {
	f.Add(clientFrame(f, ws.OpText, true, []byte(`{"type":"ping"}`)), 3)
	f.Add(append(clientFrame(f, ws.OpText, false, []byte("a")), clientFrame(f, ws.OpContinuation, true, []byte("b"))...), 1)
	f.Add([]byte{0x81, 0xfe, 0xff}, 2)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		// Whatever the bytes and however they are split, the parser returns
		// messages within the limit or an error, and never panics.
		if cut < 0 {
			cut = -cut
		}
		cut %= len(data) + 1
		p := Parser{MaxMessage: 4096}
		check := func(m Message) error {
			if len(m.Payload) > 4096 {
				t.Fatalf("message of %d bytes over the limit", len(m.Payload))
			}
			return nil
		}
		buf := append([]byte(nil), data...)
		if err := p.Feed(buf[:cut], check); err != nil {
			return
		}
		_ = p.Feed(buf[cut:], check)
	})
}

// A frame made in place is TextFrame's, whatever the payload's length
// (the three header sizes and their edges).
func TestTextFrameInPlace(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 70000} {
		payload := bytes.Repeat([]byte("é"), n/2)
		if n%2 == 1 {
			payload = append(payload, 'x')
		}
		b := append(NewFrameBuffer(len(payload)), payload...)
		if got, want := TextFrameInPlace(b), TextFrame(payload); !bytes.Equal(got, want) {
			t.Fatalf("payload of %d bytes: frame %x..., want %x...", n, got[:min(12, len(got))], want[:min(12, len(want))])
		}
	}
}
