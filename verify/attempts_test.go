package verify_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/verify"
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
	const day = 24 * time.Hour
	for _, impl := range attemptStores {
		t.Run(impl.name, func(t *testing.T) {
			ctx := context.Background()
			s := impl.new(t)
			check := func(key string, wantN int, wantLast time.Time) {
				t.Helper()
				n, last, err := s.LoginFailures(ctx, key)
				if err != nil || n != wantN || !last.Equal(wantLast) {
					t.Fatalf("LoginFailures(%q) = %d, %v, %v; want %d, %v", key, n, last, err, wantN, wantLast)
				}
			}
			record := func(key string, at time.Time, wantN int, wantPrev time.Time) {
				t.Helper()
				n, prev, err := s.RecordLoginFailure(ctx, key, at, day)
				if err != nil || n != wantN || !prev.Equal(wantPrev) {
					t.Fatalf("RecordLoginFailure(%q, %v) = %d, %v, %v; want %d, %v", key, at, n, prev, err, wantN, wantPrev)
				}
			}
			check("a", 0, time.Time{})
			record("a", t0, 1, time.Time{})
			record("a", t0.Add(time.Minute), 2, t0)
			record("a", t0.Add(30*time.Second), 3, t0.Add(time.Minute)) // a skewed clock
			check("a", 3, t0.Add(time.Minute))
			record("b", t0, 1, time.Time{})
			if err := s.ResetLoginFailures(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			check("a", 0, time.Time{})
			check("b", 1, t0)
			if err := s.ResetLoginFailures(ctx, "never seen"); err != nil {
				t.Fatal(err)
			}
			record("a", t0.Add(time.Hour), 1, time.Time{})
			record("a", t0.Add(time.Hour+day), 2, t0.Add(time.Hour)) // exactly forget later: still counted
			record("a", t0.Add(time.Hour+2*day+time.Second), 1, time.Time{})

			// Concurrent failures each get a distinct count.
			const n = 30
			counts := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					c, _, err := s.RecordLoginFailure(ctx, "burst", t0, day)
					if err != nil {
						t.Error(err)
					}
					counts[i] = c
				})
			}
			wg.Wait()
			slices.Sort(counts)
			for i, c := range counts {
				if c != i+1 {
					t.Fatalf("concurrent counts = %v; want 1..%d once each", counts, n)
				}
			}

			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, _, err := s.RecordLoginFailure(cctx, "a", t0, day); err == nil {
				t.Error("RecordLoginFailure with a cancelled context succeeded")
			}
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
