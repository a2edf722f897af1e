package verify_test

import (
	"context"
	"path/filepath"
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

// attemptStores are the AttemptStore implementations every test runs on.
var attemptStores = []struct {
	name string
	new  func(t *testing.T) verify.AttemptStore
}{
	{"memory", func(*testing.T) verify.AttemptStore { return verify.NewMemoryAttempts() }},
	{"memstore", func(*testing.T) verify.AttemptStore { return memstore.New() }},
	{"sqlite", func(t *testing.T) verify.AttemptStore {
		return openSQLite(t, filepath.Join(t.TempDir(), "outreach.db"))
	}},
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
