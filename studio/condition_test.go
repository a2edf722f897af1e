package studio_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/studio"
)

// holdsCase: c.Value, the value tested, and whether the condition holds.
type holdsCase struct {
	value, input string
	want         bool
}

// The examples come from Twilio's Split Based On... page (a reply "Y" or
// "N" to a reminders question; "YES" for when text matches "YES"; its
// note that conditions are not case-sensitive and trim leading and
// trailing spaces) and from Studio exports (a matches_any_of list
// "START, Start, start," with a trailing comma; "less_than 10000" on a
// reply; "greater_than 0" on a counter); the rest are edge cases.
var holdsCases = map[string][]holdsCase{
	studio.CondEqualTo: {
		{"Y", "Y", true},
		{"Y", "y", true},
		{"YES", " yes ", true},
		{" yes ", "YES", true},
		{"Y", "N", false},
		{"yes", "yes please", false},
		{"", "", true},
		{"", "  ", true},
		{"5", "05", false}, // text, not numbers
	},
	studio.CondNotEqualTo: {
		{"N", "Y", true},
		{"yes", "No", true},
		{"yes", " YES", false},
		{"", "x", true},
	},
	studio.CondMatchesAnyOf: {
		{"START, Start, start,", "start", true},
		{"START, Start, start,", " START ", true},
		{"Y,YES, Yeah ,yep", "yeah", true},
		{"Y,YES, Yeah ,yep", " YEP ", true},
		{"Y,YES", "yes please", false},
		{"Y,,YES", "", false}, // empty items are ignored
		{"START, Start, start,", "", false},
		{"a b, c", "a b", true},
	},
	studio.CondDoesNotMatchAnyOf: {
		{"N, NO", "maybe", true},
		{"N, NO", "no", false},
		{"N, NO", " N ", false},
		{"N,, NO", "", true},
	},
	studio.CondIsBlank: {
		{"", "", true},
		{"", "   ", true},
		{"", "\t\n", true},
		{"", "x", false},
		{"ignored", "", true},
	},
	studio.CondIsNotBlank: {
		{"", " x ", true},
		{"", "0", true},
		{"", "", false},
		{"", "  ", false},
	},
	studio.CondRegex: {
		{`^\s*-?\d+\s*$`, " 42 ", true},
		{`^\s*-?\d+\s*$`, "-7", true},
		{`^\d+$`, "4 2", false},
		{`^\d+$`, " 42 ", true}, // the value is trimmed
		{`yes`, "YES", true},    // not case-sensitive
		{`yes`, "oh yes", true}, // anywhere unless anchored
		{`^yes$`, "oh yes", false},
		{`[A-Za-z0-9]`, "??", false},
		{`[A-Za-z0-9]`, "ok", true},
		{`^$`, "  ", true},
	},
	studio.CondContains: {
		{"Call", "please CALL me", true},
		{"call", "text me", false},
		{" call ", "recall", true}, // c.Value is trimmed too
		{"", "anything", true},
		{"x", "", false},
	},
	studio.CondDoesNotContain: {
		{"call", "text me", true},
		{"call", "Call me", false},
		{"", "anything", false},
	},
	studio.CondStartsWith: {
		{"yes", "Yes please", true},
		{"yes", "  yes", true},
		{"yes", "oh yes", false},
		{"", "x", true},
	},
	studio.CondDoesNotStartWith: {
		{"yes", "oh yes", true},
		{"yes", "YES!", false},
		{"stop", " Stop now", false},
	},
	studio.CondLessThan: {
		{"10000", "9999", true},
		{"10000", "10000", false}, // strict
		{"10000", "10001", false},
		{"10", " 9 ", true},
		{"5", "4.99", true},
		{"5", "5.0", false},
		{"-1", "-1.5", true},
		{"-1", "-0.5", false},
		{"0.5", ".25", true},
		{"5", "+3", true},
		{"5", "", false},      // not a number: does not hold
		{"5", "abc", false},   // not a number: does not hold
		{"5", "1e0", false},   // decimals only
		{"5", "1,5", false},   // no decimal comma
		{"5", "0x1", false},   // no hex
		{"5", "-Inf", false},  // no infinities
		{"5", "1 000", false}, // no digit groups
		{" 5 ", "4", true},
	},
	studio.CondGreaterThan: {
		{"0", "1", true},
		{"0", "0", false}, // strict
		{"0", "-1", false},
		{"17", "18", true},
		{"17", " 17.5 ", true},
		{"17", "eighteen", false},
		{"-1", "0", true},
		{"109.5", "109.51", true},
		{"109.5", "109.5", false},
		{"0", "", false},
		{"0", "NaN", false},
	},
	studio.CondIsBeforeTime: {
		{"17:00", "16:59", true},
		{"17:00", "17:00", false}, // strict
		{"17:00", "17:00:01", false},
		{"17:00", "9:30", true},
		{"17:00", "5:30 PM", false},
		{"5:00 PM", "16:59", true},
		{"12:00 PM", "11:59", true},  // 12 PM is noon
		{"12:00 AM", "00:00", false}, // 12 AM is midnight
		{"09:00", "2026-12-06T08:59:00Z", true},
		{"09:00", "2026-12-06T09:30:00+01:00", true}, // 08:30 UTC
		{"09:00", "Sun, 06 Dec 2026 09:00:00 +0000", false},
		{"09:00", "noon", false}, // not a time: does not hold
		{"09:00", "", false},
		{"09:00", "25:00", false},
	},
	studio.CondIsAfterTime: {
		{"17:00", "17:01", true},
		{"17:00", "17:00", false}, // strict
		{"17:00", "5:01 pm", true},
		{"17:00", "5:01PM", true},
		{"8:00 AM", "08:00:01", true},
		{"08:00", "2026-12-06T08:00:01Z", true},
		{"08:00", "Sun, 06 Dec 2026 03:00:00 -0500", false}, // 08:00 UTC: not after
		{"08:00", "Sun, 06 Dec 2026 03:01:00 -0500", true},
		{"08:00", "Sun, 06 Dec 2026 02:59:00 -0500", false},
		{"08:00", "later", false},
	},
	studio.CondIsBeforeDate: {
		{"2026-12-24", "2026-12-23", true},
		{"2026-12-24", "2026-12-24", false}, // strict
		{"2026-12-24", "2027-01-01", false},
		{"2026-12-24", "2026-12-23T23:59:59Z", true},
		{"2026-12-24", "2026-12-23T23:30:00-01:00", false}, // the 24th in UTC
		{"2026-12-24", "Wed, 23 Dec 2026 10:00:00 +0000", true},
		{"2026-12-24", "12/23/2026", false}, // not a date it reads: does not hold
		{"2026-12-24", "", false},
	},
	studio.CondIsAfterDate: {
		{"2026-12-24", "2026-12-25", true},
		{"2026-12-24", "2026-12-24", false}, // strict
		{"2026-12-24", "2026-12-24T23:59:59Z", false},
		{"2026-12-24", "2026-12-25T00:00:00Z", true},
		{"2026-12-24", "tomorrow", false},
	},
}

func TestConditionHolds(t *testing.T) {
	t.Parallel()
	for _, typ := range studio.ConditionTypes {
		cases := holdsCases[typ]
		if len(cases) == 0 {
			t.Errorf("no cases for %s", typ)
		}
		for _, tc := range cases {
			got, err := studio.Condition{Type: typ, Value: tc.value}.Holds(tc.input)
			if err != nil || got != tc.want {
				t.Errorf("%s %q on %q = %v, %v; want %v", typ, tc.value, tc.input, got, err, tc.want)
			}
		}
	}
	for typ := range holdsCases {
		if !slices.Contains(studio.ConditionTypes, typ) {
			t.Errorf("cases for %s, which is not a Studio condition type", typ)
		}
	}
}

// Exactly Studio's 17 condition types.
func TestConditionTypes(t *testing.T) {
	t.Parallel()
	want := []string{"equal_to", "not_equal_to", "matches_any_of", "does_not_match_any_of",
		"is_blank", "is_not_blank", "regex", "contains", "does_not_contain", "starts_with",
		"does_not_start_with", "less_than", "greater_than", "is_before_time", "is_after_time",
		"is_before_date", "is_after_date"}
	if !slices.Equal(studio.ConditionTypes, want) {
		t.Errorf("ConditionTypes = %q", studio.ConditionTypes)
	}
}

func TestConditionErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []studio.Condition{
		{Type: "greater_than", Value: "ten"},
		{Type: "greater_than", Value: "1,5"},
		{Type: "less_than", Value: ""},
		{Type: "less_than", Value: "1e3"},
		{Type: "regex", Value: "("},
		{Type: "regex", Value: `(?=x)`}, // no look-ahead in RE2
		{Type: "regex", Value: `(a)\1`}, // no back-references
		{Type: "is_before_time", Value: "5pm"},
		{Type: "is_before_time", Value: "24:00"},
		{Type: "is_after_time", Value: "13:00 PM"},
		{Type: "is_after_time", Value: ""},
		{Type: "is_before_date", Value: "12/24/2026"},
		{Type: "is_after_date", Value: "2026-02-30"},
		{Type: "is_after_date", Value: "today"},
		// Types Studio does not have, which older exports wrote.
		{Type: "is_between", Value: "1-10"},
		{Type: "is_greater_than", Value: "17"},
		{Type: "is_less_than", Value: "5"},
		{Type: "sounds_like", Value: "x"},
		{Type: "", Value: "x"},
	} {
		_, err := c.Holds("5")
		if !errors.Is(err, studio.ErrBadCondition) {
			t.Errorf("%s %q: error %v, want ErrBadCondition", c.Type, c.Value, err)
			continue
		}
		if c.Type != "" && !strings.Contains(err.Error(), c.Type) {
			t.Errorf("%s %q: error %q does not name the type", c.Type, c.Value, err)
		}
	}
	// The error never quotes the value tested.
	_, err := studio.Condition{Type: "is_between", Value: "1-10"}.Holds("my secret reply")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v", err)
	}
}

func TestStateRoute(t *testing.T) {
	t.Parallel()
	cond := func(typ, value string) studio.Condition { return studio.Condition{Type: typ, Value: value} }
	s := &studio.State{Name: "split", Type: studio.TypeSplit, Transitions: []studio.Transition{
		tr("noMatch", "again"),
		tr("match", "never"), // no conditions: never taken
		tr("match", "low", cond("regex", `^\d+$`), cond("greater_than", "-1"), cond("less_than", "6")),
		tr("match", "any_number", cond("regex", `^\d+$`)),
		tr("match", "low_too", cond("less_than", "5")), // shadowed for whole numbers by the one above
	}}
	for input, want := range map[string][2]string{
		"3":   {"low", "match"},
		"5":   {"low", "match"},
		"6":   {"any_number", "match"},
		"2.5": {"low_too", "match"},
		"abc": {"again", "noMatch"},
	} {
		next, event, err := s.Route(input)
		if err != nil || next != want[0] || event != want[1] {
			t.Errorf("Route(%q) = %q, %q, %v; want %q", input, next, event, err, want)
		}
	}
	// No noMatch transition: the flow ends.
	s.Transitions = s.Transitions[1:]
	if next, event, err := s.Route("abc"); next != "" || event != "noMatch" || err != nil {
		t.Errorf("Route without noMatch = %q, %q, %v", next, event, err)
	}
	// A bad condition is a StateError naming the widget, once reached.
	s.Transitions = append(s.Transitions, tr("match", "x", cond("is_between", "1-5")))
	if _, _, err := s.Route("3"); err != nil {
		t.Errorf("a bad condition after the one taken: %v", err)
	}
	var se *studio.StateError
	if _, _, err := s.Route("abc"); !errors.As(err, &se) || se.State != "split" || !errors.Is(err, studio.ErrBadCondition) {
		t.Errorf("bad condition: %v", err)
	}
}

func tr(event, next string, conds ...studio.Condition) studio.Transition {
	return studio.Transition{Event: event, Next: next, Conditions: conds}
}
