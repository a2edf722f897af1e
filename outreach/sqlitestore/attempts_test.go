package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/verifytest"
)

var t0 = time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// TestLoginFailures runs verify's contract, then what this store adds:
// an empty key is refused, and keys forgotten long ago are dropped.
func TestLoginFailures(t *testing.T) {
	verifytest.ExerciseAttempts(t, func(t *testing.T) verify.AttemptStore {
		s := open(t, filepath.Join(t.TempDir(), "outreach.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "outreach.db"))
	defer s.Close()
	if _, _, err := s.RecordLoginFailure(ctx, "b", t0, day); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecordLoginFailure(ctx, "a", t0.Add(2*day+time.Second), day); err != nil {
		t.Fatal(err)
	}
	if n, last, err := s.LoginFailures(ctx, "b"); err != nil || n != 0 || !last.IsZero() {
		t.Errorf("a key forgotten long ago: %d, %v, %v; want it dropped", n, last, err)
	}
	if _, _, err := s.RecordLoginFailure(ctx, "", t0, day); err == nil {
		t.Error("RecordLoginFailure of an empty key succeeded")
	}
}

// TestLoginFailuresConcurrent runs two stores on one file, as two
// processes would: every failure gets a distinct count.
func TestLoginFailuresConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outreach.db")
	s1 := open(t, path)
	defer s1.Close()
	s2 := open(t, path)
	defer s2.Close()
	verifytest.ExerciseSharedAttempts(t, s1, s2)
}

// TestLoginFailuresPersist checks that counts survive reopening, and that
// the later migrations are applied to a version-1 file once.
func TestLoginFailuresPersist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outreach.db")
	s := open(t, path)
	if _, _, err := s.RecordLoginFailure(ctx, "k", t0, day); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	if n, last, err := s.LoginFailures(ctx, "k"); err != nil || n != 1 || !last.Equal(t0) {
		t.Fatalf("after reopening: %d, %v, %v; want 1, %v", n, last, err, t0)
	}
	s.Close()

	// A file of schema version 1, as the first release wrote it.
	path = filepath.Join(t.TempDir(), "v1.db")
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(v1) + "; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	latest := latestSchema(t)
	for i := range 2 { // the second open must apply nothing
		s, err := sqlitestore.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latest)
		}
		if n, _, err := s.LoginFailures(ctx, "k"); err != nil || n != i {
			t.Fatalf("open %d after migration: %d, %v; want %d", i+1, n, err, i)
		}
		if _, _, err := s.RecordLoginFailure(ctx, "k", t0, day); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}
