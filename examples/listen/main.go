// Command listen subscribes to a tablecast channel with the Go client and
// prints every message it receives, one JSON object per line. It reconnects
// and resumes from the last offset by itself.
//
//	go run ./examples/listen -url ws://localhost:3000/api/ws/socket -token "$TOKEN" -collection news
//
// -url is the server's socket (the default is a dev server on port 3000);
// -token defaults to $TOKEN.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/tablecast/tablecast/pkg/client"
)

func main() {
	url := flag.String("url", "ws://localhost:3000/api/ws/socket", "socket endpoint")
	token := flag.String("token", os.Getenv("TOKEN"), "JWT (default $TOKEN)")
	collection := flag.String("collection", "news", "collection to subscribe to")
	document := flag.String("document", "", "document (optional)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := client.Dial(ctx, client.Config{
		URL:       *url,
		Token:     *token,
		TokenMode: client.TokenInConnect, // the token never appears in a URL
		Reconnect: true,
		OnEvent: func(e client.Event) {
			switch e.Type {
			case client.EventDisconnected:
				log.Printf("disconnected: %d %s", e.Code, e.Reason)
			case client.EventReconnecting:
				log.Printf("reconnecting in %s (attempt %d)", e.Delay.Round(time.Millisecond), e.Attempt)
			case client.EventRecovered, client.EventNotRecovered:
				log.Printf("resubscribed to %s at offset %d: recovered=%v", e.Collection, e.Result.Offset, e.Result.Recovered)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	info := c.Info()
	fmt.Printf("connected as %s (connection %s)\n", info.UserID, info.ConnectionID)
	res, err := c.Subscribe(ctx, *collection, *document)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("subscribed to %s at offset %d, epoch %s\n", *collection, res.Offset, res.Epoch)
	out := json.NewEncoder(os.Stdout)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			log.Fatal(c.Err())
		case m := <-c.Messages():
			_ = out.Encode(m)
		}
	}
}
