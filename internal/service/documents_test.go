package service_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
)

// TestDocuments: the reads of documents the ShareDB dialect makes:
// snapshots with their stream offset, a deleted document's version, the
// ops since a version, and a document rebuilt at a version or a time.
func TestDocuments(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, open func(testing.TB) store.Store) {
		fx := newFixture(t, open(t), service.Config{})
		ctx := fx.ctx
		r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"ab"`), 0))(t)
		name := fx.id("Name")
		ok(fx.svc.Submit(ctx, fx.admin, fx.rowOp(r.ID, 1, "A", 1, `[{"p":["fields","`+name+`",2],"si":"c"}]`)))(t)
		afterOp := time.Now()
		gone := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
		if err := fx.svc.DeleteRow(ctx, fx.admin, fx.tbl.ID, gone.ID); err != nil {
			t.Fatal(err)
		}

		docs, offset, err := fx.svc.Documents(ctx, fx.admin, fx.records(), []int64{r.ID, gone.ID, 987654})
		if err != nil {
			t.Fatal(err)
		}
		if offset != fx.top(fx.tableStream()) {
			t.Errorf("offset %d; want the stream's top %d", offset, fx.top(fx.tableStream()))
		}
		var data event.RecordDoc
		if err := json.Unmarshal(docs[0].Data, &data); err != nil || !docs[0].Exists || docs[0].V != 2 ||
			string(data.Fields[fx.f["Name"].ID]) != `"abc"` || len(data.Fields) != len(fx.f) {
			t.Errorf("row: %+v (%s)", docs[0], docs[0].Data)
		}
		if docs[1].Exists || docs[1].V != 2 || docs[1].ID != gone.ID {
			t.Errorf("deleted row: %+v; want version 2 (created at 0, deleted at 1)", docs[1])
		}
		if docs[2].Exists || docs[2].V != 0 {
			t.Errorf("a row that never was: %+v", docs[2])
		}
		fields, _, err := fx.svc.Documents(ctx, fx.admin, event.FieldCollection(fx.tbl.ID), nil)
		if err != nil || len(fields) != len(fx.f) || fields[0].V != 1 || !fields[0].Exists {
			t.Errorf("fields: %+v, %v", fields, err)
		}
		if _, _, err := fx.svc.Documents(ctx, service.Actor{UserID: "mallory"}, fx.records(), []int64{r.ID}); !errors.Is(err, event.ErrNotFound) {
			t.Errorf("an outsider's read: %v; want ErrNotFound", err)
		}

		log, err := fx.svc.DocumentOps(ctx, fx.admin, fx.records(), r.ID, 1, 10)
		if err != nil || log.V != 2 || len(log.Changes) != 1 || log.Changes[0].V != 1 || log.Changes[0].Src != "A" || log.Changes[0].Seq != 1 {
			t.Errorf("ops since 1: %+v, %v", log, err)
		}

		at1, err := fx.svc.DocumentAt(ctx, fx.admin, fx.records(), r.ID, 1, time.Time{})
		if err != nil || at1.V != 1 || !at1.Exists {
			t.Fatalf("at version 1: %+v, %v", at1, err)
		}
		if err := json.Unmarshal(at1.Data, &data); err != nil || string(data.Fields[fx.f["Name"].ID]) != `"ab"` {
			t.Errorf("at version 1: %s", at1.Data)
		}
		if now, err := fx.svc.DocumentAt(ctx, fx.admin, fx.records(), r.ID, -1, afterOp); err != nil || now.V != 2 {
			t.Errorf("at a time after the op: %+v, %v", now, err)
		}
		if del, err := fx.svc.DocumentAt(ctx, fx.admin, fx.records(), gone.ID, -1, time.Time{}); err != nil || del.Exists || del.V != 2 {
			t.Errorf("deleted, rebuilt: %+v, %v", del, err)
		}
		if _, err := fx.svc.DocumentAt(ctx, fx.admin, fx.records(), r.ID, 5, time.Time{}); !errors.Is(err, event.ErrVersionAhead) {
			t.Errorf("a version not reached: %v; want ErrVersionAhead", err)
		}
	})
}
