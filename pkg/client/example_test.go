package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

// Connect, subscribe to a table's records and print its changes as they
// are written through the REST API. With Reconnect, a lost connection is
// re-established and every subscription resumes where it was; OnEvent says
// when the server could not replay what was missed.
func Example() {
	srv := startExampleServer() // a real server on a loopback port
	defer srv.Close()
	token := srv.Token("alice")
	table, field := srv.Table(token)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		URL:       srv.URL, // e.g. ws://localhost:3000/api/ws/socket
		Token:     token,
		TokenMode: client.TokenInConnect, // the token never appears in a URL
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
	fmt.Println("connected as", c.Info().UserID)

	records := fmt.Sprintf("record_%d", table)
	sub, err := c.Subscribe(ctx, records, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("subscribed to %s at offset %d\n", records, sub.Offset)

	// Another program writes a row, then changes it.
	var row struct{ ID int64 }
	srv.REST(token, "POST", fmt.Sprintf("/api/tables/%d/rows", table), fmt.Sprintf(`{"fields":{"%d":"Write the docs"}}`, field), &row)
	srv.REST(token, "PATCH", fmt.Sprintf("/api/tables/%d/rows/%d", table, row.ID), fmt.Sprintf(`{"fields":{"%d":"Write the docs today"}}`, field), nil)

	for i := 0; i < 2; i++ {
		m := <-c.Messages()
		var op struct {
			V      int64           `json:"v"`
			Create json.RawMessage `json:"create"`
			Op     json.RawMessage `json:"op"`
		}
		_ = json.Unmarshal(m.Data, &op)
		if op.Create != nil {
			fmt.Printf("%s: row %s created at offset %d: %s\n", m.Type, m.Document, *m.Offset, op.Create)
		} else {
			fmt.Printf("%s: row %s v%d at offset %d: %s\n", m.Type, m.Document, op.V, *m.Offset, op.Op)
		}
	}
	// Output:
	// connected as alice
	// subscribed to record_1 at offset 0
	// op: row 1 created at offset 1: {"id":1,"order":"1.00000000000000000000","fields":{"1":"Write the docs"}}
	// op: row 1 v1 at offset 2: [{"p":["fields","1"],"od":"Write the docs","oi":"Write the docs today"}]
}

// Read a table through REST, then subscribe from the offset the read
// answered: a change made in between is replayed first, so nothing falls
// between the read and the subscription.
func ExampleClient_SubscribeFrom() {
	srv := startExampleServer()
	defer srv.Close()
	token := srv.Token("alice")
	table, field := srv.Table(token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var page struct {
		Results []json.RawMessage `json:"results"`
		Offset  uint64            `json:"offset"`
	}
	srv.REST(token, "GET", fmt.Sprintf("/api/tables/%d/rows", table), "", &page)
	fmt.Printf("read %d rows at offset %d\n", len(page.Results), page.Offset)

	// A write lands between the read and the subscription.
	srv.REST(token, "POST", fmt.Sprintf("/api/tables/%d/rows", table), fmt.Sprintf(`{"fields":{"%d":"meanwhile"}}`, field), nil)

	c, err := client.Dial(ctx, client.Config{URL: srv.URL, Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Every table stream's epoch is "outbox1" (docs/protocol.md).
	res, err := c.SubscribeFrom(ctx, fmt.Sprintf("record_%d", table), "", client.Position{Offset: page.Offset, Epoch: "outbox1"})
	if err != nil {
		log.Fatal(err)
	}
	m := <-c.Messages() // replayed before the reply
	fmt.Printf("replayed: %s on row %s at offset %d\n", m.Type, m.Document, *m.Offset)
	fmt.Printf("recovered=%v, now at offset %d\n", res.Recovered, res.Offset)
	// Output:
	// read 0 rows at offset 0
	// replayed: op on row 1 at offset 1
	// recovered=true, now at offset 1
}

// Submit a json0 op to a record with the generic Request: the reply is
// the version after it; a version ahead of the document is a 409.
func ExampleClient_Request() {
	srv := startExampleServer()
	defer srv.Close()
	token := srv.Token("alice")
	table, field := srv.Table(token)
	var row struct {
		ID      int64
		Version int64
	}
	srv.REST(token, "POST", fmt.Sprintf("/api/tables/%d/rows", table), fmt.Sprintf(`{"fields":{"%d":"draft"}}`, field), &row)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: srv.URL, Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	submit := func(v int64) (client.Message, error) {
		op, _ := json.Marshal(map[string]any{
			"v":  v,
			"op": []any{map[string]any{"p": []any{"fields", fmt.Sprint(field)}, "od": "draft", "oi": "final"}},
		})
		return c.Request(ctx, client.Message{
			Type:       client.TypeSubmit,
			Collection: fmt.Sprintf("record_%d", table),
			Document:   fmt.Sprint(row.ID),
			Data:       op,
		})
	}
	reply, err := submit(row.Version)
	if err != nil {
		log.Fatal(err)
	}
	var ack struct{ V int64 }
	_ = json.Unmarshal(reply.Data, &ack)
	fmt.Printf("applied at version %d; now at %d\n", row.Version, ack.V)

	_, err = submit(ack.V + 5)
	var serr *client.ServerError
	if errors.As(err, &serr) && serr.Code == 409 {
		fmt.Println("version ahead of the document: 409, refetch and retry")
	}
	// Output:
	// applied at version 1; now at 2
	// version ahead of the document: 409, refetch and retry
}
