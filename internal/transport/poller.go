package transport

import "errors"

// errEOF is what ReadClosed receives when the client closed its side.
var errEOF = errors.New("transport: connection closed by peer")

// IsPeerClosed reports whether err means the client went away (as opposed to
// misbehaving).
func IsPeerClosed(err error) bool { return errors.Is(err, errEOF) }
