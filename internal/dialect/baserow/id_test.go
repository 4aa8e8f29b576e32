package baserow

import (
	"errors"
	"testing"
	"testing/iotest"
)

// A failing random source is an error for the caller (the socket is
// refused), not a panic.
func TestUUIDRandomFailure(t *testing.T) {
	broken := errors.New("no entropy")
	saved := random
	random = iotest.ErrReader(broken)
	t.Cleanup(func() { random = saved })
	if id, err := newUUID(); !errors.Is(err, broken) || id != "" {
		t.Fatalf("newUUID() = %q, %v; want the source's error", id, err)
	}
}
