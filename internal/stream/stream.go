// Package stream keeps the recent history of named streams, so that a client
// that lost its connection can resume where it left off instead of refetching.
//
// # Model
//
// A stream is named by a string (for example an app channel's collection). Each
// stream has a Position made of two parts:
//
//   - Offset, a counter that increases by one for every appended entry. The first
//     entry appended to a stream gets offset 1; a stream with nothing appended yet
//     is at offset 0.
//   - Epoch, an opaque random string that names the stream's incarnation. It is
//     made when the stream is first seen by a History (on Append, Since or Top,
//     whichever comes first) and stays the same for as long as the History keeps
//     the stream. A new epoch means offsets restarted from zero (the server
//     restarted, or an idle stream was forgotten), so a client holding a position
//     of another epoch cannot know what it missed and must refetch.
//
// A client remembers the Position of the last message it saw (or the Position it
// got when it subscribed) and, after reconnecting, asks Since for everything after
// it. Since either returns every missed entry, in order, or fails with
// ErrUnrecoverable; it never returns a partial answer. That is what lets the
// server reply recovered:true or recovered:false in the native protocol.
//
// Payloads are opaque: the package neither reads nor copies them.
package stream

import (
	"context"
	"errors"
)

// Position is a point in a stream: the offset of the last entry before it, and
// the stream's epoch. The zero Offset with a stream's epoch is the position
// before the stream's first entry.
type Position struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// Entry is one message kept in a stream's history.
type Entry struct {
	// Offset is the entry's offset in its stream (1 for the first entry of an epoch).
	Offset uint64
	// Payload is the message exactly as appended. It is shared with the history
	// and with every other reader, so it must not be modified.
	Payload []byte
}

// ErrUnrecoverable is returned (wrapped; test with errors.Is) by Since when the
// entries after a position cannot all be returned: the epoch differs, the offset
// is ahead of the stream, some missed entry was pruned or expired, or more entries
// were missed than the caller's limit. The client must refetch.
var ErrUnrecoverable = errors.New("stream: cannot recover")

// History keeps the recent entries of many streams. Implementations are safe for
// concurrent use.
type History interface {
	// Append assigns the next offset of the stream (1, 2, 3, ... per epoch) and keeps the entry.
	// The history takes ownership of payload: the caller must not modify it afterwards.
	Append(ctx context.Context, stream string, payload []byte) (Position, error)
	// Since returns entries with offset > since.Offset in order, and the current position.
	// ErrUnrecoverable (wrapped) if epoch differs, anything missed was pruned, or more than limit.
	// A negative limit means no limit beyond what the history keeps. When the error
	// wraps ErrUnrecoverable the current position is still returned, so the caller
	// can tell the client where the stream is now.
	Since(ctx context.Context, stream string, since Position, limit int) ([]Entry, Position, error)
	// Top returns the current position (offset 0 and a fresh epoch for an unknown stream).
	// The epoch returned for an unknown stream is kept: entries appended later
	// belong to it, so Since from that position returns all of them.
	Top(ctx context.Context, stream string) (Position, error)
}
