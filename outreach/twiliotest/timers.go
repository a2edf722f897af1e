package twiliotest

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// timer is a function due at a time of the server's clock; s.mu guards
// the server's list of them.
type timer struct {
	at  time.Time
	seq uint64
	fn  func(ctx context.Context)
}

// AfterFunc arranges for fn to run once the server's clock reaches at: it
// runs in [Server.Step] (or [Server.Run]) with Step's context and no lock
// held, so it may call the fake's API and the methods of s. Timers due by
// the same Step run in the order of their times (ties in the order they
// were set), merged with the texts from phones by time; a text and a
// timer due at the same instant: the text first. A timer due at or before
// the clock's current time runs at the next Step.
//
// stop cancels the timer; it reports true if that kept fn from running,
// false if fn already ran, is running or was stopped. This is what the
// studio package's interpreter times a send-and-wait-for-reply's timeout
// with, on the fake's clock.
func (s *Server) AfterFunc(at time.Time, fn func(ctx context.Context)) (stop func() bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	t := &timer{at: at, seq: s.seq, fn: fn}
	i, _ := slices.BinarySearchFunc(s.timers, t, compareTimers)
	s.timers = slices.Insert(s.timers, i, t)
	s.wakeUp()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.timers {
			if x == t {
				s.timers = slices.Delete(s.timers, i, i+1)
				return true
			}
		}
		return false
	}
}

func compareTimers(a, b *timer) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// Timers returns how many timers set with [Server.AfterFunc] are pending.
func (s *Server) Timers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.timers)
}

// Clock returns the server's clock (Options.Clock).
func (s *Server) Clock() outreach.Clock { return s.clock }

// dueTimers removes and returns the timers due by now, in order. Called
// with s.mu held.
func (s *Server) dueTimers(now time.Time) []*timer {
	n := 0
	for n < len(s.timers) && !s.timers[n].at.After(now) {
		n++
	}
	if n == 0 {
		return nil
	}
	out := slices.Clone(s.timers[:n])
	s.timers = slices.Delete(s.timers, 0, n)
	return out
}

// wakeUp tells a waiting [Server.Run] that something new is scheduled.
// Called with s.mu held.
func (s *Server) wakeUp() {
	close(s.wake)
	s.wake = make(chan struct{})
}
