package stream

import (
	"bytes"
	"context"
	"strconv"
	"testing"
)

func payload(i uint64) []byte { return []byte("m" + strconv.FormatUint(i, 10)) }

// checkEntries fails unless entries are exactly offsets first..last in order,
// each with payload(offset). last < first means no entries.
func checkEntries(t *testing.T, entries []Entry, first, last uint64) {
	t.Helper()
	want := 0
	if last >= first {
		want = int(last - first + 1)
	}
	if len(entries) != want {
		t.Fatalf("got %d entries, want %d (offsets %d..%d)", len(entries), want, first, last)
	}
	for i, e := range entries {
		off := first + uint64(i)
		if e.Offset != off || !bytes.Equal(e.Payload, payload(off)) {
			t.Fatalf("entry %d = {%d %q}, want {%d %q}", i, e.Offset, e.Payload, off, payload(off))
		}
	}
}

func mustAppend(t *testing.T, h History, name string, p []byte) Position {
	t.Helper()
	pos, err := h.Append(context.Background(), name, p)
	if err != nil {
		t.Fatalf("Append(%q): %v", name, err)
	}
	return pos
}

func mustTop(t *testing.T, h History, name string) Position {
	t.Helper()
	pos, err := h.Top(context.Background(), name)
	if err != nil {
		t.Fatalf("Top(%q): %v", name, err)
	}
	return pos
}
