// Package clocktest gives tests clocks that start from a fixed instant, so
// that a test gives the same result whenever and wherever it runs: at night
// in New York, on the day clocks change, in any TZ.
//
// A test that only needs "some time" takes [Start] (or [Manual], a clock
// that moves when told to); a test that needs real elapsed time (rate
// limits, leases, a process killed mid-campaign) takes [Real], a clock that
// runs at real speed from Start. A test that means "quiet hours do not
// matter here" says so with [outreach.AnyHour]; one that tests quiet hours
// picks its own instants.
//
// The environment variable OUTREACH_TEST_START (an RFC 3339 instant, such
// as 2026-11-01T06:30:00Z) moves every test's start instant, to prove the
// suite green at any hour:
//
//	OUTREACH_TEST_START=2026-03-08T07:30:00Z go test -race -count=1 ./...
package clocktest

import (
	"os"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// EnvStart names the environment variable that moves [Start].
const EnvStart = "OUTREACH_TEST_START"

// DefaultStart is the start instant of tests when OUTREACH_TEST_START is
// unset: Tuesday 10 March 2026, 19:00 UTC, which is 15:00 in New York and
// 09:00 in Honolulu (inside the default sending window in every US zone),
// two days after the US moved its clocks forward.
var DefaultStart = time.Date(2026, time.March, 10, 19, 0, 0, 0, time.UTC)

// Start returns the instant tests start from: OUTREACH_TEST_START when it
// is set, else [DefaultStart]. A value that is not RFC 3339 fails the test.
func Start(tb testing.TB) time.Time {
	tb.Helper()
	v := os.Getenv(EnvStart)
	if v == "" {
		return DefaultStart
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		tb.Fatalf("clocktest: %s=%q is not an RFC 3339 instant such as 2026-11-01T06:30:00Z: %v", EnvStart, v, err)
	}
	return t.UTC()
}

// Real returns a clock that runs at real speed from [Start].
func Real(tb testing.TB) *outreach.OffsetClock {
	tb.Helper()
	return outreach.NewOffsetClock(Start(tb))
}

// Manual returns a clock set to [Start] that moves only when told to.
func Manual(tb testing.TB) *outreach.ManualClock {
	tb.Helper()
	return outreach.NewManualClock(Start(tb))
}
