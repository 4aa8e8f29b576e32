package redisbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/hub"
	"github.com/tablecast/tablecast/internal/hub/brokertest"
	"github.com/tablecast/tablecast/internal/stream"
)

// samePublication reports how two publications differ in what travels.
func samePublication(a, b *hub.Publication) error {
	if !a.Time.Equal(b.Time) {
		return fmt.Errorf("time %v, want %v", a.Time, b.Time)
	}
	wa, wb := toWire(a), toWire(b)
	wa.Time, wb.Time = time.Time{}, time.Time{}
	if string(wa.Data) != string(wb.Data) {
		return fmt.Errorf("data %s, want %s", wa.Data, wb.Data)
	}
	wa.Data, wb.Data = nil, nil
	// An empty list and none travel alike (omitempty).
	if !slices.Equal(wa.Exclude, wb.Exclude) || !slices.Equal(wa.ExcludeUsers, wb.ExcludeUsers) {
		return fmt.Errorf("exclude %q %q, want %q %q", wa.Exclude, wa.ExcludeUsers, wb.Exclude, wb.ExcludeUsers)
	}
	wa.Exclude, wb.Exclude, wa.ExcludeUsers, wb.ExcludeUsers = nil, nil, nil, nil
	if !reflect.DeepEqual(wa, wb) {
		return fmt.Errorf("%+v, want %+v", wa, wb)
	}
	return nil
}

var at = time.Date(2026, 12, 6, 21, 0, 0, 123456789, time.UTC)

// publicationsOfEveryKind is one publication per kind, as the hub makes them.
var publicationsOfEveryKind = []*hub.Publication{
	{Kind: hub.KindMessage, Collection: "chat", Document: "d", Data: json.RawMessage(`{"text":"hi"}`), Exclude: []string{"c1"}, Time: at},
	{Kind: hub.KindOp, Collection: "docs", Document: "d1", Data: json.RawMessage(`[{"p":["a"],"oi":1}]`), Author: hub.Author{UserID: "u"}, Time: at},
	{Kind: hub.KindPresence, Collection: "room", Document: "d", Data: json.RawMessage(`{"x":1}`), Author: hub.Author{UserID: "u", SessionID: "s", ConnID: "c"}, Time: at},
	{Kind: hub.KindUser, Target: hub.Target{UserID: "u"}, Data: json.RawMessage(`"hello"`), Exclude: []string{"c1", "c2"}, ExcludeUsers: []string{"v"}, Time: at},
	{Kind: hub.KindDisconnect, Target: hub.Target{UserID: "u", ConnID: "c"}, Reconnect: true, Time: at},
	{Kind: hub.KindEvent, Stream: "table:7", Collection: "record_7", Offset: 42, Epoch: "outbox1", Event: "rows_created",
		Data: json.RawMessage(`{"rows":[]}`), Author: hub.Author{UserID: "u", ConnID: "c"}, Time: at},
}

// TestEnvelopeRoundTrip: every kind of publication comes out of an
// envelope as it went in, and a streamed one gets the offset and epoch the
// append script wrapped around it.
func TestEnvelopeRoundTrip(t *testing.T) {
	for _, sent := range publicationsOfEveryKind {
		t.Run(sent.Kind.String(), func(t *testing.T) {
			b, err := encodeEnvelope("n1", sent)
			if err != nil {
				t.Fatal(err)
			}
			env, err := decodeEnvelope(b)
			if err != nil {
				t.Fatal(err)
			}
			if env.Node != "n1" || env.Offset != 0 {
				t.Errorf("envelope %+v", env)
			}
			if err := samePublication(env.publication(), sent); err != nil {
				t.Errorf("through an envelope: %v", err)
			}

			// As the append script writes it (appendScript).
			payload, err := encodePublication(sent)
			if err != nil {
				t.Fatal(err)
			}
			if p, err := decodePublication(payload); err != nil || samePublication(p, sent) != nil {
				t.Errorf("publication alone: %+v %v", p, err)
			}
			entry := `{"o":9,"e":"ep","p":` + string(payload) + `}`
			env, err = decodeEnvelope([]byte(entry))
			if err != nil {
				t.Fatal(err)
			}
			p := env.publication()
			if p.Offset != 9 || p.Epoch != "ep" {
				t.Errorf("scripted entry: offset %d epoch %q", p.Offset, p.Epoch)
			}
			p.Offset, p.Epoch = sent.Offset, sent.Epoch
			if err := samePublication(p, sent); err != nil {
				t.Errorf("scripted entry: %v", err)
			}
		})
	}
}

// TestEnvelopeReadsThePreviousFormat: a message as the broker wrote it
// when it lived in package hub (a node of the previous version in the same
// Redis) decodes to the same publication.
func TestEnvelopeReadsThePreviousFormat(t *testing.T) {
	old := `{"n":"A","p":{"k":6,"st":"table:7","c":"record_7","o":42,"e":"outbox1","p":{"rows":[]},"ev":"rows_created","u":"u","i":"c","t":"2026-12-06T21:00:00.123456789Z"}}`
	env, err := decodeEnvelope([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if env.Node != "A" {
		t.Errorf("node %q", env.Node)
	}
	if err := samePublication(env.publication(), publicationsOfEveryKind[5]); err != nil {
		t.Error(err)
	}
}

// FuzzDecodeEnvelope: any bytes decode or fail without panicking, and what
// decodes encodes to an envelope that decodes to the same publication.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, p := range publicationsOfEveryKind {
		b, err := encodeEnvelope("n", p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"o":1,"e":"x","p":{"raw":"not json"}}`))
	f.Add([]byte(`{"p":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		p := env.publication()
		again, err := encodeEnvelope(env.Node, p)
		if err != nil {
			return // Data that is not JSON (a RawMessage decodes any value, but not every byte string re-encodes)
		}
		env2, err := decodeEnvelope(again)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", again, err)
		}
		if err := samePublication(env2.publication(), p); err != nil {
			t.Fatalf("re-encoded %s: %v", again, err)
		}
	})
}

// offlineBroker is a broker whose Redis never answers, started with rec as
// its node: enough for what it does with the messages it receives.
func offlineBroker(t *testing.T) (*Broker, *brokertest.Recorder) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	b, err := New(Config{Client: c, NodeID: "self"})
	if err != nil {
		t.Fatal(err)
	}
	rec := brokertest.NewRecorder()
	b.handler = rec
	return b, rec
}

func entry(t *testing.T, offset uint64, epoch string, p *hub.Publication) string {
	t.Helper()
	payload, err := encodePublication(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"o":%d,"e":%q,"p":%s}`, offset, epoch, payload)
}

// TestDispatchTellsWhatItIs: what arrives from Redis reaches the node as
// publications, except this node's own; a stream seen again in another
// epoch is a reset (its history is gone), and a publication already
// delivered is not delivered twice.
func TestDispatchTellsWhatItIs(t *testing.T) {
	b, rec := offlineBroker(t)
	msg := &hub.Publication{Kind: hub.KindMessage, Collection: "chat", Data: json.RawMessage(`1`), Time: at}
	own, err := encodeEnvelope("self", &hub.Publication{Kind: hub.KindUser, Target: hub.Target{UserID: "u"}, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	b.dispatch(string(own))            // this node's: delivered when published
	b.dispatch(entry(t, 1, "e1", msg)) // delivered
	b.dispatch(entry(t, 1, "e1", msg)) // again: dropped
	b.dispatch(entry(t, 1, "e2", msg)) // another epoch: reset, then delivered
	b.dispatch(`{"o":2,"e":"e2","p":`) // undecodable: logged, dropped
	b.dispatch(entry(t, 2, "e2", msg)) // delivered
	got := rec.Wait(t, 3)
	var offsets []string
	for _, p := range got {
		offsets = append(offsets, fmt.Sprintf("%s@%d/%s", p.Collection, p.Offset, p.Epoch))
	}
	if want := []string{"chat@1/e1", "chat@1/e2", "chat@2/e2"}; !slices.Equal(offsets, want) {
		t.Errorf("delivered %v, want %v", offsets, want)
	}
	if resyncs, resets := rec.WaitSignals(t, 1); len(resyncs) != 0 || !slices.Equal(resets, []string{"chat"}) {
		t.Errorf("resyncs %v, resets %v; want one reset of chat", resyncs, resets)
	}
}

// TestResyncAfterABreak: once a subscription is back after a break, a
// stream that had no app channel publication is handed to the hub to catch
// up (HandleResync), and an app channel whose history cannot be read is
// reset (HandleReset).
func TestResyncAfterABreak(t *testing.T) {
	b, rec := offlineBroker(t)
	b.subs["table:1"] = &redisSub{ready: make(chan struct{})}
	b.subs["chat"] = &redisSub{ready: make(chan struct{})}
	b.last["chat"] = streamPosition(3, "e1")
	b.markResync()
	ctx := context.Background()
	// A history read that fails (here before it is sent: Redis is away
	// anyway) resets the channel.
	failed, cancel := context.WithCancel(ctx)
	cancel()
	b.resyncChannel(ctx, b.channel("table:1"))
	b.resyncChannel(failed, b.channel("chat"))
	b.resyncChannel(ctx, b.channel("table:1")) // done already: nothing more
	resyncs, resets := rec.WaitSignals(t, 2)
	if !slices.Equal(resyncs, []string{"table:1"}) || !slices.Equal(resets, []string{"chat"}) {
		t.Errorf("resyncs %v, resets %v", resyncs, resets)
	}
	if n := rec.Count(); n != 0 {
		t.Errorf("%d publications", n)
	}
}

func streamPosition(offset uint64, epoch string) stream.Position {
	return stream.Position{Offset: offset, Epoch: epoch}
}
