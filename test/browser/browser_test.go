package browser

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBrowser runs the browser suite (browser.test.mjs) against a real
// server: two users editing one table, presence, a REST write, the admin
// page, and a server restart while the pages are open. Screenshots go to
// test/browser/screenshots/.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser suite is not short")
	}
	dir, chromium := browserSetup(t)
	tc := newTablecast(t)
	runNode(t, tc, dir, 2*time.Minute, []string{
		"TABLECAST_CHROMIUM=" + chromium,
		"TABLECAST_SCREENSHOTS=" + filepath.Join(dir, "screenshots"),
	}, "--test", "--test-reporter=tap", "browser.test.mjs")
}

// browserSetup finds the browser suite's folder and Chromium, and stops the test (need) when Chromium or playwright-core is
// missing.
func browserSetup(t *testing.T) (dir, chromium string) {
	t.Helper()
	dir = filepath.Join(repoRoot(t), "test", "browser")
	chromium = os.Getenv("TABLECAST_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		need(t, "no chromium at "+chromium+" (apt-get install chromium, or set TABLECAST_CHROMIUM)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		need(t, "playwright-core is not installed: run npm ci in test/browser")
	}
	return dir, chromium
}
