package client

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// noLeaks checks, after every other cleanup (servers and clients closed),
// that no goroutine is left.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	t.Cleanup(cancel)
	return ctx
}

// async runs f in a goroutine and returns its error on a channel.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func wait(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(failsafe):
		t.Fatal("call did not return")
		return nil
	}
}

func recv(t *testing.T, c *Client) Message {
	t.Helper()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("Messages closed: %v", c.Err())
		}
		return m
	case <-time.After(failsafe):
		t.Fatal("no message")
		return Message{}
	}
}

func waitDone(t *testing.T, c *Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(failsafe):
		t.Fatal("client not done")
	}
}

// events records OnEvent calls.
type events chan Event

func (ev events) on(e Event) { ev <- e }

// next returns the next event of type typ, skipping others.
func (ev events) next(t *testing.T, typ EventType) Event {
	t.Helper()
	timeout := time.After(failsafe)
	for {
		select {
		case e := <-ev:
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

func since(t *testing.T, m Message) Position {
	t.Helper()
	var d struct {
		Since *Position `json:"since"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil || d.Since == nil {
		t.Fatalf("subscribe without since: %s", m.Data)
	}
	return *d.Since
}
