package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/server"
)

// exampleServer is a real tablecast node on a loopback port, with an
// in-memory store, for the examples: they run against it, so their
// output is what a server prints.
type exampleServer struct {
	node   *server.Node
	URL    string // the native socket: ws://127.0.0.1:port/api/ws/socket
	base   string // http://127.0.0.1:port
	secret string
}

func startExampleServer() *exampleServer {
	const secret = "example-secret"
	cfg, err := config.Load([]string{"--jwt-secret", secret, "--database-url", "sqlite://:memory:"}, nil)
	if err != nil {
		panic(err)
	}
	node, err := server.New(context.Background(), cfg, server.Options{})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	if err := node.Start(context.Background(), ln); err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	return &exampleServer{node: node, URL: "ws://" + addr + "/api/ws/socket", base: "http://" + addr, secret: secret}
}

// Token mints a token for user, as the application's sign-in would.
func (s *exampleServer) Token(user string) string {
	tok, err := auth.Sign([]byte(s.secret), auth.Claims{Subject: user, ExpiresAt: time.Now().Add(time.Hour)}, time.Now())
	if err != nil {
		panic(err)
	}
	return tok
}

// REST calls the REST API as the token's user and decodes the answer into out.
func (s *exampleServer) REST(token, method, path, body string, out any) {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		panic(fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			panic(err)
		}
	}
}

// Table creates a workspace and a table as the token's user and returns
// the table's id and its primary field's id.
func (s *exampleServer) Table(token string) (tableID, fieldID int64) {
	var ws struct{ ID int64 }
	s.REST(token, "POST", "/api/workspaces", `{"name":"Acme"}`, &ws)
	var t struct {
		ID     int64
		Fields []struct{ ID int64 }
	}
	s.REST(token, "POST", fmt.Sprintf("/api/workspaces/%d/tables", ws.ID), `{"name":"Tasks"}`, &t)
	return t.ID, t.Fields[0].ID
}

func (s *exampleServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.node.Shutdown(ctx)
	http.DefaultClient.CloseIdleConnections()
}
