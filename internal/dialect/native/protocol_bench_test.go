package native

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/hub"
)

func BenchmarkDecode(b *testing.B) {
	for _, tt := range []struct {
		name string
		msg  string
	}{
		{"ping", `{"type":"ping","id":"42","timestamp":1700000000000}`},
		{"subscribe_since", `{"type":"subscribe","id":"7","collection":"record_12","document":"rec1","data":{"since":{"offset":40,"epoch":"e3b0c4"}}}`},
		{"presence", `{"type":"presence","id":"9","collection":"news","data":{"cell":"A1","color":"#f80","name":"Alice"}}`},
		{"submit", `{"type":"submit","id":"118","collection":"record_3","document":"7","data":{"v":1403,"op":[{"p":["fields","12",517],"si":"q"}],"src":"c_8f2","seq":118}}`},
	} {
		b.Run(tt.name, func(b *testing.B) {
			payload := []byte(tt.msg)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for i := 0; i < b.N; i++ {
				if _, err := decode(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRender is the once-per-publication cost of the native frame.
func BenchmarkRender(b *testing.B) {
	data, _ := json.Marshal(map[string]any{"title": "a headline of some length", "n": 12345})
	p := &hub.Publication{Kind: hub.KindMessage, Collection: "news", Offset: 1234, Data: data, Time: time.Now()}
	r := Renderer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := r.Render(p); err != nil {
			b.Fatal(err)
		}
	}
}
