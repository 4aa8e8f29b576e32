package event

import (
	"testing"
	"time"
)

func TestCompactRun(t *testing.T) {
	for _, tc := range []struct {
		bytes int
		want  int64
	}{
		{0, FullRowEvery},
		{1, FullRowEvery},
		{4 << 10, FullRowEvery},
		{4<<10 + 1, 2 * FullRowEvery},
		{100 << 10, 25 * FullRowEvery},
		{128 << 10, MaxCompactRun},
		{10 << 20, MaxCompactRun},
	} {
		if got := CompactRun(tc.bytes); got != tc.want {
			t.Errorf("CompactRun(%d) = %d, want %d", tc.bytes, got, tc.want)
		}
	}
}

func TestWholeRowAfter(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		v       int64
		at      time.Time
		wholeV  int64
		wholeAt time.Time
		bytes   int
		want    bool
	}{
		{"none known", 5, at, 0, time.Time{}, 10, true},
		{"next version", 6, at, 5, at, 10, false},
		{"narrow, 31 versions on", 36, at, 5, at, 10, false},
		{"narrow, 32 versions on", 37, at, 5, at, 10, true},
		{"100 KB, 799 versions on", 804, at, 5, at, 100 << 10, false},
		{"100 KB, 800 versions on", 805, at, 5, at, 100 << 10, true},
		{"just inside the span", 6, at.Add(CompactSpan - time.Microsecond), 5, at, 10, false},
		{"the span", 6, at.Add(CompactSpan), 5, at, 10, true},
	} {
		if got := WholeRowAfter(tc.v, tc.at, tc.wholeV, tc.wholeAt, tc.bytes); got != tc.want {
			t.Errorf("%s: WholeRowAfter = %v, want %v", tc.name, got, tc.want)
		}
	}
}
