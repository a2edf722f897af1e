package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// BenchmarkLimiter measures one Allow on the shared limiter (one round
// trip); the passed times move one interval apart, so that every call is
// allowed and writes.
func BenchmarkLimiter(b *testing.B) {
	l := pgtest.Open(b).Limiter(1e6, 1)
	now := clocktest.Start(b)
	ctx := context.Background()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if ok, _, err := l.Allow(ctx, "+15005550006", now); err != nil || !ok {
			b.Fatalf("Allow = %v, %v", ok, err)
		}
	}
}

// BenchmarkLimiterDenied measures a denied Allow (the common case of a
// throttled number): the same statement, which also reads retryAt.
func BenchmarkLimiterDenied(b *testing.B) {
	l := pgtest.Open(b).Limiter(1, 1)
	now := clocktest.Start(b)
	ctx := context.Background()
	if _, _, err := l.Allow(ctx, "+15005550006", now); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := l.Allow(ctx, "+15005550006", now); err != nil || ok {
			b.Fatalf("Allow = %v, %v", ok, err)
		}
	}
}
