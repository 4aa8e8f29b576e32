package service

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/store"
)

// Ops on field_T and view_T documents change what PATCH /api/fields/{f}
// and PATCH /api/views/{v} can change, validated by the same code. The
// result must be the document as stored: a change the server would
// complete on its own (a type change that resets options, a view made
// public that gets a slug) is refused, since the submitting client, which
// applied its op as sent, would hold something else. Publishing a view
// and its password stay REST-only.

var (
	fieldOpKeys = []string{"name", "type", "options", "primary", "order"}
	viewOpKeys  = []string{"name", "type", "filter_type", "filters", "sorts", "hidden_field_ids"}
)

// field submits to a field_T document.
func (sd *submitDoc) field() (event.SubmitResult, error) {
	w, sub := sd.w, sd.sub
	sc, err := loadSchema(w.ctx, w, sd.t.ID)
	if err != nil {
		return event.SubmitResult{}, err
	}
	f := sc.byID[sub.DocID]
	if f == nil {
		return event.SubmitResult{}, sd.missing()
	}
	v, dup, n, err := sd.catchUp(f.Version)
	if err != nil || dup != nil {
		return deref(dup), err
	}
	first := len(w.events)
	if sub.Del {
		err := w.deleteField(sd.t, f)
		return event.SubmitResult{V: v, Offset: sd.eventAt(first), Transformed: n}, err
	}
	before, err := event.DocData(*f)
	if err != nil {
		return event.SubmitResult{}, err
	}
	after, patch, opRaw, err := sd.patch(before, fieldOpKeys, "a field")
	if err != nil {
		return event.SubmitResult{}, err
	}
	var in FieldPatch
	if err := strictDecode(patch, &in); err != nil {
		return event.SubmitResult{}, err
	}
	w.applied = sd.op
	out, err := w.updateField(sd.t, sc, f, in, opRaw)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if err := storedAsApplied(out, after, "field"); err != nil {
		return event.SubmitResult{}, err
	}
	return event.SubmitResult{V: v, Offset: sd.eventAt(first), Transformed: n}, nil
}

// view submits to a view_T document.
func (sd *submitDoc) view(s *Service) (event.SubmitResult, error) {
	w, sub := sd.w, sd.sub
	sv, err := w.View(w.ctx, sub.DocID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sv.TableID != sd.t.ID) {
		return event.SubmitResult{}, sd.missing()
	}
	if err != nil {
		return event.SubmitResult{}, err
	}
	v, dup, n, err := sd.catchUp(sv.Version)
	if err != nil || dup != nil {
		return deref(dup), err
	}
	first := len(w.events)
	if sub.Del {
		err := w.deleteView(sd.t, sv)
		return event.SubmitResult{V: v, Offset: sd.eventAt(first), Transformed: n}, err
	}
	tv, err := ViewFromStore(sv)
	if err != nil {
		return event.SubmitResult{}, err
	}
	before, err := event.DocData(*tv)
	if err != nil {
		return event.SubmitResult{}, err
	}
	after, patch, opRaw, err := sd.patch(before, viewOpKeys, "a view")
	if err != nil {
		return event.SubmitResult{}, err
	}
	var in ViewPatch
	if err := strictDecode(patch, &in); err != nil {
		return event.SubmitResult{}, err
	}
	w.applied = sd.op
	out, err := s.updateView(w.writeTx, sd.t, sv, in, opRaw)
	if err != nil {
		return event.SubmitResult{}, err
	}
	if err := storedAsApplied(out, after, "view"); err != nil {
		return event.SubmitResult{}, err
	}
	return event.SubmitResult{V: v, Offset: sd.eventAt(first), Transformed: n}, nil
}

// patch applies the op to a document's data and returns the data after,
// the REST patch of the members it touched, and the op as applied.
func (sd *submitDoc) patch(data json.RawMessage, allowed []string, what string) (any, json.RawMessage, json.RawMessage, error) {
	touched, err := topLevelKeys(sd.op, allowed, what)
	if err != nil {
		return nil, nil, nil, err
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, nil, err
	}
	after, err := sd.apply(doc)
	if err != nil {
		return nil, nil, nil, err
	}
	am := after.(map[string]any)
	patch := make(map[string]any, len(touched))
	for k := range touched {
		v, ok := am[k]
		if !ok {
			return nil, nil, nil, validation(k, "cannot be removed")
		}
		patch[k] = v
	}
	pb, err := json.Marshal(patch)
	if err != nil {
		return nil, nil, nil, err
	}
	opRaw, err := opJSON(sd.op)
	return after, pb, opRaw, err
}

// strictDecode decodes a patch, refusing what the REST body would refuse.
func strictDecode(b json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return validation("op", "makes a document the API refuses: "+jsonMessage(err))
	}
	return nil
}

// storedAsApplied checks that what was stored is what the op made.
func storedAsApplied(stored any, applied any, what string) error {
	b, err := event.DocData(stored)
	if err != nil {
		return err
	}
	var got any
	if err := json.Unmarshal(b, &got); err != nil {
		return err
	}
	if !json0.Equal(got, applied) {
		return validation("op", "the "+what+" would be stored as "+string(b)+
			": an op must leave the document in its stored form (change it through the REST API)")
	}
	return nil
}

// eventAt is the offset of the event the submit appended at index i of
// the transaction's events (0 when it appended none).
func (sd *submitDoc) eventAt(i int) uint64 {
	if i < len(sd.w.events) {
		return sd.w.events[i].Offset
	}
	return 0
}
