package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/storetest"
)

func TestStore(t *testing.T) {
	storetest.Exercise(context.Background(), t, func(t *testing.T) outreach.Store {
		return open(t, filepath.Join(t.TempDir(), "outreach.db"))
	})
}

func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outreach.db")
	s := open(t, path)
	defer s.Close()
	// A write makes SQLite create the -wal file: it must not be readable
	// by others either.
	if err := s.SetOptOut(ctx, "", "+14406443709", true, clocktest.Start(t)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), mode)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, path := range []string{"", ":memory:", "file:x.db"} {
		if s, err := sqlitestore.Open(ctx, path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
	if s, err := sqlitestore.OpenOptions(ctx, filepath.Join(dir, "x.db"), sqlitestore.Options{Synchronous: "sometimes"}); err == nil {
		s.Close()
		t.Errorf("OpenOptions with a bad synchronous setting succeeded")
	}
	if _, err := sqlitestore.Open(ctx, filepath.Join(dir, "missing", "x.db")); err == nil {
		t.Errorf("Open in a missing directory succeeded")
	}
}

// TestReopen checks that reopening applies no migration twice and that
// what was stored is still there.
// latestSchema is the number of migration files: the version a new
// database reaches.
func latestSchema(t *testing.T) int {
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %d files", err, len(files))
	}
	return len(files)
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outreach.db")
	s := open(t, path)
	latest := latestSchema(t)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != latest {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latest)
	}
	c, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "persist", From: "+15005550006", Status: outreach.CampaignRunning},
		[]outreach.Conversation{{
			Recipient: outreach.Recipient{ID: "p1", FirstName: "Ann", Phone: "+14406443701", Attrs: map[string]string{"a": "b"}},
			TwoWay:    true,
			NextAt:    time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC),
			State:     outreach.State{Step: "pain", Answers: map[string]string{"age": "40"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	convs, err := s.Conversations(ctx, c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetOptOut(ctx, "", "+14406443702", true, clocktest.Start(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	for range 2 {
		s = open(t, path)
		v, err = s.SchemaVersion(ctx)
		if err != nil || v != latest {
			t.Fatalf("SchemaVersion after reopening = %d, %v; want %d", v, err, latest)
		}
		got, err := s.Campaign(ctx, c.ID)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("campaign after reopening = %+v, %v; want %+v", got, err, c)
		}
		gotConvs, err := s.Conversations(ctx, c.ID, 0, 0)
		if err != nil || !reflect.DeepEqual(gotConvs, convs) {
			t.Fatalf("conversations after reopening = %+v, %v; want %+v", gotConvs, err, convs)
		}
		out, err := s.OptedOut(ctx, []string{"+14406443702"})
		if err != nil || !out["+14406443702"] {
			t.Fatalf("opt-out after reopening = %v, %v", out, err)
		}
		s.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outreach.db")
	open(t, path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := sqlitestore.Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}
