package storeopen_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

func TestIsPostgres(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://u@h/db?sslmode=disable": true, " POSTGRES://u@h/db": true,
		"outreach.db": false, "data/postgres.db": false, "file:o.db": false, "": false,
	} {
		if got := storeopen.IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %v; want %v", dsn, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := storeopen.Redact("postgres://outreach:s3cret@db/o"); strings.Contains(got, "s3cret") || !strings.Contains(got, "db/o") {
		t.Errorf("Redact = %q", got)
	}
	if got := storeopen.Redact("data/o.db"); got != "data/o.db" {
		t.Errorf("Redact of a path = %q", got)
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	db, err := storeopen.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Kind != storeopen.SQLite || db.Listen != nil || db.Path != path || db.Sessions == nil {
		t.Errorf("SQLite: kind %q, listen %v, path %q, sessions %v", db.Kind, db.Listen != nil, db.Path, db.Sessions)
	}
	if _, err := db.SchemaVersion(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestOpenPostgres(t *testing.T) {
	url := pgtest.URL(t)
	db, err := storeopen.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Kind != storeopen.Postgres || db.Listen == nil || db.Path != "" || db.Sessions == nil {
		t.Errorf("Postgres: kind %q, listen %v, path %q, sessions %v", db.Kind, db.Listen != nil, db.Path, db.Sessions)
	}
	if _, err := db.SchemaVersion(context.Background()); err != nil {
		t.Error(err)
	}
}
