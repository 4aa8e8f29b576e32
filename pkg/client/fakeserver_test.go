package client

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// failsafe bounds every wait in the tests, so that a bug fails a test
// instead of hanging it. Nothing is sequenced by time.
const failsafe = 5 * time.Second

// fakeOptions script the fake server.
type fakeOptions struct {
	// refuse, when it returns a non-zero status, refuses the upgrade with
	// that status and body.
	refuse func(r *http.Request) (status int, body string)
	// autoPong answers ping messages itself (and signals pings).
	autoPong bool
	// rejectConnect answers a connect message with error 401.
	rejectConnect bool
	// expiresIn is the connected message's expires_in (seconds).
	expiresIn float64
}

// fakeServer plays the server side of the native protocol, as far as each
// test scripts it.
type fakeServer struct {
	t     *testing.T
	opts  fakeOptions
	srv   *httptest.Server
	URL   string
	conns chan *serverConn // every connection that got connected
	pings chan struct{}    // a signal per auto-answered ping
	quit  chan struct{}
	count atomic.Int32 // connections that got connected
	wg    sync.WaitGroup

	mu  sync.Mutex
	all []*serverConn
}

func newFakeServer(t *testing.T, opts fakeOptions) *fakeServer {
	t.Helper()
	fs := &fakeServer{
		t:     t,
		opts:  opts,
		conns: make(chan *serverConn, 16),
		pings: make(chan struct{}, 64),
		quit:  make(chan struct{}),
	}
	fs.srv = httptest.NewServer(fs)
	fs.URL = "ws" + strings.TrimPrefix(fs.srv.URL, "http") + "/api/ws/socket"
	t.Cleanup(fs.Close)
	return fs
}

// Close stops the server and every connection, and waits for their
// goroutines.
func (fs *fakeServer) Close() {
	fs.srv.Close()
	close(fs.quit)
	fs.mu.Lock()
	for _, sc := range fs.all {
		_ = sc.nc.Close()
	}
	fs.mu.Unlock()
	fs.wg.Wait()
}

func (fs *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if fs.opts.refuse != nil {
		if status, body := fs.opts.refuse(r); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return
		}
	}
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		fs.t.Errorf("upgrade: %v", err)
		return
	}
	sc := &serverConn{
		fs:   fs,
		nc:   nc,
		br:   rw.Reader,
		req:  r,
		in:   make(chan frame, 64),
		done: make(chan struct{}),
	}
	fs.mu.Lock()
	fs.all = append(fs.all, sc)
	fs.mu.Unlock()
	fs.wg.Add(1)
	go sc.readLoop()

	token := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	session := r.URL.Query().Get("session_id")
	if token == "" {
		f, ok := sc.next()
		if !ok || f.msg.Type != TypeConnect {
			fs.t.Errorf("first message without a token: %q, want connect", f.raw)
			_ = nc.Close()
			return
		}
		sc.connect = f.msg
		if fs.opts.rejectConnect {
			sc.send(Message{Type: TypeError, Error: &ErrorBody{Code: 401, Message: "invalid token"}})
			sc.closeWith(CloseTokenExpired, "invalid token")
			return
		}
		var d struct {
			Token     string `json:"token"`
			SessionID string `json:"session_id"`
		}
		_ = json.Unmarshal(f.msg.Data, &d)
		token, session = d.Token, d.SessionID
	}
	n := fs.count.Add(1)
	if session == "" {
		session = fmt.Sprintf("c_%d", n)
	}
	sc.send(Message{Type: TypeConnected, Data: mustJSON(Connected{
		ConnectionID:      fmt.Sprintf("c_%d", n),
		UserID:            token,
		SessionID:         session,
		HeartbeatInterval: 30,
		MaxMessageSize:    65536,
		ExpiresIn:         fs.opts.expiresIn,
	})})
	fs.conns <- sc
}

// accept returns the next connection that got connected.
func (fs *fakeServer) accept(t *testing.T) *serverConn {
	t.Helper()
	select {
	case sc := <-fs.conns:
		return sc
	case <-time.After(failsafe):
		t.Fatal("no connection")
		return nil
	}
}

// frame is one frame a client sent.
type frame struct {
	op  ws.OpCode
	raw []byte
	msg Message // decoded, when it is JSON
}

type serverConn struct {
	fs      *fakeServer
	nc      net.Conn
	br      *bufio.Reader
	req     *http.Request
	connect Message // the connect message, with TokenInConnect
	in      chan frame
	done    chan struct{} // closed when readLoop ends
	endErr  error         // why readLoop ended; read after done

	wmu sync.Mutex
}

func (sc *serverConn) readLoop() {
	defer sc.fs.wg.Done()
	defer close(sc.done)
	rw := struct {
		io.Reader
		io.Writer
	}{sc.br, lockedWriter{sc}}
	for {
		p, op, err := wsutil.ReadClientData(rw)
		if err != nil {
			sc.endErr = err
			return
		}
		f := frame{op: op, raw: p}
		_ = json.Unmarshal(p, &f.msg)
		if sc.fs.opts.autoPong && f.msg.Type == TypePing {
			sc.send(Message{Type: TypePong, ID: f.msg.ID})
			select {
			case sc.fs.pings <- struct{}{}:
			default:
			}
			continue
		}
		select {
		case sc.in <- f:
		case <-sc.fs.quit:
			return
		}
	}
}

type lockedWriter struct{ sc *serverConn }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.sc.wmu.Lock()
	defer w.sc.wmu.Unlock()
	return w.sc.nc.Write(p)
}

func (sc *serverConn) next() (frame, bool) {
	select {
	case f := <-sc.in:
		return f, true
	case <-sc.done:
		// Frames read before the end are still in the channel.
		select {
		case f := <-sc.in:
			return f, true
		default:
			return frame{}, false
		}
	case <-time.After(failsafe):
		return frame{}, false
	}
}

// expect returns the next message the client sent, which must be of type typ.
func (sc *serverConn) expect(t *testing.T, typ string) Message {
	t.Helper()
	f, ok := sc.next()
	if !ok {
		t.Fatalf("expected a %s message, got none (%v)", typ, sc.endErr)
	}
	if f.msg.Type != typ {
		t.Fatalf("expected a %s message, got %q", typ, f.raw)
	}
	return f.msg
}

func (sc *serverConn) send(m Message) {
	if m.Timestamp == "" {
		m.Timestamp = time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	sc.sendRaw(mustJSON(m))
}

func (sc *serverConn) sendRaw(p []byte) {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	_ = wsutil.WriteServerText(sc.nc, p)
}

// reply answers request m with data.
func (sc *serverConn) reply(m Message, data any) {
	sc.send(Message{Type: m.Type, ID: m.ID, Collection: m.Collection, Document: m.Document, Data: mustJSON(data)})
}

// push sends an op or message of a collection at an offset.
func (sc *serverConn) push(typ, collection, document string, offset uint64) {
	sc.send(Message{Type: typ, Collection: collection, Document: document, Offset: &offset, Data: mustJSON(map[string]any{"n": offset})})
}

// closeWith sends a close frame, waits for the client's and ends the
// connection.
func (sc *serverConn) closeWith(code ws.StatusCode, reason string) {
	sc.wmu.Lock()
	_ = wsutil.WriteServerMessage(sc.nc, ws.OpClose, ws.NewCloseFrameBody(code, reason))
	sc.wmu.Unlock()
	select {
	case <-sc.done:
	case <-time.After(failsafe):
	}
	_ = sc.nc.Close()
}

// drop ends the connection abruptly, without a close frame.
func (sc *serverConn) drop() { _ = sc.nc.Close() }

// closeCode waits for the end of the connection and returns the close
// code the client sent, or 0.
func (sc *serverConn) closeCode(t *testing.T) ws.StatusCode {
	t.Helper()
	select {
	case <-sc.done:
	case <-time.After(failsafe):
		t.Fatal("connection did not end")
	}
	var ce wsutil.ClosedError
	if errors.As(sc.endErr, &ce) {
		return ce.Code
	}
	return 0
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
