package outreach

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter is the in-process [Limiter]: a token bucket per key on
// golang.org/x/time/rate, driven by the times the runner passes in (so a
// [ManualClock] drives it too).
type RateLimiter struct {
	perSecond float64
	burst     int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewRateLimiter returns a limiter allowing perSecond messages per key with
// the given burst (at least 1). A US long code sends about 1 per second.
func NewRateLimiter(perSecond float64, burst int) *RateLimiter {
	if burst < 1 {
		burst = 1
	}
	return &RateLimiter{perSecond: perSecond, burst: burst, buckets: map[string]*rate.Limiter{}}
}

// Allow implements [Limiter].
func (l *RateLimiter) Allow(_ context.Context, key string, now time.Time) (bool, time.Time, error) {
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(l.perSecond), l.burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, now.Add(time.Second), nil
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return true, time.Time{}, nil
	}
	r.CancelAt(now)
	return false, now.Add(d), nil
}
