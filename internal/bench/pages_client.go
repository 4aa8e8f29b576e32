package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// pageClient is a socket of the page protocol (Baserow's /ws/core/), as
// small as the pages scenario needs: connect, add one page, then read
// frames until the connection ends. Framing is gobwas/ws's.
type pageClient struct {
	nc net.Conn
	rd *bufio.Reader
}

// coreURL is the page protocol's socket address.
func (t *target) coreURL() string { return t.socketURL("/ws/core/") }

// dialPage connects with jwt (a token or "anonymous") and reads the
// authentication message.
func dialPage(ctx context.Context, base, jwt, localAddr string, readBuffer int) (*pageClient, error) {
	nd := net.Dialer{Timeout: 10 * time.Second}
	if localAddr != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localAddr)}
	}
	d := ws.Dialer{NetDial: nd.DialContext, Timeout: 10 * time.Second}
	nc, br, _, err := d.Dial(ctx, base+"?jwt_token="+url.QueryEscape(jwt))
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok && readBuffer > 0 {
		_ = tc.SetReadBuffer(readBuffer)
	}
	c := &pageClient{nc: nc, rd: br} // br reads the connection once what it holds is read
	if br == nil {
		c.rd = bufio.NewReaderSize(nc, 4096)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := c.next()
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("reading authentication: %w", err)
	}
	if !bytes.HasPrefix(m, []byte(`{"type":"authentication","success":true`)) {
		_ = nc.Close()
		return nil, fmt.Errorf("authentication refused: %.200s", m)
	}
	return c, nil
}

// addPage sends a page message and waits for its answer.
func (c *pageClient) addPage(msg []byte) error {
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.nc.SetDeadline(time.Time{}) }()
	if err := ws.WriteFrame(c.nc, ws.MaskFrameInPlace(ws.NewTextFrame(bytes.Clone(msg)))); err != nil {
		return err
	}
	for {
		m, err := c.next()
		if err != nil {
			return err
		}
		switch {
		case bytes.HasPrefix(m, []byte(`{"type":"page_add"`)):
			return nil
		case bytes.HasPrefix(m, []byte(`{"type":"page_add_failed"`)):
			return fmt.Errorf("page refused: %.200s", m)
		}
	}
}

// next returns the next text message, answering pings.
func (c *pageClient) next() ([]byte, error) {
	for {
		h, err := ws.ReadHeader(c.rd)
		if err != nil {
			return nil, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.rd, p); err != nil {
			return nil, err
		}
		switch h.OpCode {
		case ws.OpText:
			return p, nil
		case ws.OpPing:
			if err := ws.WriteFrame(c.nc, ws.MaskFrameInPlace(ws.NewPongFrame(p))); err != nil {
				return nil, err
			}
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(p)
			return nil, &closedError{code: code, reason: reason}
		}
	}
}

type closedError struct {
	code   ws.StatusCode
	reason string
}

func (e *closedError) Error() string {
	return fmt.Sprintf("closed by the server: %d %s", e.code, e.reason)
}

// read hands every text message to f until the connection ends, and
// returns why it ended (nil once close was called).
func (c *pageClient) read(f func(msg []byte)) error {
	for {
		m, err := c.next()
		if err != nil {
			return err
		}
		f(m)
	}
}

func (c *pageClient) close() { _ = c.nc.Close() }

// pageFrame is what the pages scenario reads from a rows_updated message
// of a bench write: its _event_id, the row, the field and the write's
// sequence number and send time (the cell's "s<seq>t<UnixNano>").
type pageFrame struct {
	eventID uint64
	row     int64
	field   int64
	seq     int
	stamp   int64
}

var (
	keyRowsUpdated = []byte(`{"type":"rows_updated"`)
	keyRows        = []byte(`,"rows":[{"id":`)
	keyUpdated     = []byte(`"updated_field_ids":[`)
	keyEventID     = []byte(`"_event_id":`)
)

// parsePageFrame reads a rows_updated message. Each bench write changes
// one cell, so updated_field_ids has one id, and the cell's new value is
// in "rows" (the old one, in rows_before_update, carries an older write).
func parsePageFrame(m []byte) (pageFrame, error) {
	var f pageFrame
	if !bytes.HasPrefix(m, keyRowsUpdated) {
		return f, errors.New("not rows_updated")
	}
	num := func(b []byte) (int64, []byte, bool) {
		var v int64
		j := 0
		for ; j < len(b) && j < 19 && b[j] >= '0' && b[j] <= '9'; j++ {
			v = v*10 + int64(b[j]-'0')
		}
		return v, b[j:], j > 0
	}
	i := bytes.LastIndex(m, keyEventID)
	if i < 0 {
		return f, errors.New("no _event_id")
	}
	id, _, ok := num(m[i+len(keyEventID):])
	if !ok {
		return f, errors.New("bad _event_id")
	}
	f.eventID = uint64(id)
	// It follows the rows (Baserow's order), and no JSON string holds
	// its quotes unescaped: read from the end, the rows are not scanned.
	i = bytes.LastIndex(m[:i], keyUpdated)
	if i < 0 {
		return f, errors.New("no updated_field_ids")
	}
	if f.field, _, ok = num(m[i+len(keyUpdated):]); !ok {
		return f, errors.New("bad updated_field_ids")
	}
	i = bytes.Index(m, keyRows)
	if i < 0 {
		return f, errors.New("no rows")
	}
	rows := m[i+len(keyRows):]
	if f.row, _, ok = num(rows); !ok {
		return f, errors.New("bad row id")
	}
	var buf [32]byte
	cell := append(strconv.AppendInt(append(buf[:0], `"field_`...), f.field, 10), `":"s`...)
	i = bytes.Index(rows, cell)
	if i < 0 {
		return f, errors.New("no cell of the updated field")
	}
	seq, rest, ok1 := num(rows[i+len(cell):])
	if !ok1 || len(rest) == 0 || rest[0] != 't' {
		return f, errors.New("bad cell")
	}
	stamp, rest, ok2 := num(rest[1:])
	if !ok2 || len(rest) == 0 || rest[0] != '"' {
		return f, errors.New("bad cell stamp")
	}
	f.seq, f.stamp = int(seq), stamp
	return f, nil
}
