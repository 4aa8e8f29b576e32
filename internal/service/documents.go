package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/store"
)

// Reads of versioned documents (docchanges.go) for the dialects that hold
// documents by version (ShareDB): a document's snapshot with the stream
// offset it was read at, its logged changes since a version, and its
// snapshot at an earlier version or time rebuilt from the op log.

// maxReplayOps bounds the op log entries read to rebuild an old snapshot
// or to find a deleted document's last version.
const maxReplayOps = 10000

// docCollection reads a document collection: the kind and the table (the
// workspace for table_W).
func docCollection(col string) (kind string, id int64, err error) {
	c, ok := event.ParseCollection(col)
	if !ok {
		return "", 0, validation("collection", "must be record_<table id>, field_<table id>, view_<table id> or table_<workspace id>")
	}
	return c.Kind.String(), c.ID, nil
}

// access checks that the user may read the collection (any member).
func docAccess(ctx context.Context, r store.Reader, user, kind string, id int64) error {
	if kind == "table" {
		_, err := workspaceRole(ctx, r, user, id, store.RoleViewer)
		return err
	}
	_, _, err := tableAccess(ctx, r, user, id, store.RoleViewer)
	return err
}

// Documents reads documents of one collection (any member) in one read,
// with the offset of the collection's stream at which they were read:
// the ids asked for, in that order, or with ids nil every document of a
// field_T, view_T or table_W collection, in their order. A record_T
// collection needs ids.
func (s *Service) Documents(ctx context.Context, a Actor, collection string, ids []int64) ([]event.Document, uint64, error) {
	kind, cid, err := docCollection(collection)
	if err != nil {
		return nil, 0, err
	}
	if kind == "record" && ids == nil {
		return nil, 0, validation("ids", "record documents are read by id or listed with ListRows")
	}
	var out []event.Document
	var offset uint64
	err = s.read(ctx, func(r store.Reader) error {
		if err := docAccess(ctx, r, a.UserID, kind, cid); err != nil {
			return err
		}
		var err error
		if offset, err = r.StreamTop(ctx, docStream(kind, cid)); err != nil {
			return err
		}
		found, order, err := readDocs(ctx, r, kind, cid, ids)
		if err != nil {
			return err
		}
		if ids == nil {
			ids = order
		}
		out = make([]event.Document, len(ids))
		for i, id := range ids {
			if d, ok := found[id]; ok {
				out[i] = d
				continue
			}
			v, err := deletedVersion(ctx, r, collection, id)
			if err != nil {
				return err
			}
			out[i] = event.Document{ID: id, V: v}
		}
		return nil
	})
	return out, offset, err
}

// readDocs reads the documents of a collection that exist among ids (all
// of them with ids nil, and their order).
func readDocs(ctx context.Context, r store.Reader, kind string, cid int64, ids []int64) (map[int64]event.Document, []int64, error) {
	found := make(map[int64]event.Document, len(ids))
	var order []int64
	add := func(id, version int64, v any) error {
		b, err := event.DocData(v)
		if err != nil {
			return err
		}
		found[id] = event.Document{ID: id, V: version, Exists: true, Data: b}
		order = append(order, id)
		return nil
	}
	switch kind {
	case "record":
		sc, err := loadSchema(ctx, r, cid)
		if err != nil {
			return nil, nil, err
		}
		rows, err := r.RowsByIDs(ctx, cid, ids)
		if err != nil {
			return nil, nil, err
		}
		outs, err := rowsOut(rows, sc)
		if err != nil {
			return nil, nil, err
		}
		for _, row := range outs {
			b, err := json.Marshal(event.RecordDocOf(row))
			if err != nil {
				return nil, nil, err
			}
			found[row.ID] = event.Document{ID: row.ID, V: row.Version, Exists: true, Data: b}
		}
	case "field":
		sc, err := loadSchema(ctx, r, cid)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range sc.list {
			if err := add(f.ID, f.Version, f); err != nil {
				return nil, nil, err
			}
		}
	case "view":
		vs, err := r.Views(ctx, cid)
		if err != nil {
			return nil, nil, err
		}
		for _, sv := range vs {
			v, err := ViewFromStore(sv)
			if err != nil {
				return nil, nil, err
			}
			if err := add(v.ID, v.Version, v); err != nil {
				return nil, nil, err
			}
		}
	case "table":
		ts, err := r.Tables(ctx, cid)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range ts {
			if err := add(t.ID, t.Version, event.TableDoc(tableOut(t))); err != nil {
				return nil, nil, err
			}
		}
	}
	return found, order, nil
}

// deletedVersion is the version of a document that does not exist: the
// version after its deletion when the op log still holds it, else 0.
func deletedVersion(ctx context.Context, r store.Reader, collection string, id int64) (int64, error) {
	ops, err := r.DocOps(ctx, collection, id, 0, maxReplayOps)
	if err != nil || len(ops) == 0 {
		return 0, err
	}
	last := ops[len(ops)-1]
	if string(last.Op) != `{"del":true}` {
		return 0, nil
	}
	return last.Version + 1, nil
}

// DocumentOps returns a document's logged changes with versions from
// `from` on (any member), at most limit, in version order, and its
// current version. The first change may be later than from when older
// ones are no longer kept: the caller compares.
func (s *Service) DocumentOps(ctx context.Context, a Actor, collection string, docID, from int64, limit int) (event.DocumentLog, error) {
	kind, cid, err := docCollection(collection)
	if err != nil {
		return event.DocumentLog{}, err
	}
	var out event.DocumentLog
	err = s.read(ctx, func(r store.Reader) error {
		if err := docAccess(ctx, r, a.UserID, kind, cid); err != nil {
			return err
		}
		if out.Offset, err = r.StreamTop(ctx, docStream(kind, cid)); err != nil {
			return err
		}
		cur, err := readDocCurrent(ctx, r, kind, cid, docID)
		switch {
		case err == nil:
			out.V = cur.V
		case errors.Is(err, errNoDoc):
			if out.V, err = deletedVersion(ctx, r, collection, docID); err != nil {
				return err
			}
		default:
			return err
		}
		ops, err := r.DocOps(ctx, collection, docID, from, limit)
		if err != nil {
			return err
		}
		out.Changes = make([]event.LoggedChange, len(ops))
		for i, o := range ops {
			out.Changes[i] = event.LoggedChange{V: o.Version, Src: o.Src, Seq: o.Seq, Change: o.Op, CreatedAt: o.CreatedAt}
		}
		return nil
	})
	return out, err
}

// docStream is the stream of a document collection.
func docStream(kind string, id int64) store.Stream {
	if kind == "table" {
		return store.WorkspaceStream(id)
	}
	return store.TableStream(id)
}

// DocumentAt rebuilds a document as it was at version v (at < 0: its
// current version), or, with at non-zero, as it was at that time, by
// applying its logged changes from its creation. It fails with
// ErrConflict (reason ErrOpsPruned) when the op log no longer reaches
// back to the creation. A record rebuilt this way has the fields its
// changes named: a field created later appears only once a change sets it.
func (s *Service) DocumentAt(ctx context.Context, a Actor, collection string, docID, v int64, at time.Time) (event.Document, error) {
	kind, cid, err := docCollection(collection)
	if err != nil {
		return event.Document{}, err
	}
	var out event.Document
	err = s.read(ctx, func(r store.Reader) error {
		if err := docAccess(ctx, r, a.UserID, kind, cid); err != nil {
			return err
		}
		ops, err := r.DocOps(ctx, collection, docID, 0, maxReplayOps)
		if err != nil {
			return err
		}
		out = event.Document{ID: docID}
		if len(ops) == 0 {
			// Never created, or created before the op log kept it.
			if _, err := readDocCurrent(ctx, r, kind, cid, docID); err == nil {
				return conflict(event.ErrOpsPruned, "the changes of %s/%d are not kept", collection, docID)
			}
			return nil
		}
		if ops[0].Version != 0 {
			return conflict(event.ErrOpsPruned, "the early changes of %s/%d are no longer kept", collection, docID)
		}
		var doc any
		for _, o := range ops {
			if (v >= 0 && o.Version >= v) || (!at.IsZero() && o.CreatedAt.After(at)) {
				break
			}
			var ch struct {
				Op     json0.Op        `json:"op"`
				Create json.RawMessage `json:"create"`
				Del    bool            `json:"del"`
			}
			if err := json.Unmarshal(o.Op, &ch); err != nil {
				return err
			}
			switch {
			case ch.Del:
				doc, out.Exists = nil, false
			case ch.Create != nil:
				if err := json.Unmarshal(ch.Create, &doc); err != nil {
					return err
				}
				out.Exists = true
			default:
				if doc, err = json0.Apply(doc, ch.Op); err != nil {
					return err
				}
			}
			out.V = o.Version + 1
		}
		if v > out.V {
			return conflict(event.ErrVersionAhead, "%s/%d has not reached version %d", collection, docID, v)
		}
		if out.Exists {
			if out.Data, err = json.Marshal(doc); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// readDocCurrent reads one existing document (ErrNotFound when it is not).
func readDocCurrent(ctx context.Context, r store.Reader, kind string, cid, id int64) (event.Document, error) {
	ids := []int64{id}
	if kind != "record" {
		ids = nil
	}
	found, _, err := readDocs(ctx, r, kind, cid, ids)
	if err != nil {
		return event.Document{}, err
	}
	d, ok := found[id]
	if !ok {
		return event.Document{}, errNoDoc
	}
	return d, nil
}

// errNoDoc: the document does not exist (now).
var errNoDoc = errors.New("service: no such document")
