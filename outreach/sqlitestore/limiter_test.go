package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/storetest"
)

// TestLimiter runs the shared limiter's suite on store instances that
// share one file, as processes do.
func TestLimiter(t *testing.T) {
	storetest.ExerciseLimiter(context.Background(), t, func(t *testing.T) storetest.NewLimiter {
		path := filepath.Join(t.TempDir(), "outreach.db")
		return func(t *testing.T, perSecond float64, burst int) outreach.Limiter {
			return open(t, path).Limiter(perSecond, burst)
		}
	})
}

// BenchmarkLimiter measures one Allow on the shared limiter; the passed
// times move one interval apart, so that every call is allowed and writes.
func BenchmarkLimiter(b *testing.B) {
	s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "outreach.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := s.Limiter(1e6, 1)
	now := clocktest.Start(b)
	ctx := context.Background()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if ok, _, err := l.Allow(ctx, "+15005550006", now); err != nil || !ok {
			b.Fatalf("Allow = %v, %v", ok, err)
		}
	}
}
