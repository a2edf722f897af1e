// Package pgtest gives tests an isolated Postgres store: each call makes a
// schema of its own (t_ and random hex) in the database named by the
// environment variable OUTREACH_TEST_POSTGRES, and drops it, with
// everything in it, when the test ends. Without the variable, the test is
// skipped.
//
//	OUTREACH_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./...
//
// [URL] returns a connection URL whose search_path is that schema, so that
// other processes (an example program started by an end-to-end test) can
// share the store; [Open] opens a [pgstore.Store] on it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach/pgstore"
)

// EnvURL names the environment variable holding the URL of the test
// database, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "OUTREACH_TEST_POSTGRES"

// BaseURL returns the URL of the test database, or skips tb when
// OUTREACH_TEST_POSTGRES is unset.
func BaseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		tb.Skipf("%s is not set: skipping the tests that need PostgreSQL", EnvURL)
	}
	return u
}

// Schema creates a new empty schema in the test database and returns its
// name and a URL whose search_path is that schema (pgx sends a URL
// parameter it does not know as a runtime parameter). The schema is
// dropped, CASCADE, when tb ends; stores opened on it must be closed by
// then (cleanups registered later run first).
func Schema(tb testing.TB) (name, schemaURL string) {
	tb.Helper()
	base := BaseURL(tb)
	b := make([]byte, 8)
	rand.Read(b)
	name = "t_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: connect to drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	schemaURL, err = WithSearchPath(base, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return name, schemaURL
}

// WithSearchPath returns the URL u with its search_path parameter set to
// schema. u must be a URL (postgres://...), not a key=value string.
func WithSearchPath(u, schema string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	q := p.Query()
	q.Set("search_path", schema)
	p.RawQuery = q.Encode()
	return p.String(), nil
}

// URL is [Schema] without the name: a URL of a new empty schema.
func URL(tb testing.TB) string {
	tb.Helper()
	_, u := Schema(tb)
	return u
}

// Open returns a store in a new schema of the test database, closed and
// dropped when tb ends.
func Open(tb testing.TB) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), URL(tb))
	if err != nil {
		tb.Fatalf("pgtest: open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
