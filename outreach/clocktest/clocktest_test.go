package clocktest_test

import (
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/clocktest"
)

func TestStart(t *testing.T) {
	t.Setenv(clocktest.EnvStart, "")
	if got := clocktest.Start(t); !got.Equal(clocktest.DefaultStart) {
		t.Errorf("Start = %v, want DefaultStart %v", got, clocktest.DefaultStart)
	}
	t.Setenv(clocktest.EnvStart, "2026-11-01T06:30:00-05:00")
	want := time.Date(2026, time.November, 1, 11, 30, 0, 0, time.UTC)
	if got := clocktest.Start(t); !got.Equal(want) {
		t.Errorf("Start with %s set = %v, want %v", clocktest.EnvStart, got, want)
	}
	if got := clocktest.Manual(t).Now(); !got.Equal(want) {
		t.Errorf("Manual().Now() = %v, want %v", got, want)
	}
	if got := clocktest.Real(t).Now(); got.Before(want) || got.After(want.Add(time.Minute)) {
		t.Errorf("Real().Now() = %v, want %v or a little after", got, want)
	}
}
