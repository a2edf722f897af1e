package pgstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

var t0 = time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// open opens a store on url, closed when t ends.
func open(t testing.TB, url string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestLoginFailures(t *testing.T) {
	ctx := context.Background()
	s := pgtest.Open(t)

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
	// An earlier time (another instance's clock) counts but keeps the latest.
	record("a", t0.Add(30*time.Second), 3, t0.Add(time.Minute))
	check("a", 3, t0.Add(time.Minute))
	record("b", t0, 1, time.Time{})
	check("b", 1, t0)

	if err := s.ResetLoginFailures(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	check("a", 0, time.Time{})
	check("b", 1, t0)
	if err := s.ResetLoginFailures(ctx, "unknown"); err != nil {
		t.Fatalf("reset of an unknown key: %v", err)
	}

	// More than forget after the latest failure, the count starts again,
	// and keys forgotten long ago are dropped.
	record("a", t0.Add(time.Hour), 1, time.Time{})
	record("a", t0.Add(time.Hour+day), 2, t0.Add(time.Hour))
	record("a", t0.Add(time.Hour+2*day+time.Second), 1, time.Time{})
	check("b", 0, time.Time{})

	if _, _, err := s.RecordLoginFailure(ctx, "", t0, day); err == nil {
		t.Error("RecordLoginFailure of an empty key succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.RecordLoginFailure(cctx, "a", t0, day); err == nil {
		t.Error("RecordLoginFailure with a cancelled context succeeded")
	}
}

// TestLoginFailuresConcurrent runs two stores (two pools) on one schema,
// as two processes would: every failure gets a distinct count.
func TestLoginFailuresConcurrent(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s1, s2 := open(t, url), open(t, url)

	const n = 40
	counts := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			c, _, err := s.RecordLoginFailure(ctx, "addr:192.0.2.1", t0, day)
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
			t.Fatalf("counts = %v; want 1..%d each once", counts, n)
		}
	}
}
