package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/verifytest"
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

// TestLoginFailures runs verify's contract, then what this store adds:
// an empty key is refused, and keys forgotten long ago are dropped.
func TestLoginFailures(t *testing.T) {
	t.Parallel()
	verifytest.ExerciseAttempts(t, func(t *testing.T) verify.AttemptStore { return pgtest.Open(t) })
	ctx := context.Background()
	s := pgtest.Open(t)
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

// TestLoginFailuresConcurrent runs two stores (two pools) on one schema,
// as two processes would: every failure gets a distinct count.
func TestLoginFailuresConcurrent(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	verifytest.ExerciseSharedAttempts(t, open(t, url), open(t, url))
}
