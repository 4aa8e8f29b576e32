package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

// Connect, subscribe to a table's records and print its changes; after a
// reconnect the client resumes where it was, and says when it could not.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, client.Config{
		URL:       "ws://localhost:3000/api/ws/socket",
		Token:     os.Getenv("TABLECAST_TOKEN"),
		Reconnect: true,
		OnEvent: func(e client.Event) {
			// Called from the client's goroutine: do not block here.
			if e.Type == client.EventNotRecovered {
				log.Printf("changes to %s were missed: refetch it", e.Collection)
			}
		},
	})
	if err != nil {
		var refused *client.HandshakeError
		if errors.As(err, &refused) {
			log.Fatalf("refused: HTTP %d %s", refused.Status, refused.Message)
		}
		log.Fatal(err)
	}
	defer c.Close()
	log.Printf("connected as %s (%s)", c.Info().UserID, c.Info().ConnectionID)

	sub, err := c.Subscribe(ctx, "record_12", "")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("subscribed at offset %d", sub.Offset)

	for m := range c.Messages() {
		switch m.Type {
		case client.TypeOp:
			fmt.Printf("%s/%s changed (offset %d): %s\n", m.Collection, m.Document, *m.Offset, m.Data)
		case client.TypeDisconnect:
			fmt.Printf("server says: %s\n", m.Data)
		}
	}
	// Messages is closed: the client has stopped for good.
	var closed *client.CloseError
	if errors.As(c.Err(), &closed) {
		log.Printf("closed by the server: %d %s", closed.Code, closed.Reason)
	}
}

// Submit a json0 op to a record with the generic Request.
func ExampleClient_Request() {
	ctx := context.Background()
	c, err := client.Dial(ctx, client.Config{URL: "ws://localhost:3000/api/ws/socket", Token: os.Getenv("TABLECAST_TOKEN")})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	op, _ := json.Marshal(map[string]any{
		"v":  3,
		"op": []any{map[string]any{"p": []any{"fields", "fld1"}, "oi": "hello"}},
	})
	reply, err := c.Request(ctx, client.Message{
		Type:       client.TypeSubmit,
		Collection: "record_12",
		Document:   "rec1",
		Data:       op,
	})
	var serr *client.ServerError
	switch {
	case errors.As(err, &serr) && serr.Code == 409:
		log.Print("version conflict: refetch and retry")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("applied: %s\n", reply.Data)
	}
}
