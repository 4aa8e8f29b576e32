package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/tablecast/tablecast/internal/testsupport/cputime"
)

// go test -run '^$' -bench . -benchmem ./internal/store/
// (with TABLECAST_TEST_POSTGRES set for the PostgreSQL figures)

func benchEngines(b *testing.B, fn func(b *testing.B, open func(b *testing.B) Store)) {
	b.Run("sqlite", func(b *testing.B) {
		fn(b, func(b *testing.B) Store { return openSQLiteTest(b) })
	})
	b.Run("sqlite_sync_normal", func(b *testing.B) {
		fn(b, func(b *testing.B) Store {
			return openMigrated(b, "sqlite://"+filepath.Join(b.TempDir(), "test.db")+"?synchronous=normal")
		})
	})
	b.Run("postgres", func(b *testing.B) {
		admin := postgresAdminURL(b)
		fn(b, func(b *testing.B) Store { return openPostgresTest(b, admin) })
	})
}

// benchTable creates a table with two fields and n rows.
func benchTable(b *testing.B, s Store, n int) (tableID int64, fieldKey string, rows []Row) {
	b.Helper()
	ctx := context.Background()
	err := s.Update(ctx, func(tx Tx) error {
		ws, err := tx.CreateWorkspace(ctx, "bench")
		if err != nil {
			return err
		}
		t, err := tx.CreateTable(ctx, Table{WorkspaceID: ws.ID, Name: "t"})
		if err != nil {
			return err
		}
		f, err := tx.CreateField(ctx, Field{TableID: t.ID, Name: "Name", Type: "text", Primary: true})
		if err != nil {
			return err
		}
		tableID, fieldKey = t.ID, strconv.FormatInt(f.ID, 10)
		vals := make([]json.RawMessage, n)
		for i := range vals {
			vals[i] = json.RawMessage(fmt.Sprintf(`{"%s": "row %d"}`, fieldKey, i))
		}
		ins, err := tx.InsertRows(ctx, NewRows{TableID: t.ID, Values: vals})
		rows = ins.Rows
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return tableID, fieldKey, rows
}

// BenchmarkUpdateRowWithEvent: one transaction per operation that updates one
// cell of one row and appends its event, as a REST cell edit does. "serial"
// is one writer; "parallel" runs GOMAXPROCS writers on the same table (the
// stream counter serialises them).
func BenchmarkUpdateRowWithEvent(b *testing.B) {
	benchEngines(b, func(b *testing.B, open func(b *testing.B) Store) {
		s := open(b)
		tableID, key, rows := benchTable(b, s, 1000)
		st := TableStream(tableID)
		ctx := context.Background()
		var n atomic.Int64
		op := func() error {
			i := n.Add(1)
			row := rows[int(i)%len(rows)]
			patch := json.RawMessage(fmt.Sprintf(`{"%s": "value %d"}`, key, i))
			return s.Update(ctx, func(tx Tx) error {
				up, err := tx.UpdateRows(ctx, tableID, []RowUpdate{{ID: row.ID, Values: patch}})
				if err != nil {
					return err
				}
				payload, _ := json.Marshal(map[string]any{"row_id": row.ID, "version": up[0].Version, "fields": patch})
				_, err = tx.AppendEvent(ctx, st, "rows_updated", payload)
				return err
			})
		}
		b.Run("serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

// BenchmarkInsertRowsBatch1000: one transaction per operation inserting 1000
// rows at the end of a table, with one event for the batch.
func BenchmarkInsertRowsBatch1000(b *testing.B) {
	benchEngines(b, func(b *testing.B, open func(b *testing.B) Store) {
		s := open(b)
		tableID, key, _ := benchTable(b, s, 0)
		st := TableStream(tableID)
		ctx := context.Background()
		vals := make([]json.RawMessage, 1000)
		for i := range vals {
			vals[i] = json.RawMessage(fmt.Sprintf(`{"%s": "row %d", "99": %d}`, key, i, i))
		}
		b.ReportAllocs()
		for b.Loop() {
			err := s.Update(ctx, func(tx Tx) error {
				ins, err := tx.InsertRows(ctx, NewRows{TableID: tableID, Values: vals})
				if err != nil {
					return err
				}
				_, err = tx.AppendEvent(ctx, st, "rows_created", json.RawMessage(fmt.Sprintf(`{"count":%d}`, len(ins.Rows))))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/row")
	})
}

// BenchmarkOutbox: the outbox's share of a batch of submits, as `tablecast
// bench ops` makes them: one transaction per operation appending 30
// events of about 1.2 KB to one table's stream (AppendEvents), and the
// relay's marks, one MarkPublished for every 15 transactions' events.
// cpu-µs/event is the process's CPU per event.
func BenchmarkOutbox(b *testing.B) {
	benchEngines(b, func(b *testing.B, open func(b *testing.B) Store) {
		s := open(b)
		tableID, key, _ := benchTable(b, s, 0)
		st := TableStream(tableID)
		ctx := context.Background()
		const perTx, txPerMark = 30, 15
		payload := json.RawMessage(fmt.Sprintf(`{"row_id":1,"version":7,"before":{"%s":"%0540d"},"after":{"%s":"%0541d"}}`, key, 0, key, 1))
		evs := make([]NewEvent, perTx)
		for i := range evs {
			evs[i] = NewEvent{Stream: st, Type: "rows_updated", Payload: payload}
		}
		var toMark []EventKey
		b.ReportAllocs()
		cpuPer := measureCPU(b)
		for b.Loop() {
			err := s.Update(ctx, func(tx Tx) error {
				offs, err := tx.AppendEvents(ctx, evs)
				for _, o := range offs {
					toMark = append(toMark, EventKey{Stream: st, Offset: o})
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if len(toMark) >= perTx*txPerMark {
				if err := s.MarkPublished(ctx, toMark...); err != nil {
					b.Fatal(err)
				}
				toMark = toMark[:0]
			}
		}
		cpuPer(b.N*perTx, "cpu-µs/event")
	})
}

// BenchmarkAppendDocOps appends small ops to ten documents, thirty to a
// transaction, as a batch of submits does. In "large_first" each document's
// first op is 100 KB (a REST write that set large cells): an op appended
// later must cost what it is, not what its document's earlier ops were
// (sqlite/0008_doc_ops_rowid.sql).
func BenchmarkAppendDocOps(b *testing.B) {
	benchEngines(b, func(b *testing.B, open func(b *testing.B) Store) {
		for _, first := range []struct {
			name  string
			bytes int
		}{{"small_first", 20}, {"large_first", 100_000}} {
			b.Run(first.name, func(b *testing.B) {
				s := open(b)
				ctx := context.Background()
				const docs, perTx = 10, 30
				big := json.RawMessage(fmt.Sprintf(`{"p":["fields","1"],"oi":"%0*d"}`, first.bytes, 0))
				small := json.RawMessage(`{"p":["fields","1",3],"si":"x"}`)
				version := make([]int64, docs+1)
				appendOps := func(op func(doc int64) json.RawMessage, n int) error {
					ops := make([]DocOp, n)
					for i := range ops {
						doc := int64(i%docs + 1)
						ops[i] = DocOp{Collection: "record_1", DocID: doc, Version: version[doc], Op: op(doc), Src: "bench", Seq: uint64(version[doc] + 1)}
						version[doc]++
					}
					return s.Update(ctx, func(tx Tx) error { return tx.AppendDocOps(ctx, ops) })
				}
				if err := appendOps(func(int64) json.RawMessage { return big }, docs); err != nil {
					b.Fatal(err)
				}
				// Enough entries that each document's span has interior pages.
				for range 100 {
					if err := appendOps(func(int64) json.RawMessage { return small }, perTx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				cpuPer := measureCPU(b)
				for b.Loop() {
					if err := appendOps(func(int64) json.RawMessage { return small }, perTx); err != nil {
						b.Fatal(err)
					}
				}
				cpuPer(b.N*perTx, "cpu-µs/op")
			})
		}
	})
}

// wideRows gives the rows 48 more cells of size characters each.
func wideRows(b *testing.B, s Store, tableID int64, rows []Row, size int) {
	b.Helper()
	ctx := context.Background()
	wide := map[string]string{}
	for i := range 48 {
		wide[strconv.Itoa(1000+i)] = fmt.Sprintf("%0*d", size, i)
	}
	vals, _ := json.Marshal(wide)
	if err := s.Update(ctx, func(tx Tx) error {
		for _, r := range rows {
			if _, err := tx.UpdateRows(ctx, tableID, []RowUpdate{{ID: r.ID, Values: vals}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// benchWideRows runs op for each size on a fresh store whose 10 rows hold
// 48 more cells of size characters each, and reports the CPU per op, of
// which each call of op makes perCall (one call per b.Loop).
func benchWideRows(b *testing.B, sizes []int, unit string, perCall int,
	op func(ctx context.Context, s Store, tableID int64, key string, rows []Row, i int) error) {
	benchEngines(b, func(b *testing.B, open func(b *testing.B) Store) {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
				s := open(b)
				ctx := context.Background()
				tableID, key, rows := benchTable(b, s, 10)
				wideRows(b, s, tableID, rows, size)
				i := 0
				b.ReportAllocs()
				cpuPer := measureCPU(b)
				for b.Loop() {
					i++
					if err := op(ctx, s, tableID, key, rows, i); err != nil {
						b.Fatal(err)
					}
				}
				cpuPer(b.N*perCall, unit)
			})
		}
	})
}

// BenchmarkWriteCellBesideLargeCells writes one short cell of each of 10
// rows whose other 48 cells hold "size" characters each, as a submit to a
// wide row does: the cost should be the cell's, whatever its neighbours
// hold.
func BenchmarkWriteCellBesideLargeCells(b *testing.B) {
	benchWideRows(b, []int{40, 2_000, 20_000}, "cpu-µs/write", 10,
		func(ctx context.Context, s Store, tableID int64, key string, rows []Row, i int) error {
			return s.Update(ctx, func(tx Tx) error {
				for j, r := range rows {
					v := json.RawMessage(fmt.Sprintf(`{"%s":"v%d.%d"}`, key, i, j))
					if err := tx.WriteRows(ctx, tableID, []RowUpdate{{ID: r.ID, Values: v}}); err != nil {
						return err
					}
				}
				return nil
			})
		})
}

// BenchmarkReadWideRow reads a row of 49 cells, 48 of them of size
// characters (SQLite keeps those over 4,000 bytes apart: migration 0009).
func BenchmarkReadWideRow(b *testing.B) {
	benchWideRows(b, []int{40, 2_000}, "cpu-µs/read", 1,
		func(ctx context.Context, s Store, tableID int64, _ string, rows []Row, i int) error {
			_, err := s.Row(ctx, tableID, rows[i%len(rows)].ID)
			return err
		})
}

// measureCPU starts counting the process's CPU time; the function it
// returns reports it per one of n things, as unit (nothing where the
// platform cannot tell).
func measureCPU(b *testing.B) func(n int, unit string) {
	cpu0, ok0 := cputime.Process()
	return func(n int, unit string) {
		if cpu1, ok := cputime.Process(); ok && ok0 {
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(n), unit)
		}
	}
}
