package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// withDatabase points the node at a database URL.
func withDatabase(u string) nodeOption {
	return func(s *nodeSetup) { s.args = append(s.args, "--database-url", u) }
}

// engines runs f once per store engine: SQLite always, PostgreSQL when
// TABLECAST_TEST_POSTGRES names a server (each test gets a fresh database,
// dropped afterwards). Without it the PostgreSQL run is skipped, except
// under CI=true, where it fails.
func engines(t *testing.T, f func(t *testing.T, db nodeOption)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, withDatabase("sqlite://:memory:"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, withDatabase(freshPostgres(t)))
	})
}

func freshPostgres(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("TABLECAST_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TABLECAST_TEST_POSTGRES is not set; CI must test PostgreSQL")
		}
		t.Skip("PostgreSQL not configured: set TABLECAST_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tablecast_e2e_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
