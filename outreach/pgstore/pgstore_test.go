package pgstore_test

import (
	"context"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/storetest"
)

// TestStore runs the store conformance suite, each subtest in a schema
// of its own.
func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Exercise(context.Background(), t, func(t *testing.T) outreach.Store {
		return pgtest.Open(t)
	})
}

// TestLimiter runs the shared limiter's suite on store instances that
// share one schema, as processes do.
func TestLimiter(t *testing.T) {
	t.Parallel()
	storetest.ExerciseLimiter(context.Background(), t, func(t *testing.T) storetest.NewLimiter {
		u := pgtest.URL(t)
		return func(t *testing.T, perSecond float64, burst int) outreach.Limiter {
			s, err := pgstore.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s.Limiter(perSecond, burst)
		}
	})
}
