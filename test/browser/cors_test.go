package browser

import (
	"net"
	"net/http"
	"testing"
	"time"

	jsclient "github.com/tablecast/tablecast/clients/js"
	"github.com/tablecast/tablecast/internal/auth"
)

// corsPage is the page of another web app: it calls tablecast's REST and
// admin APIs with fetch (the token in Authorization, JSON bodies, the
// X-WebSocket-Id header: every request needs a preflight) and listens on
// tablecast's socket with the JavaScript client, served from its own origin.
const corsPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>another app</title></head>
<body><p id="state">loading</p>
<script type="module">
import { connect } from './tablecast.js';
const q = new URLSearchParams(location.search);
const api = q.get('api');
const token = q.get('token');
async function call(method, path, body, auth = token) {
  const res = await fetch(api + path, {
    method,
    headers: { Authorization: 'Bearer ' + auth, 'Content-Type': 'application/json', 'X-WebSocket-Id': 'another-socket' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(method + ' ' + path + ': ' + res.status + ' ' + (await res.text()));
  return res.status === 204 ? null : res.json();
}
window.call = call;
window.writeAndListen = async () => {
  const ws = await call('POST', '/api/workspaces', { name: 'Cross-origin' });
  const table = await call('POST', '/api/workspaces/' + ws.id + '/tables', { name: 'Tasks' });
  const field = String(table.fields[0].id);
  const client = await connect({ url: api.replace(/^http/, 'ws') + '/api/ws/socket', token });
  const ops = [];
  let arrived;
  const three = new Promise((resolve) => { arrived = resolve; });
  client.on('op', (m) => { ops.push(m.data); if (ops.length === 3) arrived(); });
  await client.subscribe('record_' + table.id);
  const row = await call('POST', '/api/tables/' + table.id + '/rows', { fields: { [field]: 'written from another origin' } });
  await call('PATCH', '/api/tables/' + table.id + '/rows/' + row.id, { fields: { [field]: 'edited from another origin' } });
  await call('DELETE', '/api/tables/' + table.id + '/rows/' + row.id);
  await three;
  client.close();
  document.getElementById('state').textContent = 'done';
  return { field, row: row.id, ops };
};
window.tryRead = async () => {
  try {
    await fetch(api + '/api/workspaces', { headers: { Authorization: 'Bearer ' + token } });
    return 'read';
  } catch (e) {
    return 'blocked: ' + e.name;
  }
};
document.getElementById('state').textContent = 'ready';
</script></body></html>`

// servePage serves the other app (its page and the client) on ln.
func servePage(t *testing.T, ln net.Listener) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cors.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(corsPage))
	})
	mux.HandleFunc("GET /tablecast.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(jsclient.Module)
	})
	mux.Handle("GET /tablecast/", http.StripPrefix("/tablecast/", http.FileServerFS(jsclient.Parts())))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/cors.html"
}

// TestBrowserCORS runs cors.test.mjs: a page served from another origin
// (127.0.0.2, listed in TABLECAST_ALLOWED_ORIGINS) creates a workspace, a
// table and a row, edits and deletes it through REST, reads the admin
// API, and sees the changes arrive on its socket; a page from an origin
// not listed (127.0.0.3) is refused.
func TestBrowserCORS(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser suite is not short")
	}
	dir, chromium := browserSetup(t)
	allowedLn, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		need(t, "cannot listen on 127.0.0.2 (another loopback address for a second origin): "+err.Error())
	}
	blockedLn, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		_ = allowedLn.Close()
		need(t, "cannot listen on 127.0.0.3: "+err.Error())
	}
	allowed := servePage(t, allowedLn)
	blocked := servePage(t, blockedLn)
	// Not dev mode: only the listed origin (and the server's own).
	tc := newTablecastWith(t, "--allowed-origins", "http://"+allowedLn.Addr().String())
	token, err := auth.Sign([]byte(testSecret), auth.Claims{Subject: "carol", Name: "Carol", ExpiresAt: time.Now().Add(time.Hour)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, tc, dir, 2*time.Minute, []string{
		"TABLECAST_CHROMIUM=" + chromium,
		"TABLECAST_PAGE=" + allowed,
		"TABLECAST_PAGE_BLOCKED=" + blocked,
		"TABLECAST_TOKEN=" + token,
	}, "--test", "--test-reporter=tap", "cors.test.mjs")
}
