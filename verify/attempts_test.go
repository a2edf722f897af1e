package verify_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/verifytest"
)

// sqlitestore.Store keeps the attempts of a login in its database file;
// memstore.Store in memory.
var (
	_ verify.AttemptStore = (*sqlitestore.Store)(nil)
	_ verify.AttemptStore = (*memstore.Store)(nil)
)

func openSQLite(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrated is an empty database file as sqlitestore.Open leaves it,
// made once: each test gets a copy of it, rather than running every
// migration again (most of the sqlite cases' time under -race).
var migrated struct {
	once sync.Once
	file []byte
	err  error
}

// freshSQLite opens a new, empty SQLite store in the test's folder.
func freshSQLite(t *testing.T) *sqlitestore.Store {
	t.Helper()
	migrated.once.Do(func() {
		path := filepath.Join(t.TempDir(), "template.db")
		s, err := sqlitestore.Open(context.Background(), path)
		if err != nil {
			migrated.err = err
			return
		}
		if migrated.err = s.Close(); migrated.err != nil {
			return
		}
		if _, err := os.Stat(path + "-wal"); err == nil {
			migrated.err = errors.New("the closed template database kept its WAL file")
			return
		}
		migrated.file, migrated.err = os.ReadFile(path)
	})
	if migrated.err != nil {
		t.Fatal(migrated.err)
	}
	path := filepath.Join(t.TempDir(), "outreach.db")
	if err := os.WriteFile(path, migrated.file, 0o600); err != nil {
		t.Fatal(err)
	}
	return openSQLite(t, path)
}

// attemptStores are the AttemptStore implementations every test runs on.
var attemptStores = []struct {
	name string
	new  func(t *testing.T) verify.AttemptStore
}{
	{"memory", func(*testing.T) verify.AttemptStore { return verify.NewMemoryAttempts() }},
	{"memstore", func(*testing.T) verify.AttemptStore { return memstore.New() }},
	{"sqlite", func(t *testing.T) verify.AttemptStore { return freshSQLite(t) }},
}

// TestAttemptStore is the contract of AttemptStore, run on every
// implementation.
func TestAttemptStore(t *testing.T) {
	for _, impl := range attemptStores {
		t.Run(impl.name, func(t *testing.T) {
			verifytest.ExerciseAttempts(t, impl.new)
		})
	}
}

func TestMemoryAttemptsClosed(t *testing.T) {
	ctx := context.Background()
	m := verify.NewMemoryAttempts()
	m.Close()
	if _, _, err := m.RecordLoginFailure(ctx, "k", t0, time.Hour); err != verify.ErrClosed {
		t.Errorf("RecordLoginFailure after Close = %v", err)
	}
	if _, _, err := m.LoginFailures(ctx, "k"); err != verify.ErrClosed {
		t.Errorf("LoginFailures after Close = %v", err)
	}
	if err := m.ResetLoginFailures(ctx, "k"); err != verify.ErrClosed {
		t.Errorf("ResetLoginFailures after Close = %v", err)
	}
}
