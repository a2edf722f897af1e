package outreach

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone data independent of the machine
)

// zoneTestLoc loads a zone or fails the test.
func zoneTestLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func zoneTestLocs(t testing.TB, names ...string) []*time.Location {
	t.Helper()
	locs := make([]*time.Location, len(names))
	for i, n := range names {
		locs[i] = zoneTestLoc(t, n)
	}
	return locs
}

// zoneTestUTC parses "2006-01-02 15:04:05" in UTC.
func zoneTestUTC(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.DateTime, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWindowValidate(t *testing.T) {
	tests := []struct {
		w  Window
		ok bool
	}{
		{DefaultWindow, true},
		{Window{0, 24 * time.Hour}, true},
		{Window{0, time.Nanosecond}, true},
		{Window{21 * time.Hour, 8 * time.Hour}, false},
		{Window{8 * time.Hour, 8 * time.Hour}, false},
		{Window{-time.Hour, 8 * time.Hour}, false},
		{Window{8 * time.Hour, 25 * time.Hour}, false},
		{Window{}, false},
	}
	for _, tt := range tests {
		if err := tt.w.Validate(); (err == nil) != tt.ok {
			t.Errorf("%v.Validate() = %v; want ok %v", tt.w, err, tt.ok)
		}
	}
	if s := (Window{8*time.Hour + 30*time.Minute, 21*time.Hour + 15*time.Second}).String(); s != "08:30-21:00:15" {
		t.Errorf("String() = %q", s)
	}
}

func TestWindowContains(t *testing.T) {
	ny := zoneTestLocs(t, "America/New_York")
	tests := []struct {
		at    string // UTC
		zones []string
		want  bool
	}{
		{"2026-01-15 12:59:59", []string{"America/New_York"}, false}, // 07:59:59 EST
		{"2026-01-15 13:00:00", []string{"America/New_York"}, true},  // 08:00 EST
		{"2026-01-16 01:59:59", []string{"America/New_York"}, true},  // 20:59:59 EST
		{"2026-01-16 02:00:00", []string{"America/New_York"}, false}, // 21:00 EST
		{"2026-07-15 12:00:00", []string{"America/New_York"}, true},  // 08:00 EDT
		{"2026-07-15 11:59:59", []string{"America/New_York"}, false}, // 07:59:59 EDT
		{"2026-07-15 15:00:00", []string{"America/Phoenix"}, true},   // 08:00 MST, no DST
		{"2026-07-15 14:59:59", []string{"America/Phoenix"}, false},
		{"2026-07-15 18:00:00", []string{"Pacific/Honolulu"}, true}, // 08:00 HST
		{"2026-07-16 07:00:00", []string{"Pacific/Honolulu"}, false},
		{"2026-07-15 02:30:00", []string{"Asia/Kolkata"}, true}, // 08:00 IST
		{"2026-07-15 02:29:59", []string{"Asia/Kolkata"}, false},
		{"2026-07-15 15:29:59", []string{"Asia/Kolkata"}, true},
		{"2026-07-15 15:30:00", []string{"Asia/Kolkata"}, false},
		// 208: both Boise and Los Angeles must be inside.
		{"2026-01-15 15:30:00", []string{"America/Boise", "America/Los_Angeles"}, false}, // 08:30 MST, 07:30 PST
		{"2026-01-15 16:00:00", []string{"America/Boise", "America/Los_Angeles"}, true},  // 09:00 MST
		{"2026-01-16 03:59:59", []string{"America/Boise", "America/Los_Angeles"}, true},  // 20:59:59 MST
		{"2026-01-16 04:00:00", []string{"America/Boise", "America/Los_Angeles"}, false},
	}
	for _, tt := range tests {
		at := zoneTestUTC(t, tt.at)
		if got := DefaultWindow.Contains(at, zoneTestLocs(t, tt.zones...)); got != tt.want {
			t.Errorf("Contains(%s UTC, %v) = %v; want %v", tt.at, tt.zones, got, tt.want)
		}
	}
	// No zones: t's own location.
	if !DefaultWindow.Contains(zoneTestUTC(t, "2026-01-15 13:00:00").In(ny[0]), nil) {
		t.Error("Contains(08:00 New York, no zones) = false")
	}
	if DefaultWindow.Contains(zoneTestUTC(t, "2026-01-15 13:00:00").In(ny[0]), []*time.Location{nil}) == false {
		t.Error("Contains(13:00 UTC, nil zone) = false; a nil zone is UTC")
	}
	if (Window{}).Contains(zoneTestUTC(t, "2026-01-15 13:00:00"), ny) {
		t.Error("an invalid window contains an instant")
	}
}

func TestWindowNext(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name       string
		w          Window
		zones      []string
		at         string // UTC
		start, end string // UTC; empty start means ok == false
	}{
		{"inside", DefaultWindow, []string{"America/New_York"}, "2026-01-15 17:00:00", "2026-01-15 17:00:00", "2026-01-16 02:00:00"},
		{"at opening", DefaultWindow, []string{"America/New_York"}, "2026-01-15 13:00:00", "2026-01-15 13:00:00", "2026-01-16 02:00:00"},
		{"before opening", DefaultWindow, []string{"America/New_York"}, "2026-01-15 11:00:00", "2026-01-15 13:00:00", "2026-01-16 02:00:00"},
		{"at closing", DefaultWindow, []string{"America/New_York"}, "2026-01-16 02:00:00", "2026-01-16 13:00:00", "2026-01-17 02:00:00"},
		{"last second", DefaultWindow, []string{"America/New_York"}, "2026-01-16 01:59:59", "2026-01-16 01:59:59", "2026-01-16 02:00:00"},
		// New York springs forward on 2026-03-08 at 02:00 and falls back on 2026-11-01 at 02:00.
		{"spring forward", DefaultWindow, []string{"America/New_York"}, "2026-03-08 03:00:00", "2026-03-08 12:00:00", "2026-03-09 01:00:00"},
		{"fall back", DefaultWindow, []string{"America/New_York"}, "2026-11-01 02:00:00", "2026-11-01 13:00:00", "2026-11-02 02:00:00"},
		{"window over skipped hour", Window{h, 4 * h}, []string{"America/New_York"}, "2026-03-08 05:30:00", "2026-03-08 06:00:00", "2026-03-08 08:00:00"},
		{"opening in skipped hour", Window{150 * time.Minute, 5 * h}, []string{"America/New_York"}, "2026-03-08 06:00:00", "2026-03-08 07:00:00", "2026-03-08 09:00:00"},
		{"repeated hour, first pass", Window{90 * time.Minute, 3 * h}, []string{"America/New_York"}, "2026-11-01 04:00:00", "2026-11-01 05:30:00", "2026-11-01 06:00:00"},
		{"repeated hour, second pass", Window{90 * time.Minute, 3 * h}, []string{"America/New_York"}, "2026-11-01 06:00:00", "2026-11-01 06:30:00", "2026-11-01 08:00:00"},
		{"Phoenix", DefaultWindow, []string{"America/Phoenix"}, "2026-07-01 14:30:00", "2026-07-01 15:00:00", "2026-07-02 04:00:00"},
		{"Honolulu", DefaultWindow, []string{"Pacific/Honolulu"}, "2026-07-02 08:00:00", "2026-07-02 18:00:00", "2026-07-03 07:00:00"},
		{"Kolkata", DefaultWindow, []string{"Asia/Kolkata"}, "2026-07-01 00:00:00", "2026-07-01 02:30:00", "2026-07-01 15:30:00"},
		{"208 winter", DefaultWindow, []string{"America/Boise", "America/Los_Angeles"}, "2026-01-15 14:00:00", "2026-01-15 16:00:00", "2026-01-16 04:00:00"},
		{"208 summer", DefaultWindow, []string{"America/Boise", "America/Los_Angeles"}, "2026-07-01 12:00:00", "2026-07-01 15:00:00", "2026-07-02 03:00:00"},
		{"Phoenix and Denver", DefaultWindow, []string{"America/Phoenix", "America/Denver"}, "2026-07-01 12:00:00", "2026-07-01 15:00:00", "2026-07-02 03:00:00"},
		{"Honolulu and New York", DefaultWindow, []string{"Pacific/Honolulu", "America/New_York"}, "2026-01-15 12:00:00", "2026-01-15 18:00:00", "2026-01-16 02:00:00"},
		{"Kolkata and New York, inside", DefaultWindow, []string{"Asia/Kolkata", "America/New_York"}, "2026-07-01 13:00:00", "2026-07-01 13:00:00", "2026-07-01 15:30:00"},
		{"Kolkata and New York", DefaultWindow, []string{"Asia/Kolkata", "America/New_York"}, "2026-07-01 00:00:00", "2026-07-01 12:00:00", "2026-07-01 15:30:00"},
		{"windows never overlap", DefaultWindow, []string{"Europe/London", "Asia/Shanghai", "America/Los_Angeles"}, "2026-01-15 00:00:00", "", ""},
		{"always open", Window{0, 24 * h}, []string{"America/New_York"}, "2026-01-15 00:00:00", "2026-01-15 00:00:00", "2026-01-17 00:00:00"},
		{"invalid window", Window{21 * h, 8 * h}, []string{"America/New_York"}, "2026-01-15 00:00:00", "", ""},
	}
	for _, tt := range tests {
		at := zoneTestUTC(t, tt.at)
		start, end, ok := tt.w.Next(at, zoneTestLocs(t, tt.zones...))
		if tt.start == "" {
			if ok {
				t.Errorf("%s: Next = %v, %v, true; want not ok", tt.name, start, end)
			}
			continue
		}
		if !ok || !start.Equal(zoneTestUTC(t, tt.start)) || !end.Equal(zoneTestUTC(t, tt.end)) {
			t.Errorf("%s: Next(%s) = %v, %v, %v; want %s, %s", tt.name, tt.at, start.UTC(), end.UTC(), ok, tt.start, tt.end)
		}
		if start.Location() != at.Location() || end.Location() != at.Location() {
			t.Errorf("%s: Next returned times in %v, %v; want %v", tt.name, start.Location(), end.Location(), at.Location())
		}
	}
}

func TestWindowNextOwnLocation(t *testing.T) {
	ny := zoneTestLoc(t, "America/New_York")
	at := time.Date(2026, 1, 15, 6, 0, 0, 0, ny)
	start, end, ok := DefaultWindow.Next(at, nil)
	want := time.Date(2026, 1, 15, 8, 0, 0, 0, ny)
	if !ok || !start.Equal(want) || !end.Equal(want.Add(13*time.Hour)) || start.Location() != ny {
		t.Errorf("Next(06:00 New York, no zones) = %v, %v, %v; want %v", start, end, ok, want)
	}
}

// TestWindowNextBruteForce checks Next against Contains, minute by minute,
// for random instants (many near clock changes), zones and windows.
func TestWindowNextBruteForce(t *testing.T) {
	zones := []string{
		"America/New_York", "America/Phoenix", "Pacific/Honolulu", "Asia/Kolkata",
		"America/Boise", "America/Los_Angeles", "Europe/London", "Australia/Sydney",
		"Australia/Lord_Howe", // half-hour daylight saving
		"Asia/Kathmandu",      // +05:45
		"America/Havana",      // changes clocks at midnight
		"America/Santiago",    // changes clocks at midnight (24:00)
		"Pacific/Chatham",     // +12:45/+13:45
		"Antarctica/Troll",    // two-hour daylight saving
	}
	windows := []Window{
		DefaultWindow,
		{0, 6 * time.Hour},
		{0, 24 * time.Hour},
		{23 * time.Hour, 24 * time.Hour},
		{90 * time.Minute, 150 * time.Minute},
		{9 * time.Hour, 9*time.Hour + time.Minute},
	}
	// Instants near clock changes, plus random ones over the year.
	bases := []string{
		"2026-03-08 06:00:00", "2026-11-01 05:00:00", // New York
		"2026-03-29 00:30:00", "2026-10-25 00:30:00", // London
		"2026-04-04 15:00:00", "2026-10-03 15:30:00", // Sydney, Lord Howe
		"2026-03-08 04:30:00", "2026-11-01 04:30:00", // Havana
		"2026-04-05 02:30:00", "2026-09-06 03:30:00", // Santiago
	}
	rng := rand.New(rand.NewPCG(3, 4))
	cases := 60
	if testing.Short() {
		cases = 15
	}
	yearStart := zoneTestUTC(t, "2026-01-01 00:00:00")
	for i := range cases {
		var at time.Time
		if i < len(bases)*2 {
			at = zoneTestUTC(t, bases[i%len(bases)]).Add(time.Duration(rng.IntN(6*3600)-3*3600) * time.Second)
		} else {
			at = yearStart.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		}
		at = at.Add(time.Duration(rng.IntN(int(time.Minute))))
		n := 1 + rng.IntN(3)
		names := make([]string, n)
		for j := range names {
			names[j] = zones[rng.IntN(len(zones))]
		}
		if i%4 == 0 {
			names = []string{zones[i/4%len(zones)]}
		}
		w := windows[rng.IntN(len(windows))]
		locs := zoneTestLocs(t, names...)
		zoneTestCheckNext(t, w, at, locs, names)
	}
}

func zoneTestCheckNext(t *testing.T, w Window, at time.Time, locs []*time.Location, names []string) {
	t.Helper()
	start, end, ok := w.Next(at, locs)
	desc := fmt.Sprintf("%v.Next(%v, %v)", w, at.UTC(), names)
	if !ok {
		for u := at; !u.After(at.Add(nextHorizon)); u = u.Add(time.Minute) {
			if w.Contains(u, locs) {
				t.Errorf("%s: not ok, but %v is inside", desc, u.UTC())
				return
			}
		}
		return
	}
	if start.Before(at) || start.After(at.Add(nextHorizon)) || !end.After(start) {
		t.Errorf("%s = %v, %v: out of order", desc, start.UTC(), end.UTC())
		return
	}
	if !w.Contains(start, locs) {
		t.Errorf("%s: start %v is outside", desc, start.UTC())
	}
	if !start.Equal(at) && w.Contains(start.Add(-time.Nanosecond), locs) {
		t.Errorf("%s: start %v is not the earliest (1ns before is inside)", desc, start.UTC())
	}
	for u := at; u.Before(start); u = u.Add(time.Minute) {
		if w.Contains(u, locs) {
			t.Errorf("%s: start %v, but %v is inside", desc, start.UTC(), u.UTC())
			return
		}
	}
	for u := start; u.Before(end); u = u.Add(time.Minute) {
		if !w.Contains(u, locs) {
			t.Errorf("%s: end %v, but %v is outside", desc, end.UTC(), u.UTC())
			return
		}
	}
	if !end.Equal(start.Add(nextHorizon)) && w.Contains(end, locs) {
		t.Errorf("%s: end %v is inside", desc, end.UTC())
	}
}

func TestRecipientZones(t *testing.T) {
	const (
		ny       = "+14406443709"
		idaho    = "+12085550100"
		tollFree = "+18003569377"
	)
	tests := []struct {
		name string
		r    Recipient
		w    Window
		want []string
	}{
		{"zone column", Recipient{Phone: ny, TimeZone: "America/Chicago"}, DefaultWindow, []string{"America/Chicago"}},
		{"zone column with spaces", Recipient{Phone: ny, TimeZone: " America/Chicago "}, DefaultWindow, []string{"America/Chicago"}},
		{"zone column wins over several zones", Recipient{Phone: idaho, TimeZone: "America/Boise"}, DefaultWindow, []string{"America/Boise"}},
		{"bad zone column", Recipient{Phone: ny, TimeZone: "America/Nowhere"}, DefaultWindow, []string{"America/New_York"}},
		{"Local is not a zone", Recipient{Phone: ny, TimeZone: "Local"}, DefaultWindow, []string{"America/New_York"}},
		{"from number", Recipient{Phone: ny}, DefaultWindow, []string{"America/New_York"}},
		{"208 spans two zones", Recipient{Phone: idaho}, DefaultWindow, []string{"America/Boise", "America/Los_Angeles"}},
		{"208 with one-minute overlap", Recipient{Phone: idaho}, Window{9 * time.Hour, 10*time.Hour + time.Minute}, []string{"America/Boise", "America/Los_Angeles"}},
		{"208 with no overlap", Recipient{Phone: idaho}, Window{9 * time.Hour, 10 * time.Hour}, nil},
		{"208 with invalid window", Recipient{Phone: idaho}, Window{}, nil},
		{"toll-free", Recipient{Phone: tollFree}, DefaultWindow, nil},
		{"no phone", Recipient{}, DefaultWindow, nil},
		{"bad phone", Recipient{Phone: "555-1234"}, DefaultWindow, nil},
	}
	for _, tt := range tests {
		if got := RecipientZones(tt.r, tt.w); !slices.Equal(got, tt.want) {
			t.Errorf("%s: RecipientZones = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestRecipientZones208 checks the issue's example: with the default window,
// a 208 number may be messaged from 09:00 to 21:00 Boise time.
func TestRecipientZones208(t *testing.T) {
	names := RecipientZones(Recipient{Phone: "+12085550100"}, DefaultWindow)
	locs, err := LoadZones(names, "America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	boise := zoneTestLoc(t, "America/Boise")
	for _, date := range []time.Time{
		time.Date(2026, 1, 15, 6, 0, 0, 0, boise),
		time.Date(2026, 7, 15, 6, 0, 0, 0, boise),
	} {
		start, end, ok := DefaultWindow.Next(date, locs)
		if !ok || start.Hour() != 9 || start.Minute() != 0 || end.Hour() != 21 || end.Minute() != 0 || end.Day() != date.Day() {
			t.Errorf("Next(%v) = %v, %v, %v; want 09:00-21:00 Boise time", date, start, end, ok)
		}
	}
}

// TestOverlapsAllYear checks that windows must overlap in every season, not
// only on the day of the check.
func TestOverlapsAllYear(t *testing.T) {
	// Sydney is 9 hours ahead of London in the northern summer and 11 in
	// the northern winter: an 08:00-18:30 window overlaps in July only.
	names := []string{"Australia/Sydney", "Europe/London"}
	locs := zoneTestLocs(t, names...)
	w := Window{8 * time.Hour, 18*time.Hour + 30*time.Minute}
	if _, _, ok := w.Next(zoneTestUTC(t, "2026-07-01 00:00:00"), locs); !ok {
		t.Fatal("no overlap in July; the test needs one")
	}
	if _, _, ok := w.Next(zoneTestUTC(t, "2026-01-01 00:00:00"), locs); ok {
		t.Fatal("overlap in January; the test needs none")
	}
	if w.overlapsAllYear(names, locs) {
		t.Error("overlapsAllYear = true for windows that overlap only in part of the year")
	}
	if !DefaultWindow.overlapsAllYear(names[:1], locs[:1]) {
		t.Error("overlapsAllYear = false for one zone")
	}
	us := []string{"America/New_York", "America/Phoenix", "Pacific/Honolulu"}
	if !DefaultWindow.overlapsAllYear(us, zoneTestLocs(t, us...)) {
		t.Errorf("overlapsAllYear(%v) = false", us)
	}
}

func TestLoadZones(t *testing.T) {
	tests := []struct {
		names    []string
		fallback string
		want     []string // zone names; nil means an error
		errText  string
	}{
		{[]string{"America/Boise", "America/Los_Angeles"}, "America/New_York", []string{"America/Boise", "America/Los_Angeles"}, ""},
		{nil, "America/New_York", []string{"America/New_York"}, ""},
		{[]string{}, "UTC", []string{"UTC"}, ""},
		{[]string{"Asia/Calcutta"}, "", []string{"Asia/Calcutta"}, ""},
		{nil, "", nil, "set the campaign's default zone"},
		{[]string{"America/Nowhere"}, "America/New_York", nil, `"America/Nowhere"`},
		{[]string{"America/New_York", ""}, "America/New_York", nil, "no zone given"},
		{[]string{"Local"}, "America/New_York", nil, "depends on the machine"},
		{[]string{"../../etc/passwd"}, "UTC", nil, "IANA"},
		{[]string{"440-644-3709"}, "UTC", nil, "does not look like a zone name"},
	}
	for _, tt := range tests {
		locs, err := LoadZones(tt.names, tt.fallback)
		if tt.want == nil {
			if err == nil || !errors.Is(err, ErrUnknownZone) || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("LoadZones(%q, %q) error = %v; want ErrUnknownZone with %q", tt.names, tt.fallback, err, tt.errText)
			}
			if strings.Contains(err.Error(), "3709") {
				t.Errorf("LoadZones(%q) error %q quotes a number", tt.names, err)
			}
			continue
		}
		var got []string
		for _, l := range locs {
			got = append(got, l.String())
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("LoadZones(%q, %q) = %q, %v; want %q", tt.names, tt.fallback, got, err, tt.want)
		}
	}
}

func BenchmarkWindowNext(b *testing.B) {
	locs := zoneTestLocs(b, "America/Boise", "America/Los_Angeles")
	at := zoneTestUTC(b, "2026-03-07 23:00:00")
	b.ReportAllocs()
	for b.Loop() {
		DefaultWindow.Next(at, locs)
	}
}

func BenchmarkRecipientZones(b *testing.B) {
	r := Recipient{Phone: "+12085550100"}
	b.ReportAllocs()
	for b.Loop() {
		RecipientZones(r, DefaultWindow)
	}
}

// TestZonesConcurrent runs the cached look-ups from many goroutines, for
// the race detector.
func TestZonesConcurrent(t *testing.T) {
	done := make(chan bool)
	for i := range 8 {
		go func() {
			w := Window{time.Duration(8+i%3) * time.Hour, 20 * time.Hour}
			zones := RecipientZones(Recipient{Phone: "+12085550100"}, w)
			_, err := LoadZones(zones, "America/New_York")
			done <- len(zones) == 2 && err == nil
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("RecipientZones or LoadZones failed under concurrency")
		}
	}
}

func ExampleWindow_Next() {
	// A patient with a 208 (Idaho) number: Boise and Los Angeles both apply.
	zones := RecipientZones(Recipient{Phone: "+12085550100"}, DefaultWindow)
	locs, err := LoadZones(zones, "America/New_York")
	if err != nil {
		fmt.Println(err)
		return
	}
	boise, _ := time.LoadLocation("America/Boise")
	now := time.Date(2026, 1, 15, 7, 30, 0, 0, boise)
	start, end, ok := DefaultWindow.Next(now, locs)
	fmt.Println(zones)
	fmt.Println(start.Format("15:04 MST"), end.Format("15:04 MST"), ok)
	// Output:
	// [America/Boise America/Los_Angeles]
	// 09:00 MST 21:00 MST true
}
