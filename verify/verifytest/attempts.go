package verifytest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/verify"
)

// t0 is the instant the attempt checks start from.
var t0 = time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// ExerciseAttempts runs the contract of [verify.AttemptStore] against an
// empty store from newStore: counts and their times, a skewed clock,
// resets, forgetting, concurrent failures, a cancelled context.
func ExerciseAttempts(t *testing.T, newStore func(t *testing.T) verify.AttemptStore) {
	t.Helper()
	ctx := context.Background()
	s := newStore(t)
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
	distinctCounts(t, "concurrent counts", 30, func(int) verify.AttemptStore { return s })

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.RecordLoginFailure(cctx, "a", t0, day); err == nil {
		t.Error("RecordLoginFailure with a cancelled context succeeded")
	}
}

// ExerciseSharedAttempts records failures of one key through two stores
// on one database at once, as two processes would: every failure gets a
// distinct count.
func ExerciseSharedAttempts(t *testing.T, a, b verify.AttemptStore) {
	t.Helper()
	distinctCounts(t, "counts", 40, func(i int) verify.AttemptStore {
		if i%2 == 1 {
			return b
		}
		return a
	})
}

// distinctCounts records n failures of one key at once, the i-th through
// store(i), and fails unless they got the counts 1 to n, once each.
func distinctCounts(t *testing.T, what string, n int, store func(i int) verify.AttemptStore) {
	t.Helper()
	counts := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		s := store(i)
		wg.Go(func() {
			c, _, err := s.RecordLoginFailure(context.Background(), "addr:192.0.2.1", t0, day)
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
			t.Fatalf("%s = %v; want 1..%d once each", what, counts, n)
		}
	}
}
