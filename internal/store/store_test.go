package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The contract runs on SQLite always and on PostgreSQL when
// TABLECAST_TEST_POSTGRES names a server (an admin URL: the tests create and
// drop databases named tablecast_test_<random> on it).
const postgresEnv = "TABLECAST_TEST_POSTGRES"

func TestSQLiteContract(t *testing.T) {
	testStoreContract(t, func(t *testing.T) Store { return openSQLiteTest(t) })
}

func TestPostgresContract(t *testing.T) {
	admin := postgresAdminURL(t)
	testStoreContract(t, func(t *testing.T) Store { return openPostgresTest(t, admin) })
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// openSQLiteTest opens a migrated SQLite store in a temporary file.
func openSQLiteTest(tb testing.TB) Store {
	tb.Helper()
	return openMigrated(tb, "sqlite://"+filepath.Join(tb.TempDir(), "test.db"))
}

func openMigrated(tb testing.TB, u string) Store {
	tb.Helper()
	ctx := testCtx(tb)
	s, err := Open(ctx, u)
	if err != nil {
		tb.Fatalf("Open(%s): %v", u, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// postgresAdminURL returns the server to test against, or skips (fails on CI)
// when there is none.
func postgresAdminURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(postgresEnv)
	if u == "" {
		msg := postgresEnv + " is not set: the PostgreSQL store is not tested. Set it to an admin URL, " +
			"for example " + postgresEnv + "='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return u
}

var (
	runIDOnce sync.Once
	runID     string
)

// testRunID names this test process's databases.
func testRunID() string {
	runIDOnce.Do(func() {
		b := make([]byte, 5)
		_, _ = rand.Read(b)
		runID = hex.EncodeToString(b)
	})
	return runID
}

var pgDBSeq struct {
	sync.Mutex
	n int
}

// createPostgresDB creates an empty database for tb and drops it when tb ends;
// it returns the database's URL.
func createPostgresDB(tb testing.TB, admin string) string {
	tb.Helper()
	ctx := testCtx(tb)
	pgDBSeq.Lock()
	pgDBSeq.n++
	name := "tablecast_test_" + testRunID() + "_" + strconv.Itoa(pgDBSeq.n)
	pgDBSeq.Unlock()

	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to %s: %v", redactURL(admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	pu, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", postgresEnv, err)
	}
	pu.Path = "/" + name
	return pu.String()
}

// openPostgresTest opens a migrated store on a fresh database.
func openPostgresTest(tb testing.TB, admin string) Store {
	tb.Helper()
	return openMigrated(tb, createPostgresDB(tb, admin))
}

// Two processes migrating one database at the same time: both succeed and the
// schema is there once.
func TestPostgresMigrateConcurrently(t *testing.T) {
	admin := postgresAdminURL(t)
	u := createPostgresDB(t, admin)
	testMigrateConcurrently(t, u)
}

func TestSQLiteMigrateConcurrently(t *testing.T) {
	testMigrateConcurrently(t, "sqlite://"+filepath.Join(t.TempDir(), "m.db"))
}

func testMigrateConcurrently(t *testing.T, u string) {
	ctx := testCtx(t)
	const n = 4
	stores := make([]Store, n)
	for i := range stores {
		s, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	for _, s := range stores {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	// The schema works.
	err := stores[0].Update(ctx, func(tx Tx) error {
		_, err := tx.CreateWorkspace(ctx, "w")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenURLs(t *testing.T) {
	ctx := testCtx(t)
	for _, u := range []string{"mysql://x", "sqlite://", "sqlite://x.db?synchronous=sometimes", "sqlite://x.db?bogus=1", ""} {
		if s, err := Open(ctx, u); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestSQLiteMemory(t *testing.T) {
	ctx := testCtx(t)
	s, err := Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.Update(ctx, func(tx Tx) error {
		w, err := tx.CreateWorkspace(ctx, "mem")
		id = w.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if w, err := s.Workspace(ctx, id); err != nil || w.Name != "mem" {
		t.Fatalf("Workspace = %+v, %v", w, err)
	}
	dir := s.(*SQLiteStore).tempDir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary directory %s still there after Close: %v", dir, err)
	}
	// A second store is another database.
	s2, err := Open(ctx, "sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Workspace(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second :memory: store sees the first's data: %v", err)
	}
}
