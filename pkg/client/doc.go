// Package client is the Go client for tablecast's native WebSocket
// protocol: one JSON object per text frame, collections and documents,
// subscribe with resume, ping, presence, and generic requests (query,
// submit).
//
// Dial connects and returns once the server has sent connected:
//
//	c, err := client.Dial(ctx, client.Config{
//		URL:       "ws://localhost:3000/api/ws/socket",
//		Token:     jwt,
//		Reconnect: true,
//	})
//	if err != nil {
//		return err // a *HandshakeError when the server refused the upgrade
//	}
//	defer c.Close()
//	if _, err := c.Subscribe(ctx, "record_12", ""); err != nil {
//		return err
//	}
//	for m := range c.Messages() {
//		// op, message, presence, disconnect...
//	}
//
// # Requests and messages
//
// Request (and Subscribe, Unsubscribe, Ping, Presence, which are built on
// it) gives each request a fresh id and returns the reply with that id; an
// error reply is a *ServerError. Everything else the server sends arrives on
// Messages, in order. Messages is buffered; a consumer that falls behind
// makes the reader wait, which in turn makes the server's send queue for
// this connection fill, and the server then disconnects it as a slow
// consumer (close code 4002). That is deliberate: the client never drops a
// message to keep up.
//
// # Resume and reconnect
//
// For each collection it is subscribed to, the client keeps a Position: the
// epoch of the stream and the offset of the last op or message it delivered
// (offsets count per collection). With Config.Reconnect, a lost connection
// is re-established with exponential backoff and full jitter, and every
// subscription is restored with data.since set to that position. Messages
// the server replays come through Messages like live ones; any with an
// offset already delivered is dropped. Config.OnEvent is then told, per
// subscription, whether everything missed was replayed (EventRecovered) or
// not (EventNotRecovered: refetch). A disconnect message with reconnect
// false (4003, kicked) ends the client instead; Err then returns a
// *CloseError.
//
// # Tokens
//
// The server ends a connection at its token's exp (plus a leeway) with
// 4001. With Config.TokenFunc, the client asks it for a token before each
// connection and, ahead of exp (Connected.ExpiresIn, Config.RefreshAhead),
// renews the open connection's token with a refresh message, so that the
// connection outlives any one token. Client.Refresh does the same by hand.
//
// # Examples
//
// The examples (Example, ExampleClient_SubscribeFrom, ExampleClient_Request)
// run as tests against a real server started on a loopback port, and check
// their output: what they print is what a server sends. The protocol is
// described in docs/protocol.md of the repository.
//
// # Resources
//
// A client runs one goroutine that reads the socket and handles
// reconnects, plus one for Config.PingInterval when it is set, and one
// that renews the token when Config.TokenFunc is set. Writes
// happen on the caller's goroutine, serialised by a mutex. Close stops and
// waits for everything the client started.
package client
