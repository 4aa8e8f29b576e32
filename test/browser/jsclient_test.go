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
	// The secret lets the tests mint tokens with short lifetimes.
	runNode(t, tc, filepath.Join(root, "clients", "js"), 2*time.Minute, []string{"TABLECAST_TEST_JWT_SECRET=" + testSecret},
		"--experimental-websocket", "--test", "--test-reporter=tap", "test/client.test.js", "test/retry.test.js")
}
