package browser

import (
	"path/filepath"
	"testing"
	"time"
)

// TestJSClient runs the JavaScript client's tests (clients/js/test) under
// Node's test runner against a real server.
func TestJSClient(t *testing.T) {
	root := repoRoot(t)
	tc := newTablecast(t)
	runNode(t, tc, filepath.Join(root, "clients", "js"), 2*time.Minute, nil,
		"--experimental-websocket", "--test", "--test-reporter=tap", "test/client.test.js", "test/retry.test.js")
}
