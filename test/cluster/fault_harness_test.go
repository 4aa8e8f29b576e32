package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// jsonConn is a raw WebSocket speaking JSON text frames, for the dialects
// without a Go client (ShareDB, Baserow): a goroutine reads every message
// into msgs, and closed says why the socket ended.
type jsonConn struct {
	t      *testing.T
	nc     net.Conn
	wmu    sync.Mutex
	msgs   chan map[string]json.RawMessage
	closed chan struct{}
	err    error // why reading ended; read after closed
}

func dialJSON(t *testing.T, u string) *jsonConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, u)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c := &jsonConn{t: t, nc: nc, msgs: make(chan map[string]json.RawMessage, 4096), closed: make(chan struct{})}
	var rd io.Reader = nc
	if br != nil {
		rd = br // it holds what came with the handshake, and reads nc after
	}
	go c.read(rd)
	t.Cleanup(func() {
		_ = nc.Close()
		<-c.closed
	})
	return c
}

func (c *jsonConn) read(rd io.Reader) {
	defer close(c.closed)
	for {
		msgs, err := wsutil.ReadServerMessage(rd, nil)
		if err != nil {
			c.err = err
			return
		}
		for _, m := range msgs {
			switch m.OpCode {
			case ws.OpText:
				var v map[string]json.RawMessage
				if json.Unmarshal(m.Payload, &v) == nil {
					c.msgs <- v
				}
			case ws.OpPing:
				c.wmu.Lock()
				_ = wsutil.WriteClientMessage(c.nc, ws.OpPong, m.Payload)
				c.wmu.Unlock()
			case ws.OpClose:
				c.err = wsutil.ClosedError{Code: ws.StatusNoStatusRcvd}
				if len(m.Payload) >= 2 {
					code, reason := ws.ParseCloseFrameData(m.Payload)
					c.err = wsutil.ClosedError{Code: code, Reason: reason}
				}
				return
			}
		}
	}
}

func (c *jsonConn) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := wsutil.WriteClientText(c.nc, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next message for which keep holds, skipping others.
func (c *jsonConn) next(keep func(map[string]json.RawMessage) bool) map[string]json.RawMessage {
	c.t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case m := <-c.msgs:
			if keep(m) {
				return m
			}
		case <-c.closed:
			c.t.Fatalf("socket ended: %v", c.err)
		case <-timer.C:
			c.t.Fatalf("no awaited message within %v", wait)
		}
	}
}

func str(m map[string]json.RawMessage, key string) string {
	var s string
	_ = json.Unmarshal(m[key], &s)
	return s
}

func num(m map[string]json.RawMessage, key string) int64 {
	var n int64
	_ = json.Unmarshal(m[key], &n)
	return n
}

func is(key, value string) func(map[string]json.RawMessage) bool {
	return func(m map[string]json.RawMessage) bool { return str(m, key) == value }
}

func wsBase(n *node) string { return "ws://" + n.http[len("http://"):] }

func sharedbURL(t *testing.T, n *node, user string) string {
	return wsBase(n) + "/sharedb?" + url.Values{"token": {token(t, user)}}.Encode()
}

func baserowURL(t *testing.T, n *node, user string) string {
	return wsBase(n) + "/ws/core/?" + url.Values{"jwt_token": {token(t, user)}}.Encode()
}

// tcpProxy stands between a node and Redis, so that the test can cut that
// node's connections to Redis (and refuse new ones) while Redis stays up.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		p.wg.Add(2)
		go pipe(in, out)
		go pipe(out, in)
	}
}

// cut closes every connection through the proxy and refuses new ones
// until restore.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
