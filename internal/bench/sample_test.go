package bench

import (
	"context"
	"testing"
	"time"
)

func TestSettle(t *testing.T) {
	const kib = 1 << 10
	for _, tc := range []struct {
		name     string
		readings []float64
		want     float64
	}{
		{"steady at once", []float64{1000 * kib, 1010 * kib, 1020 * kib, 1030 * kib, 9999 * kib}, 1030 * kib},
		{"a drop restarts the stretch", []float64{8000 * kib, 8000 * kib, 4000 * kib, 4010 * kib, 4020 * kib, 4030 * kib, 1}, 4030 * kib},
		{"small drift within 64 KiB of the stretch's start", []float64{100 * kib, 140 * kib, 160 * kib, 120 * kib, 1}, 120 * kib},
		{"never steady: the last reading at the bound", []float64{0, 100 * kib, 200 * kib, 300 * kib, 400 * kib, 500 * kib, 600 * kib, 700 * kib, 800 * kib, 900 * kib, 1000 * kib, 1100 * kib}, 1000 * kib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			read := func() (float64, error) {
				v := tc.readings[i]
				i++
				return v, nil
			}
			const step = time.Microsecond
			if got := settle(context.Background(), read, step, 3*step, 10*step); got != tc.want {
				t.Errorf("settle = %v KiB, want %v KiB", got/kib, tc.want/kib)
			}
		})
	}
}
