// Package transport carries WebSocket connections for the hub: the upgrade, an
// incremental frame parser fed by whoever reads the socket (an epoll loop on
// Linux, a goroutine elsewhere), and server frames encoded once so that the same
// bytes can be written to every subscriber.
//
// Framing itself (header layout, masking) is github.com/gobwas/ws; this package
// only decides when enough bytes have arrived to hand a message on.
package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Errors reported by Parser.Feed. They decide the close code the connection
// gets, see CloseCodeFor.
var (
	ErrTooLarge    = errors.New("transport: message too large")
	ErrProtocol    = errors.New("transport: websocket protocol violation")
	ErrInvalidUTF8 = errors.New("transport: text message is not valid UTF-8")
)

// CloseCodeFor maps a Feed error to the WebSocket close status it warrants.
func CloseCodeFor(err error) ws.StatusCode {
	switch {
	case errors.Is(err, ErrTooLarge):
		return ws.StatusMessageTooBig
	case errors.Is(err, ErrInvalidUTF8):
		return ws.StatusInvalidFramePayloadData
	default:
		return ws.StatusProtocolError
	}
}

// Message is one complete client message: a text or binary message put
// together from its fragments, or a control frame (ping, pong, close).
// Payload is only valid during the callback that receives it.
type Message struct {
	Op      ws.OpCode
	Payload []byte
}

// Handler receives the messages a Parser finds. Returning an error stops the
// feed and is returned by Feed.
type Handler func(Message) error

// Parser turns a stream of bytes from a client into messages. It keeps bytes
// only while a frame or a fragmented message is incomplete, so an idle
// connection holds no buffer. It is not safe for concurrent use: one reader
// feeds it at a time.
type Parser struct {
	// MaxMessage bounds a message's payload (all fragments together).
	MaxMessage int64

	st *parserState // only while a frame or a message is incomplete
}

// parserState is what a parser holds between reads. It exists only while
// something is incomplete, so an idle connection's parser is two words.
type parserState struct {
	partial []byte    // bytes of an incomplete frame
	fragOp  ws.OpCode // opcode of the fragmented message being assembled, 0 if none
	frag    []byte    // payload assembled so far
}

// Pending reports whether the parser holds an incomplete frame or message.
func (p *Parser) Pending() bool { return p.st != nil && (len(p.st.partial) > 0 || p.st.fragOp != 0) }

func (p *Parser) state() *parserState {
	if p.st == nil {
		p.st = new(parserState)
	}
	return p.st
}

// release drops the state once nothing is incomplete.
func (p *Parser) release() {
	if p.st != nil && len(p.st.partial) == 0 && p.st.fragOp == 0 {
		p.st = nil
	}
}

// Feed consumes data and calls h for every complete message. Masked payloads
// are unmasked in place, so data is modified. After an error the parser must
// not be fed again: the connection is to be closed with CloseCodeFor(err).
func (p *Parser) Feed(data []byte, h Handler) error {
	buffered := p.st != nil && len(p.st.partial) > 0
	if buffered {
		p.st.partial = append(p.st.partial, data...)
		data = p.st.partial
	}
	n, err := p.parse(data, h)
	rest := data[n:]
	switch {
	case err != nil:
		p.st = nil
		return err
	case len(rest) == 0:
		if p.st != nil {
			p.st.partial = nil // an idle connection holds no buffer
		}
	case buffered:
		// rest aliases the partial buffer: move it to the front.
		p.st.partial = p.st.partial[:copy(p.st.partial, rest)]
	default:
		p.state().partial = append([]byte(nil), rest...)
	}
	p.release()
	return nil
}

// parse handles as many whole frames of data as there are and returns how many
// bytes it consumed.
func (p *Parser) parse(data []byte, h Handler) (int, error) {
	var hdrBuf [ws.MaxHeaderSize - 2]byte
	consumed := 0
	for len(data) > 0 {
		r := bytes.NewReader(data)
		hdr, err := ws.ReadHeaderBuffer(r, hdrBuf[:])
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return consumed, nil // header incomplete
		}
		if err != nil {
			return consumed, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		if err := p.checkHeader(hdr); err != nil {
			return consumed, err
		}
		hlen := len(data) - r.Len()
		if int64(len(data)-hlen) < hdr.Length {
			return consumed, nil // payload incomplete
		}
		payload := data[hlen : hlen+int(hdr.Length)]
		ws.Cipher(payload, hdr.Mask, 0)
		frameLen := hlen + int(hdr.Length)
		data = data[frameLen:]
		consumed += frameLen
		if err := p.frame(hdr, payload, h); err != nil {
			return consumed, err
		}
	}
	return consumed, nil
}

func (p *Parser) checkHeader(hdr ws.Header) error {
	switch {
	case hdr.Rsv != 0:
		return fmt.Errorf("%w: reserved bits set", ErrProtocol)
	case !hdr.Masked:
		return fmt.Errorf("%w: client frame not masked", ErrProtocol)
	case hdr.OpCode.IsReserved():
		return fmt.Errorf("%w: reserved opcode %d", ErrProtocol, hdr.OpCode)
	case hdr.OpCode.IsControl() && (!hdr.Fin || hdr.Length > 125):
		return fmt.Errorf("%w: bad control frame", ErrProtocol)
	case hdr.OpCode.IsControl():
		return nil
	}
	var fragOp ws.OpCode
	var fragLen int64
	if p.st != nil {
		fragOp, fragLen = p.st.fragOp, int64(len(p.st.frag))
	}
	switch {
	case hdr.OpCode == ws.OpContinuation && fragOp == 0:
		return fmt.Errorf("%w: continuation without a message", ErrProtocol)
	case hdr.OpCode != ws.OpContinuation && fragOp != 0:
		return fmt.Errorf("%w: new message inside a fragmented one", ErrProtocol)
	case fragLen+hdr.Length > p.MaxMessage:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, fragLen+hdr.Length, p.MaxMessage)
	}
	return nil
}

func (p *Parser) frame(hdr ws.Header, payload []byte, h Handler) error {
	if hdr.OpCode.IsControl() {
		return h(Message{Op: hdr.OpCode, Payload: payload})
	}
	if hdr.OpCode != ws.OpContinuation {
		if hdr.Fin {
			return deliver(hdr.OpCode, payload, h)
		}
		st := p.state()
		st.fragOp = hdr.OpCode
		st.frag = append(st.frag[:0], payload...)
		return nil
	}
	st := p.state() // checkHeader saw a message in progress
	st.frag = append(st.frag, payload...)
	if !hdr.Fin {
		return nil
	}
	op, msg := st.fragOp, st.frag
	st.fragOp, st.frag = 0, nil
	return deliver(op, msg, h)
}

func deliver(op ws.OpCode, payload []byte, h Handler) error {
	if op == ws.OpText && !utf8.Valid(payload) {
		return ErrInvalidUTF8
	}
	return h(Message{Op: op, Payload: payload})
}

// TextFrame returns payload as one unmasked server text frame: header and
// payload in a single slice, ready to be shared by every socket it goes to.
func TextFrame(payload []byte) []byte {
	return frame(ws.OpText, payload)
}

// FrameHeadroom is the room an encoder leaves before its payload
// (NewFrameBuffer) for TextFrameInPlace to make a frame there, without the
// copy TextFrame makes: the most any WebSocket header takes.
const FrameHeadroom = ws.MaxHeaderSize

// NewFrameBuffer returns a buffer to append a text frame's payload of about
// n bytes to, for TextFrameInPlace.
func NewFrameBuffer(n int) []byte { return make([]byte, FrameHeadroom, FrameHeadroom+n) }

// TextFrameInPlace makes b, a buffer from NewFrameBuffer with a payload
// appended, one unmasked server text frame (the bytes TextFrame returns for
// that payload): gobwas/ws writes the header in the room before the
// payload, against it.
func TextFrameInPlace(b []byte) []byte {
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(b) - FrameHeadroom)}
	room := (*headroom)(b[:FrameHeadroom])
	if err := ws.WriteHeaderBuffer(room, h, room[:]); err != nil { // only for lengths no caller can produce
		panic(fmt.Sprintf("transport: frame header: %v", err))
	}
	return b[FrameHeadroom-ws.HeaderSize(h):]
}

// headroom is the room before a payload. gobwas/ws builds a header at its
// start and writes it here, which moves it to the end, against the payload.
type headroom [FrameHeadroom]byte

func (r *headroom) Write(p []byte) (int, error) { return copy(r[len(r)-len(p):], p), nil }

// CloseFrame returns a server close frame with code and reason (trimmed to fit
// a control frame).
func CloseFrame(code ws.StatusCode, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	return frame(ws.OpClose, ws.NewCloseFrameBody(code, reason))
}

// PingFrame and friends are shared, immutable control frames.
var (
	PingFrame = frame(ws.OpPing, nil)
)

// PongFrame answers a client ping with its payload.
func PongFrame(payload []byte) []byte { return frame(ws.OpPong, payload) }

// ErrClientClose is what Control returns for a client's close frame: the
// endpoint answers it with a normal closure.
var ErrClientClose = errors.New("transport: client closed")

// Control handles the frames every endpoint treats alike: it answers a
// ping with its pong (through send), ignores a pong, and returns
// ErrClientClose for a close. handled is false for text and binary
// frames, which are the endpoint's.
func Control(m Message, send func(frame []byte) bool) (handled bool, err error) {
	switch m.Op {
	case ws.OpPing:
		send(PongFrame(append([]byte(nil), m.Payload...)))
		return true, nil
	case ws.OpPong:
		return true, nil
	case ws.OpClose:
		return true, ErrClientClose
	}
	return false, nil
}

func frame(op ws.OpCode, payload []byte) []byte {
	f := ws.NewFrame(op, true, payload)
	out, err := ws.CompileFrame(f)
	if err != nil { // only for lengths no caller can produce
		panic(fmt.Sprintf("transport: compile frame: %v", err))
	}
	return out
}
