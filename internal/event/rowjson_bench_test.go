package event

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/table"
)

// BenchmarkAppendValues: a row of 50 text cells of 2,000 characters (as
// `bench ops --wide`), written into a nil buffer as a row's write does.
func BenchmarkAppendValues(b *testing.B) {
	text, _ := json.Marshal(strings.Repeat("lorem ipsum ", 167)[:2000])
	vals := table.Values{}
	for i := range 50 {
		vals[int64(1000+i*7)] = text
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = AppendValues(nil, vals)
	}
}
