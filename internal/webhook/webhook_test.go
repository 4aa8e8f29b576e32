package webhook

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

func TestSignatureVerifiesWithTheStandardLibrary(t *testing.T) {
	secret := NewSecret()
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	key, err := secretKey(secret)
	if err != nil || len(key) != secretBytes {
		t.Fatalf("key %d bytes, %v", len(key), err)
	}
	body := []byte(`{"event_id":"5:12"}`)
	at := time.Now()
	ts, sig := sign(key, "5:12", at, body)
	h := http.Header{}
	h.Set(HeaderID, "5:12")
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("the library does not verify our signature: %v", err)
	}
	want, _ := wh.Sign("5:12", at, body)
	if sig != want {
		t.Fatalf("signature %q, the library's %q", sig, want)
	}
	if wh.Verify([]byte(`{"event_id":"5:13"}`), h) == nil {
		t.Fatal("a changed body verifies")
	}
	for _, bad := range []string{"", "whsec_", "nope", "whsec_!!"} {
		if _, err := secretKey(bad); err == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"93.184.216.34", true}, {"2606:4700::1111", true},
		{"127.0.0.1", false}, {"127.8.9.10", false}, {"::1", false}, {"10.1.2.3", false}, {"172.16.0.1", false},
		{"192.168.1.1", false}, {"169.254.169.254", false}, {"fe80::1", false}, {"fd00:ec2::254", false},
		{"0.0.0.0", false}, {"::", false}, {"100.64.0.1", false}, {"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false}, {"224.0.0.1", false}, {"255.255.255.255", false}, {"64:ff9b::7f00:1", false},
	} {
		if got := publicAddr(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("publicAddr(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
	if err := safeControl("tcp4", "127.0.0.1:80", nil); err == nil {
		t.Error("the dial hook let 127.0.0.1 through")
	}
	if err := safeControl("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("the dial hook refused a public address: %v", err)
	}
}

func TestBackoffAndRetryAfter(t *testing.T) {
	d := &Dispatcher{cfg: Config{RetryBase: time.Second}}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: maxRetryWait} {
		for range 50 {
			if got := d.backoff(n, 0); got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, got, want/2, want)
			}
		}
	}
	if got := d.backoff(1, time.Minute); got != time.Minute {
		t.Fatalf("a longer Retry-After did not win: %v", got)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "7": 7 * time.Second, "x": 0, "-3": 0, "99999": maxRetryWait,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second, now.Add(-time.Hour).Format(http.TimeFormat): 0} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRenderAndCollect(t *testing.T) {
	rows := `[{"id":1,"order":"1.00000000000000000000","version":2,"fields":{"7":"a"},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}]`
	before := strings.Replace(rows, `"a"`, `"z"`, 1)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(off uint64, typ, payload string) store.Event {
		return store.Event{Stream: store.TableStream(5), Offset: off, Type: typ, Payload: json.RawMessage(payload), CreatedAt: at}
	}
	evs := []store.Event{
		ev(10, event.EventRowsUpdated, `{"table_id":5,"rows":`+rows+`,"rows_before":`+before+`,"updated_field_ids":[7]}`),
		ev(11, event.EventTableUpdated, `{"table_id":5}`),
		ev(12, event.EventFieldCreated, `{"table_id":5,"field":{"id":7,"name":"N"}}`),
		ev(13, event.EventRowsDeleted, `{"table_id":5,"row_ids":[1],"rows":`+rows+`}`),
	}
	p, ok, err := render(3, evs[0])
	if err != nil || !ok || p.EventID != "5:10" || p.EventType != "rows.updated" || p.WebhookID != 3 || p.Offset != 10 {
		t.Fatalf("render %+v %v %v", p, ok, err)
	}
	if !strings.Contains(string(p.Items), `"fields":{"7":"a"}`) || !strings.Contains(string(p.OldItems), `"fields":{"7":"z"}`) {
		t.Fatalf("items %s old %s", p.Items, p.OldItems)
	}
	if _, ok, _ := render(3, evs[1]); ok {
		t.Fatal("table_updated is sent")
	}
	h := store.Webhook{ID: 3, Events: json.RawMessage(`["rows.deleted","field.created"]`), Batch: 1}
	b, err := collect(h, renderAll(evs))
	if err != nil || len(b.payloads) != 1 || b.payloads[0].EventType != "field.created" || b.to != 12 || b.used != 3 {
		t.Fatalf("collect batch 1: %+v %v", b, err)
	}
	h.Batch = 10
	b, _ = collect(h, renderAll(evs))
	if len(b.payloads) != 2 || b.to != 13 {
		t.Fatalf("collect batch 10: %+v", b)
	}
	id, body, err := b.body(h)
	if err != nil || id != "5:12-13" || body[0] != '[' {
		t.Fatalf("batch body %s %s %v", id, body, err)
	}
	// The shared encoding behind the webhook's id is what json.Marshal of
	// the payloads gives, byte for byte.
	if want, _ := json.Marshal(b.payloads); string(body) != string(want) {
		t.Fatalf("batch body\n%s\nwant\n%s", body, want)
	}
	h.Batch = 1
	if _, one, _ := b.body(h); string(one) != string(must(json.Marshal(b.payloads[0]))) {
		t.Fatalf("body %s", one)
	}
	h.Batch = 10
	h.Events = json.RawMessage(`["*"]`)
	b, _ = collect(h, renderAll(evs[1:2]))
	if len(b.payloads) != 0 || b.to != 11 {
		t.Fatalf("an event no webhook gets still moves the cursor: %+v", b)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestRenderRingRendersOnce checks that a table's events read again (by
// another webhook of the table) reuse their rendering, and that an event
// that took the slot of an older one is rendered for itself.
func TestRenderRingRendersOnce(t *testing.T) {
	d := &Dispatcher{renders: map[int64]*renderRing{}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(off uint64, name string) store.Event {
		return store.Event{Stream: store.TableStream(5), Offset: off, Type: event.EventFieldCreated,
			Payload: json.RawMessage(`{"table_id":5,"field":{"id":7,"name":"` + name + `"}}`), CreatedAt: at}
	}
	first := d.render(5, []store.Event{ev(1, "a"), ev(2, "b")})
	again := d.render(5, []store.Event{ev(2, "changed")}) // offset 2 is the same event: kept
	if &again[0].tail[0] != &first[1].tail[0] || !strings.Contains(string(again[0].tail), `"b"`) {
		t.Fatalf("offset 2 rendered again: %s", again[0].tail)
	}
	later := d.render(5, []store.Event{ev(1+renderSpan, "c")}) // the slot of offset 1
	if !strings.Contains(string(later[0].tail), `"c"`) || later[0].offset != 1+renderSpan {
		t.Fatalf("offset %d: %s", 1+renderSpan, later[0].tail)
	}
	if other := d.render(6, []store.Event{ev(2, "d")}); !strings.Contains(string(other[0].tail), `"d"`) {
		t.Fatalf("another table shares the ring: %s", other[0].tail)
	}
	d.forget() // no workers: every ring goes
	if len(d.renders) != 0 {
		t.Fatalf("%d rings kept", len(d.renders))
	}
}

// TestKeptEventsAreConsecutive: the events taken from a table's ring
// without reading the outbox start right after the cursor and stop at the
// first one the ring does not hold.
func TestKeptEventsAreConsecutive(t *testing.T) {
	d := &Dispatcher{renders: map[int64]*renderRing{}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(off uint64) store.Event {
		return store.Event{Stream: store.TableStream(5), Offset: off, Type: event.EventFieldCreated,
			Payload: json.RawMessage(`{"table_id":5,"field":{"id":7}}`), CreatedAt: at}
	}
	d.render(5, []store.Event{ev(1), ev(2), ev(3), ev(5), ev(1 + renderSpan + 3)}) // 4's slot holds another
	offsets := func(rs []rendered) (o []uint64) {
		for _, r := range rs {
			o = append(o, r.offset)
		}
		return o
	}
	for _, c := range []struct {
		table       int64
		after       uint64
		limit       int
		want        []uint64
		description string
	}{
		{5, 0, 10, []uint64{1, 2, 3}, "up to the gap"},
		{5, 1, 1, []uint64{2}, "up to the limit"},
		{5, 3, 10, nil, "4 is not held"},
		{5, 4, 10, []uint64{5}, "after the gap"},
		{6, 0, 10, nil, "another table"},
	} {
		if got := offsets(d.kept(c.table, c.after, c.limit)); !slices.Equal(got, c.want) {
			t.Errorf("%s: kept(%d, %d, %d) = %v, want %v", c.description, c.table, c.after, c.limit, got, c.want)
		}
	}
}

// TestCallerFollowsTheSettings: a worker's caller is kept while the
// webhook's secret and headers stay, and made again when either changes.
func TestCallerFollowsTheSettings(t *testing.T) {
	var wk worker
	h := store.Webhook{ID: 1, Secret: NewSecret(), Headers: json.RawMessage(`{"x-app":"a"}`)}
	c := wk.caller(h)
	if c.mac == nil || c.header.Get("X-App") != "a" || c.header.Get("Content-Type") != "application/json" {
		t.Fatalf("caller %+v", c)
	}
	if wk.caller(h) != c {
		t.Fatal("the same settings made a new caller")
	}
	h.Headers = json.RawMessage(`{"x-app":"b"}`)
	if c2 := wk.caller(h); c2 == c || c2.header.Get("X-App") != "b" {
		t.Fatal("changed headers kept the old caller")
	}
	key, _ := secretKey(h.Secret)
	_, before := sign(key, "1:1", time.Unix(1, 0), []byte("{}"))
	if _, got := signWith(wk.caller(h).mac, "1:1", time.Unix(1, 0), []byte("{}")); got != before {
		t.Fatalf("kept HMAC signs %q, a new one %q", got, before)
	}
	h.Secret = NewSecret()
	if _, got := signWith(wk.caller(h).mac, "1:1", time.Unix(1, 0), []byte("{}")); got == before {
		t.Fatal("a rotated secret still signs with the old key")
	}
	h.Secret = "nope"
	if wk.caller(h).mac != nil {
		t.Fatal("an invalid secret has an HMAC")
	}
}
