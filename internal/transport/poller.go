package transport

import "errors"

// errEOF is what ReadClosed receives when the client closed its side.
var errEOF = errors.New("transport: connection closed by peer")

// IsPeerClosed reports whether err means the client went away (as opposed to
// misbehaving).
func IsPeerClosed(err error) bool { return errors.Is(err, errEOF) }

// Serve hands a new connection to the poller: the bytes read with the
// upgrade (early) go to s first, then every later read. A Feed error ends
// the connection as a failed read does (ReadClosed), and Serve returns nil.
func (p *Poller) Serve(c *Conn, s Sink, early []byte) error {
	if len(early) > 0 {
		if err := s.Feed(early); err != nil {
			s.ReadClosed(err)
			return nil
		}
	}
	return p.Watch(c, s)
}
