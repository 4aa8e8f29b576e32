package bench

import (
	"testing"
)

// TestPagesEndToEnd: a small pages run in-process: every socket gets
// exactly what its page shows, and the projection runs once per event.
func TestPagesEndToEnd(t *testing.T) {
	rep, out := runInProcess(t, "pages", "-n", "20", "--table-pages", "5", "--writes", "60", "--rate", "200", "--rows", "10")
	for key, want := range map[string]float64{
		"view_sockets": 20, "table_sockets": 5, "writes": 60, "events": 60, "projections": 60, "projections_per_event": 1,
		"definition_reads": 0, "table_exactly_once": 5, "view_exactly_once": 20, "missing": 0, "extra": 0,
		"clients_disconnected": 0,
	} {
		if got := value(t, rep, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if shown := value(t, rep, "view_frames_per_socket"); shown <= 0 || shown >= 60 {
		t.Errorf("the view shows %v of 60 writes; want some, not all (a filter and a hidden field)", shown)
	}
	if value(t, rep, "view_latency_p99_ms") <= 0 || value(t, rep, "table_latency_p99_ms") <= 0 {
		t.Error("no latency")
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems: %v\n%s", rep.Problems, out)
	}
}

func TestParsePageFrame(t *testing.T) {
	m := []byte(`{"type":"rows_updated","table_id":0,"rows_before_update":[{"id":4,"order":"1.00000000000000000000","field_2":"s3t100"}],` +
		`"rows":[{"id":4,"order":"1.00000000000000000000","field_1":"s1t5","field_2":"s9t123456"}],"metadata":{},"updated_field_ids":[2],"_event_id":77}`)
	f, err := parsePageFrame(m)
	if err != nil || f != (pageFrame{eventID: 77, row: 4, field: 2, seq: 9, stamp: 123456}) {
		t.Fatalf("parsePageFrame = %+v, %v", f, err)
	}
	for _, bad := range []string{
		`{"type":"rows_created","rows":[]}`,
		`{"type":"rows_updated","rows_before_update":[],"rows":[{"id":4,"field_2":"x"}],"updated_field_ids":[2],"_event_id":1}`,
		`{"type":"rows_updated","rows":[{"id":4,"field_2":"s1t2"}],"updated_field_ids":[2]}`,
	} {
		if _, err := parsePageFrame([]byte(bad)); err == nil {
			t.Errorf("parsePageFrame(%s) read it", bad)
		}
	}
}
