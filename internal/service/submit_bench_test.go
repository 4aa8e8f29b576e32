package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/relay"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
	"github.com/tablecast/tablecast/internal/testsupport/cputime"
)

// BenchmarkSubmit: submits on 10 rows from parallel goroutines, each op an
// insert or, in turn on each row, a delete of an "a" at the start of a text
// cell of about 1,000 of them, against the version it read last, so that
// most are transformed (as in `tablecast bench ops`, whose edited cells grow
// to about 1,200 characters). The cell keeps its length however many ops
// run: with inserts alone it grew with b.N, so the cost per op depended on
// -benchtime, and the cells passed their 10,000-character limit at
// -benchtime 5s. SQLite in a
// temporary file, synchronous=full; hot: with hot documents (the default),
// cold: without (Config.ColdSubmits); hot_relay: hot, with the events
// published through a relay (to a sink that drops them), whose marks are
// the outbox's share as in a server; hot_wide: hot, on rows of 50 text
// cells of 2,000 characters (as `bench ops --wide`).
func BenchmarkSubmit(b *testing.B) {
	for _, c := range []struct {
		name               string
		cold, marked, wide bool
	}{{"hot", false, false, false}, {"cold", true, false, false}, {"hot_relay", false, true, false}, {"hot_wide", false, false, true}} {
		b.Run(c.name, func(b *testing.B) {
			st := servicetest.OpenSQLite(b)
			fx := newFixture(b, st, service.Config{ColdSubmits: c.cold})
			if c.marked {
				r, err := relay.New(relay.Config{Outbox: st, Sink: func(context.Context, []store.Event) error { return nil }})
				if err != nil {
					b.Fatal(err)
				}
				r.Start()
				b.Cleanup(r.Stop)
				cfg := service.Config{Store: st, Publisher: r, Secret: testSecret, PasswordIterations: 1000}
				if fx.svc, err = service.New(cfg); err != nil {
					b.Fatal(err)
				}
			}
			cells := fx.fields("Name", `"x"`)
			if c.wide {
				cells = wideCells(b, fx)
			}
			benchSubmit(b, fx, cells, 50)
		})
	}
}

// BenchmarkSubmitPostgres: submits one at a time, so that each batch holds
// one, on PostgreSQL, on rows of 3 fields and of 52 (wideCells): what a
// batch costs by itself, a table's schema kept from batch to batch
// (TestTableSchemaKept). cpu-µs/op is this process's CPU; PostgreSQL's is
// not counted.
func BenchmarkSubmitPostgres(b *testing.B) {
	for _, wide := range []bool{false, true} {
		name := "narrow_one_at_a_time"
		if wide {
			name = "wide_one_at_a_time"
		}
		b.Run(name, func(b *testing.B) {
			fx := newFixture(b, servicetest.OpenPostgres(b, ""), service.Config{})
			cells := fx.fields("Name", `"x"`)
			if wide {
				cells = wideCells(b, fx)
			}
			benchSubmit(b, fx, cells, 0)
		})
	}
}

// wideCells adds text fields to fx's table up to 50, and returns cells
// of 2,000 characters for each text field.
func wideCells(b *testing.B, fx *fixture) service.RowFields {
	for i := len(fx.tbl.Fields); i < 50; i++ {
		f, err := fx.svc.CreateField(fx.ctx, fx.admin, fx.tbl.ID, service.FieldInput{Name: fmt.Sprintf("Text %d", i), Type: table.TypeLongText})
		if err != nil {
			b.Fatal(err)
		}
		fx.f[f.Name] = f
	}
	text, _ := json.Marshal(strings.Repeat("lorem ipsum ", 167)[:2000])
	cells := service.RowFields{}
	for _, f := range fx.f {
		if f.Type == table.TypeText || f.Type == table.TypeLongText {
			cells[fmt.Sprint(f.ID)] = text
		}
	}
	return cells
}

// benchSubmit submits from 50 goroutines per core, 100 clients on 2 cores
// as in bench ops; with parallelism 0 one at a time, from one goroutine.
func benchSubmit(b *testing.B, fx *fixture, cells service.RowFields, parallelism int) {
	const docs = 10
	rows := make([]int64, docs)
	versions := make([]atomic.Int64, docs)
	// The edited cell: the deletes never run out of "a"s, since at most one
	// op per goroutine is ahead of its row's turn.
	name := fx.id("Name")
	cells = maps.Clone(cells)
	cells[name] = json.RawMessage(`"` + strings.Repeat("a", 1000) + `"`)
	for i := range rows {
		r, err := fx.svc.CreateRow(fx.ctx, fx.admin, fx.tbl.ID, cells, 0)
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = r.ID
		versions[i].Store(1)
	}
	ops := [2]json.RawMessage{
		json.RawMessage(`[{"p":["fields","` + name + `",0],"si":"a"}]`),
		json.RawMessage(`[{"p":["fields","` + name + `",0],"sd":"a"}]`),
	}
	submit := func(n int64) bool {
		d := int(n % docs)
		v := versions[d].Load()
		res, err := fx.svc.Submit(fx.ctx, fx.admin, event.Submission{Collection: fx.records(), DocID: rows[d],
			V: v, HasV: true, Op: ops[n/docs%2], Src: "bench", Seq: uint64(n)})
		if err != nil {
			b.Error(err)
			return false
		}
		versions[d].Store(res.V + 1)
		return true
	}
	b.ResetTimer()
	cpu0, cpuOK := cputime.Process()
	if parallelism == 0 {
		for n := int64(1); n <= int64(b.N) && submit(n); n++ {
		}
	} else {
		var next atomic.Int64
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() && submit(next.Add(1)) {
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	if cpu1, ok := cputime.Process(); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
