package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

const (
	// maxRetainedPayload is the largest read buffer a connection keeps
	// between messages; a bigger one, grown for one large message, is
	// dropped so that idle connections stay small.
	maxRetainedPayload = 64 << 10
	// maxRefusalBody bounds how much of an HTTP refusal's body is read.
	maxRefusalBody = 64 << 10
)

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

var errCloseSent = errors.New("tablecast: close frame already sent")

// conn is one WebSocket connection. Its reading methods belong to one
// goroutine at a time (Dial's, then the client's run goroutine); its
// writing methods are safe for concurrent use.
type conn struct {
	nc           net.Conn
	rd           wsutil.Reader
	writeTimeout time.Duration
	connectedAt  time.Time

	// Reader state.
	payload    bytes.Buffer
	ctrl       [125]byte   // control frame payload (at most 125 bytes, RFC 6455 5.5)
	disconnect *CloseError // from the server's disconnect message

	wmu       sync.Mutex // serialises frames; held for one whole frame
	closeSent bool       // wmu must be held
	failed    error      // wmu must be held; why the connection was torn down locally

	pingPending bool // Client.mu must be held
}

func newConn(nc net.Conn, br *bufio.Reader, readBuf int, writeTimeout time.Duration) *conn {
	if br == nil {
		br = bufio.NewReaderSize(nc, readBuf)
	}
	cn := &conn{nc: nc, writeTimeout: writeTimeout}
	cn.rd = wsutil.Reader{
		Source:         br,
		State:          ws.StateClientSide,
		CheckUTF8:      true,
		OnIntermediate: cn.control,
	}
	return cn
}

// next returns the opcode and payload of the next data message, answering
// control frames on the way. The payload is valid until the next call.
// A close frame from the server ends it with a *CloseError.
func (cn *conn) next() (ws.OpCode, []byte, error) {
	if cn.payload.Cap() > maxRetainedPayload {
		cn.payload = bytes.Buffer{}
	}
	for {
		hdr, err := cn.rd.NextFrame()
		if err != nil {
			return 0, nil, err
		}
		if hdr.OpCode.IsControl() {
			err = cn.control(hdr, &cn.rd)
			if err != nil {
				return 0, nil, err
			}
			continue
		}
		cn.payload.Reset()
		_, err = cn.payload.ReadFrom(&cn.rd)
		if err != nil {
			return 0, nil, err
		}
		return hdr.OpCode, cn.payload.Bytes(), nil
	}
}

// control handles a control frame whose payload is read from src.
func (cn *conn) control(hdr ws.Header, src io.Reader) error {
	p := cn.ctrl[:hdr.Length] // ws.CheckHeader has bounded the length
	_, err := io.ReadFull(src, p)
	if err != nil {
		return err
	}
	switch hdr.OpCode {
	case ws.OpPing:
		err = cn.writeFrame(ws.OpPong, p)
		if errors.Is(err, errCloseSent) {
			return nil
		}
		return err
	case ws.OpClose:
		if len(p) == 0 {
			_ = cn.writeClose(nil)
			return &CloseError{Code: int(ws.StatusNoStatusRcvd)}
		}
		code, reason := ws.ParseCloseFrameData(p)
		// Echo the status code, as RFC 6455 5.5.1 suggests.
		_ = cn.writeClose(ws.NewCloseFrameBody(code, ""))
		return &CloseError{Code: int(code), Reason: reason}
	}
	return nil // pong: any frame is a sign of life, nothing to do
}

// writeFrame writes one frame. A failed write leaves the stream in an
// unknown state, so it tears the connection down.
func (cn *conn) writeFrame(op ws.OpCode, p []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.failed != nil {
		return cn.failed
	}
	if cn.closeSent {
		return errCloseSent
	}
	if cn.writeTimeout > 0 {
		_ = cn.nc.SetWriteDeadline(time.Now().Add(cn.writeTimeout))
	}
	err := writeClientFrame(cn.nc, op, p)
	if err != nil {
		cn.failLocked(fmt.Errorf("tablecast: write: %w", err))
		return err
	}
	return nil
}

// writeClientFrame writes one masked frame in a single write (the
// library's writer sends the header and the payload apart: two system
// calls a message). p is left as it was: it is masked in the frame's own
// buffer.
func writeClientFrame(w io.Writer, op ws.OpCode, p []byte) error {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p)), Masked: true, Mask: ws.NewMask()}
	var b bytes.Buffer
	b.Grow(ws.MaxHeaderSize + len(p))
	if err := ws.WriteHeader(&b, h); err != nil {
		return err
	}
	start := b.Len()
	b.Write(p)
	ws.Cipher(b.Bytes()[start:], h.Mask, 0)
	_, err := w.Write(b.Bytes())
	return err
}

func (cn *conn) writeJSON(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("tablecast: encode %s message: %w", m.Type, err)
	}
	return cn.writeFrame(ws.OpText, b)
}

// writeClose sends a close frame with the given body, once.
func (cn *conn) writeClose(body []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.closeSent || cn.failed != nil {
		return nil
	}
	cn.closeSent = true
	if cn.writeTimeout > 0 {
		_ = cn.nc.SetWriteDeadline(time.Now().Add(cn.writeTimeout))
	}
	return writeClientFrame(cn.nc, ws.OpClose, body)
}

// fail tears the connection down, remembering why; the reader then fails
// and reports that cause.
func (cn *conn) fail(err error) {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.failLocked(err)
}

// failLocked is fail with wmu held.
func (cn *conn) failLocked(err error) {
	if cn.failed == nil {
		cn.failed = err
	}
	_ = cn.nc.Close()
}

// failure returns the error given to fail, if any.
func (cn *conn) failure() error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	return cn.failed
}

// awaitConnected reads until the server's connected message, bounded by ctx.
func (cn *conn) awaitConnected(ctx context.Context) (Connected, error) {
	var info Connected
	if dl, ok := ctx.Deadline(); ok {
		_ = cn.nc.SetReadDeadline(dl)
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = cn.nc.SetReadDeadline(aLongTimeAgo)
		close(interrupted)
	})
	defer func() {
		if !stop() {
			<-interrupted
		}
		_ = cn.nc.SetReadDeadline(time.Time{})
	}()
	for {
		op, p, err := cn.next()
		if err != nil {
			if ctx.Err() != nil {
				return info, ctx.Err()
			}
			err = cn.endError(err)
			var ce *CloseError
			if errors.As(err, &ce) {
				return info, ce
			}
			return info, fmt.Errorf("tablecast: waiting for connected: %w", err)
		}
		if op != ws.OpText {
			continue
		}
		var m Message
		err = json.Unmarshal(p, &m)
		if err != nil {
			return info, fmt.Errorf("tablecast: waiting for connected: %w", err)
		}
		switch m.Type {
		case TypeConnected:
			err = json.Unmarshal(m.Data, &info)
			if err != nil {
				return info, fmt.Errorf("tablecast: bad connected data: %w", err)
			}
			return info, nil
		case TypeError:
			return info, serverError(m)
		case TypeDisconnect:
			cn.noteDisconnect(m)
		default:
			return info, fmt.Errorf("tablecast: expected connected, got %q", m.Type)
		}
	}
}

// noteDisconnect remembers a disconnect message; the close frame follows.
func (cn *conn) noteDisconnect(m Message) {
	var d disconnectData
	if json.Unmarshal(m.Data, &d) == nil {
		cn.disconnect = &CloseError{Code: d.Code, Reason: d.Reason, Reconnect: d.Reconnect}
	}
}

// endError turns the reader's final error into the error the client
// reports: a *CloseError when the server closed the connection, else an
// error wrapping ErrConnectionLost and the cause (the local reason the
// client tore the connection down, or the I/O error).
func (cn *conn) endError(err error) error {
	if f := cn.failure(); f != nil {
		err = f
	} else {
		var ce *CloseError
		if errors.As(err, &ce) {
			if d := cn.disconnect; d != nil && d.Code == ce.Code {
				return d
			}
			ce.Reconnect = defaultReconnect(ce.Code)
			return ce
		}
		if d := cn.disconnect; d != nil {
			return d
		}
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrConnectionLost) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// refusal builds a *HandshakeError from a non-101 response. resp reads the
// whole response, status line included.
func refusal(status int, resp io.Reader) *HandshakeError {
	he := &HandshakeError{Status: status}
	r, err := http.ReadResponse(bufio.NewReader(resp), nil)
	if err != nil {
		return he
	}
	defer r.Body.Close()
	he.Header = r.Header
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRefusalBody))
	var env struct {
		Error struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return he
	}
	he.Message = env.Error.Message
	var s string
	if json.Unmarshal(env.Error.Code, &s) == nil {
		he.Code = s
	} else {
		var n json.Number
		if json.Unmarshal(env.Error.Code, &n) == nil {
			he.Code = n.String()
		}
	}
	return he
}

// localDialer returns the NetDial function for Config.LocalAddr.
func localDialer(local string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	var d net.Dialer
	if local != "" {
		host, port, err := net.SplitHostPort(local)
		if err != nil {
			host, port = local, "0"
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return nil, fmt.Errorf("tablecast: LocalAddr %q: not an IP address", local)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("tablecast: LocalAddr %q: bad port", local)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip, Port: p}
	}
	return d.DialContext, nil
}
