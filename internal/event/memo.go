package event

import "encoding/json"

// Memoizer keeps what is derived from one event, once per node whatever
// the number of dialects rendering it: the hub's publication is one
// (hub.Publication.Memo). The contract names only the method, so that it
// needs no import of the hub.
type Memoizer interface {
	Memo(key any, derive func() (any, error)) (any, error)
}

type changesKey struct{}

type submitKey struct{}

// MemoChanges returns DocChanges of the event (typ, data), derived once
// per m. The result is shared: callers must not modify it.
func MemoChanges(m Memoizer, typ string, data []byte) ([]DocChange, error) {
	v, err := m.Memo(changesKey{}, func() (any, error) { return DocChanges(typ, data) })
	changes, _ := v.([]DocChange)
	return changes, err
}

// MemoSubmit returns the submit that made the event, read from the head
// of its payload (Submit) once per m: zero for a REST write.
func MemoSubmit(m Memoizer, data []byte) SubmitMeta {
	v, _ := m.Memo(submitKey{}, func() (any, error) { return Submit(data), nil })
	s, _ := v.(SubmitMeta)
	return s
}

// PausedTable reports whether the event (typ, data) is webhook_paused,
// with the table it concerns.
func PausedTable(typ string, data []byte) (tableID int64, ok bool) {
	if typ != EventWebhookPaused {
		return 0, false
	}
	var meta TableMeta
	if json.Unmarshal(data, &meta) != nil || meta.TableID <= 0 {
		return 0, false
	}
	return meta.TableID, true
}
