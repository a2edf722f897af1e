package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// NewLimiter opens a new, separate instance of a store on one shared
// database (as another process would) and returns its limiter for the
// given rate and burst. The instance is closed by t's cleanup.
type NewLimiter func(t *testing.T, perSecond float64, burst int) outreach.Limiter

// ExerciseLimiter runs the behaviours of a limiter kept in a database
// and shared by processes: newDB makes a fresh database for a subtest
// and returns how to open limiters on separate store instances of it.
// Every time passed is a fixed instant of 2025 plus offsets, never the
// wall clock.
//
//   - It allows at most perSecond + burst - 1 messages per key within any
//     one-second span of the times passed (half-open), whichever instance
//     asks and in whatever order concurrent callers' times arrive.
//   - It does not starve: callers asking every few milliseconds get at
//     least 80% of perSecond (burst 1 loses a little to the steps).
//   - Keys are independent; a denial's retryAt is after now, and asking at
//     retryAt succeeds when nobody else asked meanwhile.
func ExerciseLimiter(ctx context.Context, t *testing.T, newDB func(t *testing.T) NewLimiter) {
	t0 := time.Date(2025, time.June, 2, 15, 0, 0, 0, time.UTC)

	t.Run("Basic", func(t *testing.T) {
		l := newDB(t)(t, 2, 1)
		ok, _, err := l.Allow(ctx, "+15005550006", t0)
		if err != nil || !ok {
			t.Fatalf("first Allow = %v, %v; want allowed", ok, err)
		}
		ok, at, err := l.Allow(ctx, "+15005550006", t0.Add(100*time.Millisecond))
		if err != nil || ok {
			t.Fatalf("second Allow 100ms later at 2/s = %v, %v; want denied", ok, err)
		}
		if want := t0.Add(500 * time.Millisecond); !at.Equal(want) {
			t.Fatalf("retryAt = %v; want %v", at, want)
		}
		if ok, _, err := l.Allow(ctx, "+15005550007", t0.Add(100*time.Millisecond)); err != nil || !ok {
			t.Fatalf("another key = %v, %v; want allowed", ok, err)
		}
		if ok, _, err := l.Allow(ctx, "+15005550006", at); err != nil || !ok {
			t.Fatalf("Allow at retryAt = %v, %v; want allowed", ok, err)
		}
		// A time behind the others (a lagging clock) gets nothing early.
		if ok, _, err := l.Allow(ctx, "+15005550006", t0); err != nil || ok {
			t.Fatalf("Allow at an earlier time = %v, %v; want denied", ok, err)
		}
	})

	t.Run("Burst", func(t *testing.T) {
		l := newDB(t)(t, 1, 3)
		n := 0
		for i := range 10 {
			ok, _, err := l.Allow(ctx, "k", t0.Add(time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d allowed at once with burst 3; want 3", n)
		}
	})

	t.Run("SharedByInstances", func(t *testing.T) {
		const (
			workers   = 4
			perSecond = 50
			span      = 10 * time.Second
		)
		open := newDB(t)
		ls := make([]outreach.Limiter, workers)
		for i := range ls {
			ls[i] = open(t, perSecond, 1)
		}
		// A shared clock that each worker reads and moves on by a little:
		// the times reach the database slightly out of order, as those of
		// several processes do.
		var clock atomic.Int64
		var (
			mu      sync.Mutex
			allowed []time.Time
			wg      sync.WaitGroup
			errs    = make(chan error, workers)
		)
		for w := range workers {
			wg.Go(func() {
				for {
					d := time.Duration(clock.Add(int64(3*time.Millisecond + time.Duration(w)*100*time.Microsecond)))
					if d >= span {
						return
					}
					now := t0.Add(d)
					ok, at, err := ls[w].Allow(ctx, "+15005550006", now)
					if err != nil {
						errs <- err
						return
					}
					if ok {
						mu.Lock()
						allowed = append(allowed, now)
						mu.Unlock()
					} else if !at.After(now) {
						errs <- fmt.Errorf("denied at %v with retryAt %v, not after it", now, at)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		slices.SortFunc(allowed, func(a, b time.Time) int { return a.Compare(b) })
		most := 0
		for i := range allowed {
			j, _ := slices.BinarySearchFunc(allowed, allowed[i].Add(time.Second), func(a, b time.Time) int { return a.Compare(b) })
			most = max(most, j-i)
		}
		if most > perSecond {
			t.Errorf("%d allowed within one second of the passed times; want at most %d", most, perSecond)
		}
		if min := int(perSecond * span.Seconds() * 0.8); len(allowed) < min {
			t.Errorf("%d allowed over %v at %d/s; want at least %d", len(allowed), span, perSecond, min)
		}
		t.Logf("%d allowed over %v of passed times by %d instances; at most %d in one second", len(allowed), span, workers, most)
	})
}
