package outreach_test

import (
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// The tests of the real-time clocks: the only tests that may read the
// system clock bare (.ci/run checks that no other test does).

func TestOffsetClockStartsWhereTold(t *testing.T) {
	start := time.Date(2026, time.July, 4, 3, 0, 0, 0, time.UTC)
	c := outreach.NewOffsetClock(start)
	now := c.Now()
	if now.Before(start) || now.Sub(start) > time.Second {
		t.Fatalf("Now = %v, want %v or just after", now, start)
	}
	time.Sleep(20 * time.Millisecond)
	if d := c.Now().Sub(now); d < 20*time.Millisecond || d > 5*time.Second {
		t.Errorf("20ms of real time moved the clock %v", d)
	}
	if sys := (outreach.SystemClock{}).Now(); sys.Sub(c.Now()) < time.Hour {
		t.Errorf("an OffsetClock from %v reads %v, the system clock %v: want it far behind", start, c.Now(), sys)
	}
}

func TestOffsetClockAfterFiresInRealTime(t *testing.T) {
	c := outreach.NewOffsetClock(time.Date(2026, time.July, 4, 3, 0, 0, 0, time.UTC))
	select {
	case <-c.After(10 * time.Millisecond):
	case <-time.After(5 * time.Second):
		t.Fatal("After(10ms) did not fire within 5s of real time")
	}
}

func TestOffsetClockSkipFiresDueTimers(t *testing.T) {
	start := time.Date(2026, time.July, 4, 3, 0, 0, 0, time.UTC)
	c := outreach.NewOffsetClock(start)
	soon, late := c.After(time.Hour), c.After(10*time.Hour)
	c.Skip(2 * time.Hour)
	select {
	case at := <-soon:
		if at.Before(start.Add(2 * time.Hour)) {
			t.Errorf("timer fired with %v, want at least %v", at, start.Add(2*time.Hour))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a 1h timer did not fire after a 2h skip")
	}
	select {
	case <-late:
		t.Fatal("a 10h timer fired after a 2h skip")
	default:
	}
	before := c.Now()
	c.SkipTo(start) // backwards: ignored
	if c.Now().Before(before) {
		t.Errorf("SkipTo into the past moved the clock back to %v", c.Now())
	}
	c.SkipTo(start.Add(11 * time.Hour))
	select {
	case <-late:
	case <-time.After(5 * time.Second):
		t.Fatal("a 10h timer did not fire after skipping to 11h")
	}
	if got := c.Now(); got.Before(start.Add(11 * time.Hour)) {
		t.Errorf("after SkipTo(+11h) Now = %v", got)
	}
}

func TestSystemClock(t *testing.T) {
	before := time.Now()
	got := outreach.SystemClock{}.Now()
	if got.Before(before) || got.Sub(before) > time.Minute {
		t.Errorf("SystemClock.Now = %v, time.Now was %v", got, before)
	}
	select {
	case <-outreach.SystemClock{}.After(time.Millisecond):
	case <-time.After(5 * time.Second):
		t.Fatal("SystemClock.After(1ms) did not fire")
	}
}
