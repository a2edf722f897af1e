package outreach

import (
	"sort"
	"sync"
	"time"
)

// ManualClock is a [Clock] that moves only when told to: tests and
// simulations use it to run days of a campaign in milliseconds. It is safe
// for concurrent use.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock returns a clock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once the clock has
// been moved d or more past the current time.
func (c *ManualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward by d and fires the timers that are due.
func (c *ManualClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires the timers that are due.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	n := 0
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		c.waiters[n] = w
		n++
	}
	c.waiters = c.waiters[:n]
}

// NextTimer returns the time of the earliest pending After timer.
func (c *ManualClock) NextTimer() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var min time.Time
	for _, w := range c.waiters {
		if min.IsZero() || w.at.Before(min) {
			min = w.at
		}
	}
	return min, !min.IsZero()
}

// OffsetClock is a [Clock] that runs at real speed from an instant chosen by
// its maker, and that can be moved forward ([OffsetClock.SkipTo]). Tests
// that need real elapsed time (rate limits, leases, kill tests) use it so
// that their result does not depend on when they run; dev mode uses it so
// that an operator can skip the quiet hours of a simulated world. Timers
// from After fire when their time comes, by real time or by a skip. It is
// safe for concurrent use.
type OffsetClock struct {
	mu      sync.Mutex
	offset  time.Duration // added to the system clock
	next    uint64
	waiters map[uint64]*offsetWaiter
}

type offsetWaiter struct {
	at    time.Time
	ch    chan time.Time
	timer *time.Timer
}

// NewOffsetClock returns a clock whose Now is start at the moment it is
// made, and that advances with real time from there.
func NewOffsetClock(start time.Time) *OffsetClock {
	return &OffsetClock{offset: time.Until(start), waiters: map[uint64]*offsetWaiter{}}
}

// Now returns the system time plus the clock's offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

func (c *OffsetClock) now() time.Time {
	// Round(0) drops the monotonic reading, which the offset would not move.
	return time.Now().Add(c.offset).Round(0)
}

// After returns a channel that receives the clock's time once d has passed
// on the clock: in real time, or sooner when a skip moves the clock past it.
func (c *OffsetClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now()
		return ch
	}
	c.next++
	id := c.next
	w := &offsetWaiter{at: c.now().Add(d), ch: ch}
	w.timer = time.AfterFunc(d, func() { c.fire(id) })
	c.waiters[id] = w
	return ch
}

// fire sends the clock's time to waiter id, unless it has fired already.
func (c *OffsetClock) fire(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.waiters[id]; ok {
		delete(c.waiters, id)
		w.ch <- c.now()
	}
}

// SkipTo moves the clock forward to t (never backwards) and fires the
// timers that are then due. Time goes on at real speed from t.
func (c *OffsetClock) SkipTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := t.Sub(c.now()); d > 0 {
		c.offset += d
	}
	now := c.now()
	for id, w := range c.waiters {
		if !w.at.After(now) {
			w.timer.Stop()
			delete(c.waiters, id)
			w.ch <- now
		}
	}
}

// Skip moves the clock forward by d; see [OffsetClock.SkipTo].
func (c *OffsetClock) Skip(d time.Duration) { c.SkipTo(c.Now().Add(d)) }
