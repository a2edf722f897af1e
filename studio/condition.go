package studio

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Condition types of split-based-on transitions: exactly the ones Studio
// has (the type enum of Studio's split-based-on widget; the predicates of
// https://www.twilio.com/docs/studio/widget-library/split-based-on).
const (
	CondEqualTo           = "equal_to"
	CondNotEqualTo        = "not_equal_to"
	CondMatchesAnyOf      = "matches_any_of"
	CondDoesNotMatchAnyOf = "does_not_match_any_of"
	CondIsBlank           = "is_blank"
	CondIsNotBlank        = "is_not_blank"
	CondRegex             = "regex"
	CondContains          = "contains"
	CondDoesNotContain    = "does_not_contain"
	CondStartsWith        = "starts_with"
	CondDoesNotStartWith  = "does_not_start_with"
	CondLessThan          = "less_than"
	CondGreaterThan       = "greater_than"
	CondIsBeforeTime      = "is_before_time"
	CondIsAfterTime       = "is_after_time"
	CondIsBeforeDate      = "is_before_date"
	CondIsAfterDate       = "is_after_date"
)

// ConditionTypes lists Studio's condition types, in the order Studio's
// editor offers them.
var ConditionTypes = []string{
	CondEqualTo, CondNotEqualTo, CondMatchesAnyOf, CondDoesNotMatchAnyOf,
	CondIsBlank, CondIsNotBlank, CondRegex, CondContains, CondDoesNotContain,
	CondStartsWith, CondDoesNotStartWith, CondLessThan, CondGreaterThan,
	CondIsBeforeTime, CondIsAfterTime, CondIsBeforeDate, CondIsAfterDate,
}

// Split events: a match transition holds conditions; noMatch is taken
// when no match transition's conditions all hold.
const (
	EventMatch   = "match"
	EventNoMatch = "noMatch"
)

// ErrBadCondition matches the errors of [Condition.Holds] and
// [State.Route] for a condition that cannot be evaluated: a type Studio
// does not have, a bound that is not a number, a time or date that is
// not in a form Holds reads, a regex that does not compile.
var ErrBadCondition = errors.New("bad condition")

// Holds reports whether the condition holds for value, the split's
// input as rendered (Studio's "Variable to Test", the subject of every
// condition), as Studio evaluates it. Twilio's widget page says only that
// "Studio conditions are not case-sensitive and automatically trim
// leading and trailing spaces of the values"
// (https://www.twilio.com/docs/studio/widget-library/split-based-on), so
// value and c.Value are trimmed and compared without regard to case.
// Where the page says nothing, Holds makes the narrow choice noted:
//
//   - equal_to, not_equal_to: the whole value.
//   - matches_any_of, does_not_match_any_of: c.Value is a comma list
//     ("YES, Y,yeah"), as Studio's editor writes it; each item is
//     trimmed; empty items (a trailing comma) are ignored.
//   - is_blank, is_not_blank: whether value is empty once trimmed
//     (c.Value is ignored).
//   - contains, does_not_contain, starts_with, does_not_start_with:
//     substrings; an empty c.Value is contained in, and starts, anything.
//   - less_than, greater_than: strict numeric comparisons. Both sides are
//     decimals, optionally signed ("42", "-1.5", "+3", ".5"); c.Value that
//     is not one is an error. A value that is not a number, including
//     "1,5", "1e3", "1 000", "0x10", "Inf" and "", makes both conditions
//     false (our choice: the page does not say; this never routes a reply
//     that is not a number as if it were one).
//   - regex: c.Value in Go's RE2 syntax (Studio's flavour is not
//     documented: patterns with look-around or back-references are
//     errors), matched against the trimmed value without regard to case
//     (the page's general rule), anywhere in it unless anchored with ^ and
//     $ (undocumented: FromFlow anchors every pattern it writes, so that
//     its exports mean the same either way).
//   - is_before_time, is_after_time: strict comparisons of a time of day.
//     c.Value is "HH:MM" or "HH:MM:SS" on a 24-hour clock, or "H:MM AM"
//     (12-hour, with or without the space; "12:00 PM" is noon). The value
//     tested is a time of day in the same forms, or a timestamp (RFC 3339
//     "2026-12-06T09:30:00Z", or RFC 1123 with a numeric zone as Twilio
//     writes dates, "Sun, 06 Dec 2026 09:30:00 +0000"), whose time of day
//     is taken in UTC, the zone Studio reports times in. A value that is
//     neither makes both conditions false.
//   - is_before_date, is_after_date: strict comparisons of a calendar
//     date. c.Value is "YYYY-MM-DD" (slashed dates are refused: "01/02/2026"
//     is the 2nd of January or the 1st of February depending on who wrote
//     it). The value tested is a date in that form, or a timestamp as
//     above, whose date is taken in UTC. A value that is neither makes
//     both conditions false.
//
// A type Studio does not have (including is_between, is_greater_than and
// is_less_than, which Studio never had) or a malformed c.Value is an
// error wrapping [ErrBadCondition]; the error names the type, never the
// value tested.
func (c Condition) Holds(value string) (bool, error) {
	v := strings.TrimSpace(value)
	want := strings.TrimSpace(c.Value)
	// lower is for the types that compare without case, and only them:
	// the value of a regex condition can be long (an opt-out pattern), and
	// lowering it on every reply took most of the time of reading one.
	lower := func() (string, string) { return strings.ToLower(v), strings.ToLower(want) }
	switch c.Type {
	case CondEqualTo:
		return strings.EqualFold(v, want), nil
	case CondNotEqualTo:
		return !strings.EqualFold(v, want), nil
	case CondMatchesAnyOf, CondDoesNotMatchAnyOf:
		found := false
		for item := range strings.SplitSeq(want, ",") {
			if item = strings.TrimSpace(item); item != "" && strings.EqualFold(v, item) {
				found = true
				break
			}
		}
		return found == (c.Type == CondMatchesAnyOf), nil
	case CondIsBlank:
		return v == "", nil
	case CondIsNotBlank:
		return v != "", nil
	case CondContains:
		lv, lwant := lower()
		return strings.Contains(lv, lwant), nil
	case CondDoesNotContain:
		lv, lwant := lower()
		return !strings.Contains(lv, lwant), nil
	case CondStartsWith:
		lv, lwant := lower()
		return strings.HasPrefix(lv, lwant), nil
	case CondDoesNotStartWith:
		lv, lwant := lower()
		return !strings.HasPrefix(lv, lwant), nil
	case CondGreaterThan, CondLessThan:
		bound, ok := number(want)
		if !ok {
			return false, fmt.Errorf("studio: %s condition: bound %q is not a number: %w", c.Type, c.Value, ErrBadCondition)
		}
		n, ok := number(v)
		if !ok {
			return false, nil
		}
		if c.Type == CondGreaterThan {
			return n > bound, nil
		}
		return n < bound, nil
	case CondRegex:
		re, err := compileCondition(c.Value)
		if err != nil {
			return false, err
		}
		return re.MatchString(v), nil
	case CondIsBeforeTime, CondIsAfterTime:
		bound, ok := timeOfDay(want)
		if !ok {
			return false, fmt.Errorf("studio: %s condition: %q is not a time of day such as 17:30 or 5:30 PM: %w", c.Type, c.Value, ErrBadCondition)
		}
		t, ok := timeOfDay(v)
		if !ok {
			ts, ok := timestamp(v)
			if !ok {
				return false, nil
			}
			ts = ts.UTC()
			t = ts.Sub(time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC))
		}
		if c.Type == CondIsBeforeTime {
			return t < bound, nil
		}
		return t > bound, nil
	case CondIsBeforeDate, CondIsAfterDate:
		bound, err := time.Parse(time.DateOnly, want)
		if err != nil {
			return false, fmt.Errorf("studio: %s condition: %q is not a date YYYY-MM-DD: %w", c.Type, c.Value, ErrBadCondition)
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			ts, ok := timestamp(v)
			if !ok {
				return false, nil
			}
			ts = ts.UTC()
			d = time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
		}
		if c.Type == CondIsBeforeDate {
			return d.Before(bound), nil
		}
		return d.After(bound), nil
	}
	return false, fmt.Errorf("studio: condition type %q is not one of Studio's: %w", c.Type, ErrBadCondition)
}

// number parses a decimal number such as "42", "-1.5", "+3" or ".5".
func number(s string) (float64, bool) {
	if s == "" || strings.ContainsAny(s, "xXpPeEiInN_") { // no hex, exponents, Inf, NaN or underscores
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// timeOfDayRE reads the times of day Holds takes: 24-hour "HH:MM[:SS]"
// or 12-hour "H:MM[:SS] AM/PM".
var timeOfDayRE = regexp.MustCompile(`(?i)^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm)?$`)

// timeOfDay parses a time of day as the time since midnight.
func timeOfDay(s string) (time.Duration, bool) {
	m := timeOfDayRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec := 0
	if m[3] != "" {
		sec, _ = strconv.Atoi(m[3])
	}
	if mi > 59 || sec > 59 {
		return 0, false
	}
	switch strings.ToLower(m[4]) {
	case "":
		if h > 23 {
			return 0, false
		}
	case "am", "pm":
		if h < 1 || h > 12 {
			return 0, false
		}
		h %= 12
		if strings.EqualFold(m[4], "pm") {
			h += 12
		}
	}
	return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(sec)*time.Second, true
}

// timestamp parses an RFC 3339 timestamp or an RFC 1123 date with a
// numeric zone, as Twilio's APIs write dates.
func timestamp(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, time.RFC1123Z} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// regexCache keeps compiled condition patterns: splits are evaluated on
// every reply, and definitions hold few distinct patterns.
var regexCache sync.Map // pattern -> *regexp.Regexp

func compileCondition(pattern string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		return nil, fmt.Errorf("studio: regex condition: %v: %w", err, ErrBadCondition)
	}
	regexCache.Store(pattern, re)
	return re, nil
}

// Route evaluates a split-based-on widget on value, its input as
// rendered: the first match transition, in order, all of whose
// conditions hold (Studio ANDs the conditions of a transition) is taken,
// giving its Next and the event "match"; else the noMatch transition's
// Next (empty if there is none: the flow ends) and "noMatch". A match
// transition with no conditions never holds. A condition that cannot be
// evaluated is a *[StateError] naming the widget and wrapping
// [ErrBadCondition]; conditions after the first that fails in a
// transition are not evaluated, nor transitions after the one taken.
func (s *State) Route(value string) (next, event string, err error) {
	for _, t := range s.Transitions {
		if t.Event != EventMatch || len(t.Conditions) == 0 {
			continue
		}
		all := true
		for _, c := range t.Conditions {
			ok, err := c.Holds(value)
			if err != nil {
				return "", "", &StateError{State: s.Name, Type: s.Type, Err: err}
			}
			if !ok {
				all = false
				break
			}
		}
		if all {
			return t.Next, EventMatch, nil
		}
	}
	next, _ = s.Next(EventNoMatch)
	return next, EventNoMatch, nil
}
