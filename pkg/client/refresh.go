package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// minRefreshDelay bounds how often the client renews its token, whatever
// the server says of its exp.
const minRefreshDelay = 100 * time.Millisecond

// expiry is when a connection's token expires: in, from at.
type expiry struct {
	at time.Time
	in time.Duration // 0: no exp
}

// Refresh renews the connection's token with token, which must be for the
// same user: the server then ends the connection at the new token's exp
// (plus its leeway) instead of the old one's. It returns the new token's
// time to exp (0: none). A refused token is a *ServerError (401) and
// leaves the old expiry in place. A new connection made by Reconnect
// presents Config.Token or Config.TokenFunc's token, not this one.
func (c *Client) Refresh(ctx context.Context, token string) (time.Duration, error) {
	data, err := json.Marshal(struct {
		Token string `json:"token"`
	}{token})
	if err != nil {
		return 0, err
	}
	reply, err := c.Request(ctx, Message{Type: TypeRefresh, Data: data})
	if err != nil {
		return 0, err
	}
	var r refreshResult
	if len(reply.Data) > 0 {
		if err := json.Unmarshal(reply.Data, &r); err != nil {
			return 0, fmt.Errorf("tablecast: bad refresh reply: %w", err)
		}
	}
	return seconds(r.ExpiresIn), nil
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

// autoRefresh reports whether the client renews its token by itself.
func (c *Client) autoRefresh() bool {
	return c.cfg.TokenFunc != nil && c.cfg.RefreshAhead > 0
}

// noteExpiry tells the refresh goroutine about a new connection's token.
// Only the latest matters: an older one still queued is replaced.
func (c *Client) noteExpiry(info Connected) {
	e := expiry{at: time.Now(), in: seconds(info.ExpiresIn)}
	select {
	case <-c.expiry:
	default:
	}
	select {
	case c.expiry <- e:
	default:
	}
}

// refreshLoop renews the token ahead of its exp, on every connection, with
// Config.TokenFunc. It runs while the client does (started by Dial when
// TokenFunc is set).
func (c *Client) refreshLoop() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var exp time.Time // of the current connection's token; zero: none
	for {
		select {
		case <-c.ctx.Done():
			return
		case e := <-c.expiry:
			timer.Stop()
			exp = time.Time{}
			if e.in != 0 {
				exp = e.at.Add(e.in)
				timer.Reset(c.refreshDelay(exp))
			}
		case <-timer.C:
			in, err := c.refreshOnce()
			switch {
			case err == nil && in == 0:
				exp = time.Time{}
			case err == nil:
				exp = time.Now().Add(in)
				timer.Reset(c.refreshDelay(exp))
			case errors.Is(err, ErrNotConnected), errors.Is(err, ErrConnectionLost), errors.Is(err, ErrClosed):
				// The next connection's connected says what its token is.
			default:
				// Try again in half the time left, while there is some:
				// past exp the server closes, and the reconnect asks
				// TokenFunc anyway.
				if left := time.Until(exp); left > 2*minRefreshDelay {
					timer.Reset(left / 2)
				}
			}
		}
	}
}

// refreshDelay is how long to wait before renewing a token that expires at
// exp: until RefreshAhead before it, or half the time left if shorter.
func (c *Client) refreshDelay(exp time.Time) time.Duration {
	left := time.Until(exp)
	ahead := min(c.cfg.RefreshAhead, left/2)
	return max(left-ahead, minRefreshDelay)
}

// refreshOnce gets a token from TokenFunc and renews the connection's.
func (c *Client) refreshOnce() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()
	token, err := c.cfg.TokenFunc(ctx)
	if err == nil {
		var in time.Duration
		if in, err = c.Refresh(ctx, token); err == nil {
			c.emit(Event{Type: EventTokenRefreshed, ExpiresIn: in})
			return in, nil
		}
	} else {
		err = fmt.Errorf("tablecast: token: %w", err)
	}
	if c.ctx.Err() == nil && !errors.Is(err, ErrNotConnected) {
		c.log.Warn("tablecast: token refresh failed", "err", err)
		c.emit(Event{Type: EventTokenRefreshFailed, Err: err})
	}
	return 0, err
}
