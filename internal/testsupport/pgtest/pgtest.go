// Package pgtest gives tests a PostgreSQL database of their own on the server
// named by TABLECAST_TEST_POSTGRES: created empty, dropped when the test ends,
// named after the test process so that runs sharing a server never meet.
// Without the variable a test is skipped with a message saying how to enable
// it, except under CI=true, where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the admin URL.
const Env = "TABLECAST_TEST_POSTGRES"

// AdminURL returns the server to test against, or skips tb (fails it under CI).
func AdminURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(Env)
	if u == "" {
		msg := Env + " is not set: PostgreSQL is not tested. Set it to an admin URL, for example " +
			Env + "='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return u
}

var (
	runOnce sync.Once
	runID   string
	seq     struct {
		sync.Mutex
		n int
	}
)

// FreshDatabase creates an empty database for tb on the server and drops it
// (with FORCE) when tb ends; it returns the database's URL. Register what
// connects to it after calling FreshDatabase, so that it is closed first.
func FreshDatabase(tb testing.TB) string {
	tb.Helper()
	admin := AdminURL(tb)
	runOnce.Do(func() {
		b := make([]byte, 5)
		_, _ = rand.Read(b)
		runID = hex.EncodeToString(b)
	})
	seq.Lock()
	seq.n++
	name := "tablecast_test_" + runID + "_" + strconv.Itoa(seq.n)
	seq.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to %s: %v", Env, err)
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	_ = conn.Close(ctx)
	if err != nil {
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
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", Env, err)
	}
	u.Path = "/" + name
	return u.String()
}
