package bench

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tablecast/tablecast/internal/testsupport/pgtest"
)

// freshPostgres makes a database the peer can use, and its drop removes
// it even while a connection is open.
func TestFreshPostgres(t *testing.T) {
	admin := pgtest.AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, drop, err := freshPostgres(ctx, admin, "tablecast_bench_test")
	if err != nil {
		t.Fatal(err)
	}
	dropped := false
	defer func() {
		if !dropped {
			_ = drop()
		}
	}()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatalf("connect to the fresh database: %v", err)
	}
	defer conn.Close(context.Background())
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("fresh database: %d tables, %v; want none", tables, err)
	}
	dropped = true
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	if c, err := pgx.Connect(ctx, db); err == nil {
		_ = c.Close(ctx)
		t.Fatal("the database is still there after drop")
	}
}
