package client

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestAutoRefresh: with a TokenFunc, the client renews the token ahead of
// the exp the server reported (here 1 s: halfway), sends TokenFunc's
// token in a refresh message, tries again after a refusal, and reports
// both through OnEvent. The real server's side is test/e2e's
// TestClientRenewsToken.
func TestAutoRefresh(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{expiresIn: 1})
	tokens := make(chan string, 3)
	tokens <- "t1"
	tokens <- "t2"
	tokens <- "t3"
	events := make(chan Event, 16)
	c := dial(t, Config{
		URL:       fs.URL,
		TokenFunc: func(context.Context) (string, error) { return <-tokens, nil },
		OnEvent:   func(e Event) { events <- e },
	})
	if got := c.Info().ExpiresIn; got != 1 {
		t.Errorf("Info().ExpiresIn = %v, want 1", got)
	}
	sc := fs.accept(t)
	refreshToken := func(m Message) string {
		var d struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatalf("refresh data %s: %v", m.Data, err)
		}
		return d.Token
	}
	m := sc.expect(t, TypeRefresh)
	if got := refreshToken(m); got != "t2" {
		t.Errorf("first refresh token %q, want t2", got)
	}
	sc.send(Message{Type: TypeError, ID: m.ID, Error: &ErrorBody{Code: 401, Message: "invalid token"}})
	m = sc.expect(t, TypeRefresh)
	if got := refreshToken(m); got != "t3" {
		t.Errorf("second refresh token %q, want t3", got)
	}
	sc.reply(m, map[string]any{"expires_in": 3600})

	want := []EventType{EventConnected, EventTokenRefreshFailed, EventTokenRefreshed}
	for i, w := range want {
		select {
		case e := <-events:
			if e.Type != w {
				t.Fatalf("event %d: %v, want %v", i, e.Type, w)
			}
			var se *ServerError
			if e.Type == EventTokenRefreshFailed && (!errors.As(e.Err, &se) || se.Code != 401) {
				t.Errorf("EventTokenRefreshFailed.Err = %v, want ServerError 401", e.Err)
			}
			if e.Type == EventTokenRefreshed && e.ExpiresIn != time.Hour {
				t.Errorf("EventTokenRefreshed.ExpiresIn = %v, want 1h", e.ExpiresIn)
			}
		case <-time.After(failsafe):
			t.Fatalf("no event %v", w)
		}
	}
}

// TestRefreshByHand: Client.Refresh sends the token and returns the
// reply's expires_in; without TokenFunc nothing is renewed by itself.
func TestRefreshByHand(t *testing.T) {
	noLeaks(t)
	fs := newFakeServer(t, fakeOptions{expiresIn: 0.05})
	c := dial(t, Config{URL: fs.URL, Token: "u1"})
	sc := fs.accept(t)
	done := make(chan struct{})
	var in time.Duration
	var err error
	go func() {
		defer close(done)
		in, err = c.Refresh(context.Background(), "new")
	}()
	m := sc.expect(t, TypeRefresh) // the first message: no automatic refresh came before it
	if string(m.Data) != `{"token":"new"}` {
		t.Errorf("refresh data %s", m.Data)
	}
	sc.reply(m, map[string]any{"expires_in": 1.5})
	<-done
	if err != nil || in != 1500*time.Millisecond {
		t.Errorf("Refresh = %v, %v; want 1.5s", in, err)
	}
}
