package sharedb

import (
	"errors"
	"testing"
	"testing/iotest"
)

// A failing random source is an error for the caller (the socket is
// refused), not a panic.
func TestSrcRandomFailure(t *testing.T) {
	broken := errors.New("no entropy")
	saved := random
	random = iotest.ErrReader(broken)
	t.Cleanup(func() { random = saved })
	if src, err := newSrc(); !errors.Is(err, broken) || src != "" {
		t.Fatalf("newSrc() = %q, %v; want the source's error", src, err)
	}
	random = saved
	src, err := newSrc()
	if err != nil || len(src) != 32 {
		t.Fatalf("newSrc() = %q, %v; want 32 hex digits", src, err)
	}
}
