package studio_test

import (
	"errors"
	"testing"

	"github.com/patient-outreach/sms/studio"
)

func TestConditionHolds(t *testing.T) {
	for _, tc := range []struct {
		typ, value, input string
		want              bool
	}{
		{"equal_to", "YES", "yes", true},
		{"equal_to", " yes ", "YES  ", true},
		{"equal_to", "yes", "yes please", false},
		{"not_equal_to", "yes", "No", true},
		{"not_equal_to", "yes", " YES", false},
		{"matches_any_of", "Y,YES, Yeah ,yep", "yeah", true},
		{"matches_any_of", "Y,YES, Yeah ,yep", " YEP ", true},
		{"matches_any_of", "Y,YES", "yes please", false},
		{"matches_any_of", "Y,,YES", "", false},
		{"does_not_match_any_of", "N, NO", "maybe", true},
		{"does_not_match_any_of", "N, NO", "no", false},
		{"contains", "Call", "please CALL me", true},
		{"contains", "call", "text me", false},
		{"does_not_contain", "call", "text me", true},
		{"does_not_contain", "call", "Call me", false},
		{"starts_with", "yes", "Yes please", true},
		{"starts_with", "yes", "oh yes", false},
		{"is_blank", "", "   ", true},
		{"is_blank", "", "x", false},
		{"is_not_blank", "", " x ", true},
		{"is_not_blank", "", "", false},
		{"is_greater_than", "17", "18", true},
		{"is_greater_than", "17", "17", false},
		{"is_greater_than", "17", " 17.5 ", true},
		{"is_greater_than", "17", "eighteen", false},
		{"is_greater_than", "-1", "0", true},
		{"is_less_than", "5", "4.99", true},
		{"is_less_than", "5", "5", false},
		{"is_less_than", "5", "", false},
		{"is_less_than", "5", "1e0", false}, // decimals only
		{"is_between", "18-55", "18", true},
		{"is_between", "18-55", "55", true},
		{"is_between", "18-55", "55.5", false},
		{"is_between", "18-55", "17", false},
		{"is_between", " 18 - 55 ", " 30 ", true},
		{"is_between", "-10--5", "-7", true},
		{"is_between", "1.5-2.5", "2", true},
		{"is_between", "18 to 55", "40", true},
		{"is_between", "55-18", "40", false},
		{"is_between", "0-10", "ten", false},
		{"regex", `^\s*-?\d+\s*$`, " 42 ", true},
		{"regex", `^\d+$`, "4 2", false},
		{"regex", `yes`, "YES", false}, // regexes are case-sensitive as written
		{"regex", `(?i)yes`, "YES", true},
		{"regex", `[A-Za-z0-9]`, "??", false},
	} {
		got, err := studio.Condition{Type: tc.typ, Value: tc.value}.Holds(tc.input)
		if err != nil || got != tc.want {
			t.Errorf("%s %q on %q = %v, %v; want %v", tc.typ, tc.value, tc.input, got, err, tc.want)
		}
	}
	for _, c := range []studio.Condition{
		{Type: "is_greater_than", Value: "ten"},
		{Type: "is_less_than", Value: ""},
		{Type: "is_between", Value: "10"},
		{Type: "is_between", Value: "a-b"},
		{Type: "regex", Value: "("},
		{Type: "sounds_like", Value: "x"},
	} {
		if _, err := c.Holds("5"); !errors.Is(err, studio.ErrBadCondition) {
			t.Errorf("%s %q: error %v, want ErrBadCondition", c.Type, c.Value, err)
		}
	}
}

func TestStateRoute(t *testing.T) {
	cond := func(typ, value string) studio.Condition { return studio.Condition{Type: typ, Value: value} }
	s := &studio.State{Name: "split", Type: studio.TypeSplit, Transitions: []studio.Transition{
		tr("noMatch", "again"),
		tr("match", "never"), // no conditions: never taken
		tr("match", "low", cond("regex", `^\d+$`), cond("is_between", "0-5")),
		tr("match", "any_number", cond("regex", `^\d+$`)),
		tr("match", "low_too", cond("is_less_than", "5")), // shadowed for numbers by the one above
	}}
	for input, want := range map[string][2]string{
		"3":   {"low", "match"},
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
	s.Transitions = append(s.Transitions, tr("match", "x", cond("is_between", "oops")))
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
