package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWriteLoadCountsWrites: Busy is nil while no write is in flight, and
// its channel closes when the last one ends; reads are not counted.
func TestWriteLoadCountsWrites(t *testing.T) {
	var l writeLoad
	if l.Busy() != nil {
		t.Fatal("busy with nothing in flight")
	}
	l.enter()
	l.enter()
	busy := l.Busy()
	if busy == nil {
		t.Fatal("not busy with two writes in flight")
	}
	l.leave()
	select {
	case <-busy:
		t.Fatal("idle with a write in flight")
	default:
	}
	l.leave()
	<-busy // closed: nothing in flight
	if l.Busy() != nil {
		t.Fatal("busy after every write ended")
	}

	var during <-chan struct{}
	h := l.countWrites(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { during = l.Busy() }))
	for _, c := range []struct {
		method string
		counts bool
	}{
		{http.MethodGet, false}, {http.MethodHead, false}, {http.MethodOptions, false},
		{http.MethodPost, true}, {http.MethodPatch, true}, {http.MethodPut, true}, {http.MethodDelete, true},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, "/api/tables/1/rows", nil))
		if (during != nil) != c.counts {
			t.Errorf("%s counted %v, want %v", c.method, during != nil, c.counts)
		}
		if l.Busy() != nil {
			t.Errorf("%s: still busy after the request", c.method)
		}
	}
}
