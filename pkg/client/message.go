package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Message types of the native protocol.
const (
	TypeConnect     = "connect"
	TypeConnected   = "connected"
	TypeDisconnect  = "disconnect"
	TypeError       = "error"
	TypePing        = "ping"
	TypePong        = "pong"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeQuery       = "query"
	TypeSubmit      = "submit"
	TypePresence    = "presence"
	TypeOp          = "op"
	TypeMessage     = "message"
	TypeRefresh     = "refresh"
)

// Close codes the server uses in disconnect messages and close frames.
const (
	CloseShutdown         = 4000 // server shutdown; reconnect
	CloseTokenExpired     = 4001 // reconnect with a new token
	CloseSlowConsumer     = 4002 // send queue overflowed; reconnect and resume
	CloseKicked           = 4003 // kicked by an admin; do not reconnect
	CloseRateLimited      = 4004 // rate limit abused; reconnect after a delay
	CloseHeartbeatTimeout = 4005 // no sign of life
)

// Message is one protocol envelope, in either direction. Fields that are
// empty are left out of the JSON.
type Message struct {
	Type       string          `json:"type"`
	ID         string          `json:"id,omitempty"`
	Collection string          `json:"collection,omitempty"`
	Document   string          `json:"document,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Error      *ErrorBody      `json:"error,omitempty"`
	Offset     *uint64         `json:"offset,omitempty"`
	Timestamp  string          `json:"timestamp,omitempty"`
}

// ErrorBody is the error field of an error message.
type ErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	// RetryAfter, in seconds, comes with a 503: the server could not serve
	// the request for now (its broker or store is away) and it may be sent
	// again after that long.
	RetryAfter int `json:"retry_after,omitempty"`
}

// Connected is the data of the server's connected message.
type Connected struct {
	ConnectionID string `json:"connection_id"`
	UserID       string `json:"user_id"`
	SessionID    string `json:"session_id"`
	// HeartbeatInterval is the server's WebSocket ping period, in seconds.
	HeartbeatInterval int `json:"heartbeat_interval"`
	// MaxMessageSize is the largest frame, in bytes, the server accepts from
	// the client. The client does not enforce it.
	MaxMessageSize int `json:"max_message_size"`
	// ExpiresIn is the time, in seconds, from when the server sent
	// connected to the token's exp; 0 when the token has no exp. The
	// server closes the connection (4001) at exp plus its leeway unless
	// the token is renewed first (Client.Refresh, or Config.TokenFunc).
	ExpiresIn float64 `json:"expires_in,omitempty"`
}

// refreshResult is the data of a refresh reply.
type refreshResult struct {
	ExpiresIn float64 `json:"expires_in,omitempty"`
}

// Position is a place in a collection's stream: the offset of the last
// message and the epoch (incarnation) of the stream.
type Position struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// SubscribeResult is the data of a subscribe reply.
type SubscribeResult struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
	// Recovered reports, for a subscription made with a since position,
	// whether every missed message was replayed before the reply. When it is
	// false the caller must refetch the collection's state.
	Recovered bool `json:"recovered"`
}

// Position returns the stream position of the reply.
func (r SubscribeResult) Position() Position {
	return Position{Offset: r.Offset, Epoch: r.Epoch}
}

// disconnectData is the data of a disconnect message.
type disconnectData struct {
	Code      int    `json:"code"`
	Reason    string `json:"reason"`
	Reconnect bool   `json:"reconnect"`
}

// Errors returned by the client. Test them with errors.Is.
var (
	// ErrClosed: the client was closed, by Close or because the connection
	// ended for good.
	ErrClosed = errors.New("tablecast: client closed")
	// ErrNotConnected: the client is between connections (reconnecting).
	ErrNotConnected = errors.New("tablecast: not connected")
	// ErrConnectionLost: the connection ended before the reply arrived.
	ErrConnectionLost = errors.New("tablecast: connection lost")
	// ErrPingTimeout: no pong arrived within Config.PingInterval.
	ErrPingTimeout = errors.New("tablecast: ping timeout")
)

// ServerError is an error message the server sent in reply to a request.
type ServerError struct {
	Code    int
	Message string
	// RetryAfter is the wait the server asked for before a retry (with 503).
	RetryAfter time.Duration
}

// Temporary reports whether the request may succeed if sent again: the
// server refused it for now (503). Subscribe and the resubscriptions after
// a reconnect retry such refusals by themselves.
func (e *ServerError) Temporary() bool { return e.Code == http.StatusServiceUnavailable }

func (e *ServerError) Error() string {
	return "tablecast: server error " + strconv.Itoa(e.Code) + ": " + e.Message
}

// HandshakeError is an HTTP refusal of the WebSocket upgrade, for example
// 401 (invalid token), 403 (origin not allowed), 429 or 503.
type HandshakeError struct {
	Status  int         // HTTP status code
	Code    string      // error.code of the JSON body (a machine word, or a number as text)
	Message string      // error.message of the JSON body
	Header  http.Header // response headers (Retry-After...)
}

func (e *HandshakeError) Error() string {
	s := "tablecast: handshake refused: HTTP " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// CloseError is how the server ended the connection: the code and reason
// of its disconnect message or of its close frame.
type CloseError struct {
	Code   int
	Reason string
	// Reconnect is the server's advice: the disconnect message's reconnect
	// field, or, after a bare close frame, false for 1000 and 4003 and true
	// otherwise.
	Reconnect bool
}

func (e *CloseError) Error() string {
	s := "tablecast: connection closed by server: " + strconv.Itoa(e.Code)
	if e.Reason != "" {
		s += " " + e.Reason
	}
	return s
}

func defaultReconnect(code int) bool {
	return code != 1000 && code != CloseKicked
}

// serverError converts an error message to a *ServerError.
func serverError(m Message) error {
	if m.Error == nil {
		return &ServerError{Code: 0, Message: "error message without error field"}
	}
	return &ServerError{Code: m.Error.Code, Message: m.Error.Message, RetryAfter: time.Duration(m.Error.RetryAfter) * time.Second}
}

// EventType tells what an Event is about.
type EventType int

const (
	// EventConnected: a connection is established and authenticated
	// (Event.Info). Reported by Dial and after every reconnect.
	EventConnected EventType = iota + 1
	// EventDisconnected: the connection ended (Event.Code and Event.Reason
	// when the server closed it, Event.Err the cause).
	EventDisconnected
	// EventReconnecting: the client waits Event.Delay before attempt
	// Event.Attempt; Event.Err is the previous failure.
	EventReconnecting
	// EventRecovered: a subscription was restored after a reconnect and
	// every missed message was replayed (Event.Result).
	EventRecovered
	// EventNotRecovered: a subscription was restored after a reconnect but
	// missed messages could not be replayed; the caller must refetch.
	EventNotRecovered
	// EventResubscribeFailed: the server refused to restore a subscription
	// after a reconnect (Event.Err, usually a *ServerError). The client
	// forgets the subscription.
	EventResubscribeFailed
	// EventTokenRefreshed: the client renewed its token on the open
	// connection with Config.TokenFunc (Event.ExpiresIn is the new one's).
	EventTokenRefreshed
	// EventTokenRefreshFailed: renewing the token failed (Event.Err); the
	// client tries again before the token expires, and reconnects with a
	// new token if the server closes the connection at exp.
	EventTokenRefreshFailed
)

func (t EventType) String() string {
	switch t {
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventReconnecting:
		return "reconnecting"
	case EventRecovered:
		return "recovered"
	case EventNotRecovered:
		return "not_recovered"
	case EventResubscribeFailed:
		return "resubscribe_failed"
	case EventTokenRefreshed:
		return "token_refreshed"
	case EventTokenRefreshFailed:
		return "token_refresh_failed"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is a change of the connection's state, passed to Config.OnEvent.
type Event struct {
	Type EventType
	// Info is the connected data (EventConnected).
	Info Connected
	// Code and Reason are the server's close code and reason
	// (EventDisconnected), zero when the connection was lost without one.
	Code   int
	Reason string
	// Err is the cause (EventDisconnected, EventReconnecting,
	// EventResubscribeFailed).
	Err error
	// Attempt and Delay describe the next reconnect attempt
	// (EventReconnecting); attempts count from 1.
	Attempt int
	Delay   time.Duration
	// Collection and Document name the subscription (EventRecovered,
	// EventNotRecovered, EventResubscribeFailed).
	Collection string
	Document   string
	// Result is the subscribe reply (EventRecovered, EventNotRecovered).
	Result SubscribeResult
	// ExpiresIn is the renewed token's time to exp (EventTokenRefreshed);
	// 0 when it has no exp.
	ExpiresIn time.Duration
}
