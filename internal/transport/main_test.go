package transport

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts, the Poller's readers and loop included,
// has ended when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
