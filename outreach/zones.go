package outreach

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxZones is the most time zones a number may span for [RecipientZones] to
// use them all. A number with more, such as a toll-free number, which
// phonenumbers maps to every zone of North America, has no useful zone.
const MaxZones = 3

// ErrUnknownZone reports a time zone name that is empty or not a known IANA
// name. [LoadZones] returns it wrapped, with the name and what to do.
var ErrUnknownZone = errors.New("outreach: unknown time zone")

// Window is the daily sending window of quiet hours: messages go out only
// between Start (inclusive) and End (exclusive), both read on the
// recipient's local wall clock as offsets from midnight. With the
// [DefaultWindow], 08:00:00 is inside and 21:00:00 is outside.
//
// Wall-clock times are what count: on a day when clocks change, the window
// still opens at 08:00 and closes at 21:00 local time, whatever the elapsed
// time since midnight.
type Window struct {
	Start, End time.Duration
}

// DefaultWindow is 08:00 to 21:00 local time.
var DefaultWindow = Window{Start: 8 * time.Hour, End: 21 * time.Hour}

// AnyHour is the window that is always open: quiet hours off. Tests that
// mean "quiet hours do not matter here" say so with it.
var AnyHour = Window{Start: 0, End: day}

// nextHorizon is how far ahead [Window.Next] looks for an allowed instant,
// and how far its end may lie after its start.
const nextHorizon = 48 * time.Hour

const day = 24 * time.Hour

// Validate reports whether w is a usable window: 0 <= Start < End <= 24h.
// Start == 0 and End == 24h together mean "at any time".
func (w Window) Validate() error {
	if w.Start < 0 || w.End > day || w.Start >= w.End {
		return fmt.Errorf("outreach: sending window %s is not valid: its start must come before its end, both between 00:00 and 24:00", w)
	}
	return nil
}

// ParseWindow reads a window written HH:MM-HH:MM, such as "08:00-21:00";
// "00:00-24:00" means at any hour.
func ParseWindow(s string) (Window, error) {
	bad := fmt.Errorf("outreach: sending window %q must be HH:MM-HH:MM, such as 08:00-21:00 (00:00-24:00 sends at any hour)", s)
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, bad
	}
	clock := func(s string) (time.Duration, bool) {
		h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
			return 0, false
		}
		return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
	}
	start, ok1 := clock(a)
	end, ok2 := clock(b)
	if !ok1 || !ok2 {
		return Window{}, bad
	}
	w := Window{Start: start, End: end}
	return w, w.Validate()
}

// String returns the window as "08:00-21:00".
func (w Window) String() string {
	return clockString(w.Start) + "-" + clockString(w.End)
}

// clockString writes an offset from midnight as HH:MM, with seconds only
// when there are some.
func clockString(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	if s != 0 || d%time.Second != 0 {
		return fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, s)
	}
	return fmt.Sprintf("%s%02d:%02d", sign, h, m)
}

// Contains reports whether t is inside the window in every one of zones.
// With no zones, t's own location is used; a nil zone means UTC. An invalid
// window contains nothing.
func (w Window) Contains(t time.Time, zones []*time.Location) bool {
	if w.Validate() != nil {
		return false
	}
	if len(zones) == 0 {
		return w.inside(t, t.Location())
	}
	for _, loc := range zones {
		if !w.inside(t, loc) {
			return false
		}
	}
	return true
}

// inside reports whether t is inside the window in loc (UTC when nil).
func (w Window) inside(t time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	d := timeOfDay(t.In(loc))
	return w.Start <= d && d < w.End
}

// timeOfDay returns the wall-clock time of t in its own location, as an
// offset from midnight.
func timeOfDay(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}

// Next returns the earliest instant at or after t that is inside the window
// in every one of zones (start is t itself when t is already inside), and
// the end of the allowed interval that begins there: the first instant
// after start that is outside the window in some zone. A provider's
// validity period can be set from end. For a window that never closes, end
// is 48 hours after start.
//
// ok is false when no allowed instant comes within 48 hours of t (the
// windows of zones never overlap), or when w is not valid. With no zones,
// t's own location is used; a nil zone means UTC. start and end are in t's
// location.
//
// Next reads every zone's wall clock, through its daylight-saving
// transitions: on the day New York springs forward, [DefaultWindow] still
// opens at 08:00 EDT; a window boundary that falls in a skipped hour takes
// effect when the clocks jump past it, and one in a repeated hour applies
// to both passes.
func (w Window) Next(t time.Time, zones []*time.Location) (start, end time.Time, ok bool) {
	if w.Validate() != nil {
		return time.Time{}, time.Time{}, false
	}
	if len(zones) == 0 {
		zones = []*time.Location{t.Location()}
	}

	// Walk forward from change point to change point. Each zone's state
	// (inside or outside) can only change where its wall clock reaches
	// Start or End, or where its UTC offset changes; between such points it
	// is constant, so nothing is skipped.
	limit := t.Add(nextHorizon)
	u := t
	for {
		in, next := w.step(u, zones)
		if in {
			break
		}
		if next.After(limit) {
			return time.Time{}, time.Time{}, false
		}
		u = next
	}
	start = u

	limit = start.Add(nextHorizon)
	end = start
	for {
		in, next := w.step(end, zones)
		if !in {
			break
		}
		if !next.Before(limit) {
			end = limit
			break
		}
		end = next
	}
	if !start.Equal(t) {
		start = start.In(t.Location())
	}
	return start, end.In(t.Location()), true
}

// step reports whether u is inside the window in every zone. If it is,
// next is the first instant after u at which that may stop being true; if
// it is not, next is the first instant after u at which it may become true.
// next is always after u.
func (w Window) step(u time.Time, zones []*time.Location) (allIn bool, next time.Time) {
	allIn = true
	var soonestOut, latestIn time.Time
	for _, loc := range zones {
		in, change := w.zoneStep(u, loc)
		if in {
			if soonestOut.IsZero() || change.Before(soonestOut) {
				soonestOut = change
			}
			continue
		}
		allIn = false
		if change.After(latestIn) {
			latestIn = change
		}
	}
	if allIn {
		return true, soonestOut
	}
	// Every zone that is outside must come inside; none can before its own
	// change point, so the latest of those is the earliest candidate.
	return false, latestIn
}

// zoneStep reports whether u is inside the window in loc, and the first
// instant after u at which that may change: where the wall clock reaches
// the next window boundary, or where loc's UTC offset changes, whichever
// comes first.
func (w Window) zoneStep(u time.Time, loc *time.Location) (in bool, change time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	lt := u.In(loc)
	d := timeOfDay(lt)
	var wait time.Duration
	switch {
	case d < w.Start:
		wait = w.Start - d
	case d < w.End:
		in, wait = true, w.End-d
	default:
		wait = day - d + w.Start
	}
	change = u.Add(wait)
	if _, zoneEnd := lt.ZoneBounds(); !zoneEnd.IsZero() && zoneEnd.Before(change) {
		change = zoneEnd
	}
	return in, change
}

// RecipientZones returns the IANA zones whose sending windows all apply to
// r, for [Conversation.Zones]:
//
//   - r.TimeZone when it is set and is a known zone name;
//   - else the zones of r.Phone ([PhoneZones]): usually one, sometimes
//     several (area code 208 spans America/Boise and America/Los_Angeles,
//     so with the [DefaultWindow] sending is allowed from 09:00 to 21:00
//     Boise time, inside both windows).
//
// It returns nil, meaning "use the campaign's default zone", when the zone
// cannot be told: no known zone, more than [MaxZones] zones (a toll-free
// or other non-geographic number), or zones whose windows w do not overlap.
//
// Overlap must hold all year round, so that the answer does not depend on
// today's date: from midnight UTC on every day of a fixed reference year
// (2026), the window must open in all the zones at once within 26 hours,
// that is on every day, under standard and daylight time alike.
// The answer for each set of zones is computed once and cached.
func RecipientZones(r Recipient, w Window) []string {
	if name := strings.TrimSpace(r.TimeZone); name != "" {
		if _, err := loadLocation(name); err == nil {
			return []string{name}
		}
	}
	zones := PhoneZones(r.Phone)
	if len(zones) == 0 || len(zones) > MaxZones {
		return nil
	}
	locs := make([]*time.Location, len(zones))
	for i, name := range zones {
		loc, err := loadLocation(name)
		if err != nil {
			return nil
		}
		locs[i] = loc
	}
	if len(locs) > 1 && !w.overlapsAllYear(zones, locs) {
		return nil
	}
	return zones
}

// overlapReferenceYear is the year over which overlapsAllYear checks
// windows: one full cycle of standard and daylight time.
const overlapReferenceYear = 2026

// overlapCache maps a window and a list of zone names to whether the
// window overlaps in all of them every day.
var overlapCache sync.Map // string -> bool

// overlapsAllYear reports whether the window is open in all locs at once on
// every day of the reference year. names are the zones' names, for the
// cache key.
func (w Window) overlapsAllYear(names []string, locs []*time.Location) bool {
	key := strconv.FormatInt(int64(w.Start), 10) + "-" + strconv.FormatInt(int64(w.End), 10) + "|" + strings.Join(names, ",")
	if v, ok := overlapCache.Load(key); ok {
		return v.(bool)
	}
	overlap := true
	first := time.Date(overlapReferenceYear, time.January, 1, 0, 0, 0, 0, time.UTC)
	for d := first; d.Year() == overlapReferenceYear; d = d.AddDate(0, 0, 1) {
		start, _, ok := w.Next(d, locs)
		if !ok || start.Sub(d) > day+2*time.Hour {
			overlap = false
			break
		}
	}
	overlapCache.Store(key, overlap)
	return overlap
}

// LoadZones loads the named IANA zones, for [Window.Next] and
// [Window.Contains]. With no names it loads fallback alone (the campaign's
// default zone). An empty or unknown name, "Local" included (it depends on
// the machine), gives an error that matches [ErrUnknownZone] and names it.
//
// Zone data comes from the system, or from the time/tzdata package when
// the program imports it; a program that may run where /usr/share/zoneinfo
// is missing (a minimal container image) should import time/tzdata.
func LoadZones(names []string, fallback string) ([]*time.Location, error) {
	if len(names) == 0 {
		names = []string{fallback}
	}
	locs := make([]*time.Location, len(names))
	for i, name := range names {
		loc, err := loadLocation(name)
		if err != nil {
			return nil, err
		}
		locs[i] = loc
	}
	return locs, nil
}

// locationCache maps zone names to loaded locations: time.LoadLocation
// reads and parses zone data on every call. Only known names are stored,
// so the cache is bounded by the size of the zone database.
var locationCache sync.Map // string -> *time.Location

// loadLocation loads an IANA zone by name, refusing "" and "Local".
func loadLocation(name string) (*time.Location, error) {
	if v, ok := locationCache.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" {
		return nil, fmt.Errorf("%w: no zone given: set the campaign's default zone, an IANA name such as America/New_York", ErrUnknownZone)
	}
	if name == "Local" {
		return nil, fmt.Errorf("%w %q: it depends on the machine; use an IANA name such as America/New_York", ErrUnknownZone, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		if !printableZoneName(name) {
			return nil, fmt.Errorf("%w (the value does not look like a zone name): use an IANA name such as America/New_York", ErrUnknownZone)
		}
		return nil, fmt.Errorf("%w %q: use an IANA name such as America/New_York", ErrUnknownZone, name)
	}
	locationCache.Store(name, loc)
	return loc, nil
}

// printableZoneName reports whether a bad zone name may be quoted in an
// error: short, and without the run of digits that a phone number (a value
// from the wrong CSV column) would have.
func printableZoneName(name string) bool {
	return len(name) <= 64 && countDigitsAnywhere(name) < 4
}

// countDigitsAnywhere returns the number of ASCII digits in s.
func countDigitsAnywhere(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			n++
		}
	}
	return n
}
