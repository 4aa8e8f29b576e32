package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAdminTopChannels: GET /api/ws/channels lists the channels with the
// most subscribers, behind the API key.
func TestAdminTopChannels(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	a := tn.dialUser(t, "alice", "*")
	b := tn.dialUser(t, "bob", "*")
	subscribe(t, a, "news", "")
	subscribe(t, b, "news", "")
	subscribe(t, a, "sport", "match-1")

	var got struct {
		NodeID   string `json:"node_id"`
		Channels []struct {
			Channel     string `json:"channel"`
			Subscribers int    `json:"subscribers"`
		} `json:"channels"`
	}
	tn.adminOK(t, "GET", "/api/ws/channels", nil, &got)
	if got.NodeID != testNodeID || len(got.Channels) != 2 ||
		got.Channels[0].Channel != "news" || got.Channels[0].Subscribers != 2 ||
		got.Channels[1].Channel != "sport.match-1" || got.Channels[1].Subscribers != 1 {
		t.Errorf("channels: %+v", got)
	}
	tn.adminOK(t, "GET", "/api/ws/channels?limit=1", nil, &got)
	if len(got.Channels) != 1 {
		t.Errorf("limit=1: %+v", got)
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?limit=1001"} {
		if status, body := tn.admin(t, "GET", "/api/ws/channels"+q, nil); status != http.StatusBadRequest || !strings.Contains(string(body), `"limit"`) {
			t.Errorf("%s: %d %s", q, status, body)
		}
	}
	if status, _, _ := tn.adminRaw(t, "GET", "/api/ws/channels", "Bearer wrong", nil); status != http.StatusUnauthorized {
		t.Errorf("a wrong key: %d", status)
	}
}

// TestDevTokenEndpoint: a dev server mints tokens its REST API and socket
// accept; any other server answers 404.
func TestDevTokenEndpoint(t *testing.T) {
	t.Parallel()
	post := func(tn *testNode, body string) (int, []byte) {
		resp, err := tn.hc.Post(tn.httpURL+"/api/dev/token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	prod := startNode(t)
	if status, body := post(prod, `{"user_id":"alice"}`); status != http.StatusNotFound {
		t.Errorf("outside dev mode: %d %s, want 404", status, body)
	}

	dev := startNode(t, withDev())
	status, body := post(dev, `{"user_id":"alice","name":"Alice"}`)
	if status != http.StatusOK {
		t.Fatalf("dev mode: %d %s", status, body)
	}
	var ans struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.Token == "" {
		t.Fatalf("answer %s: %v", body, err)
	}
	req, _ := http.NewRequest("POST", dev.httpURL+"/api/workspaces", strings.NewReader(`{"name":"Mine"}`))
	req.Header.Set("Authorization", "Bearer "+ans.Token)
	resp, err := dev.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the minted token on the REST API: %d", resp.StatusCode)
	}
	if status, body := post(dev, `{"user_id":""}`); status != http.StatusBadRequest {
		t.Errorf("an empty user: %d %s", status, body)
	}
}

// TestWebPagesServed: the node serves the web app and the admin page, and
// the API's own 404s stay JSON.
func TestWebPagesServed(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	for path, want := range map[string]string{
		"/":                    `role="grid"`,
		"/admin":               "API key",
		"/static/tablecast.js": "export class TablecastClient",
	} {
		resp, err := tn.hc.Get(tn.httpURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, body has %q: %v", path, resp.StatusCode, want, strings.Contains(string(b), want))
		}
	}
	resp, err := tn.hc.Get(tn.httpURL + "/api/tables/1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), `"error"`) {
		t.Errorf("an unknown API path: %d %s", resp.StatusCode, b)
	}
}
