package studio

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Condition types of split-based-on transitions, as Studio writes them.
const (
	CondEqualTo           = "equal_to"
	CondNotEqualTo        = "not_equal_to"
	CondMatchesAnyOf      = "matches_any_of"
	CondDoesNotMatchAnyOf = "does_not_match_any_of"
	CondContains          = "contains"
	CondDoesNotContain    = "does_not_contain"
	CondStartsWith        = "starts_with"
	CondIsBlank           = "is_blank"
	CondIsNotBlank        = "is_not_blank"
	CondGreaterThan       = "is_greater_than"
	CondLessThan          = "is_less_than"
	CondIsBetween         = "is_between"
	CondRegex             = "regex"
)

// Split events: a match transition holds conditions; noMatch is taken
// when no match transition's conditions all hold.
const (
	EventMatch   = "match"
	EventNoMatch = "noMatch"
)

// ErrBadCondition matches the errors of [Condition.Holds] and
// [State.Route] for a condition that cannot be evaluated: an unknown
// type, a bound that is not a number, a range that is not "LO-HI", a
// regex that does not compile.
var ErrBadCondition = errors.New("bad condition")

// Holds reports whether the condition holds for value, the split's
// input as rendered, as Studio evaluates it. Studio's conditions are not
// case-sensitive and trim leading and trailing spaces of the values
// (https://www.twilio.com/docs/studio/widget-library/split-based-on), so
// both value and c.Value are trimmed and compared without regard to case:
//
//   - equal_to, not_equal_to: the whole value.
//   - matches_any_of, does_not_match_any_of: c.Value is a comma list
//     ("YES, Y,yeah"); each item is trimmed; empty items are ignored.
//   - contains, does_not_contain, starts_with: substrings.
//   - is_blank, is_not_blank: whether value is empty once trimmed
//     (c.Value is ignored).
//   - is_greater_than, is_less_than: numbers (decimal, optionally signed),
//     strict; a value that is not a number does not hold.
//   - is_between: c.Value is "LO-HI" (numbers, either signed, spaces
//     allowed: "-5 - 10", "1.5-2.5"; "LO, HI", "LO and HI" and "LO to HI"
//     are read too, as [ToFlow] reads them), inclusive at both ends, as
//     FromFlow writes an outreach Min and Max; a value that is not a
//     number does not hold, nor does any when LO > HI.
//   - regex: c.Value in Go's RE2 syntax, matched anywhere in the trimmed
//     value unless anchored, case-sensitive as written (add (?i) for
//     case-insensitive patterns).
//
// An unknown type or a malformed c.Value is an error wrapping
// [ErrBadCondition]; the error names the type, never the value tested.
func (c Condition) Holds(value string) (bool, error) {
	v := strings.TrimSpace(value)
	want := strings.TrimSpace(c.Value)
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
	case CondContains:
		return strings.Contains(strings.ToLower(v), strings.ToLower(want)), nil
	case CondDoesNotContain:
		return !strings.Contains(strings.ToLower(v), strings.ToLower(want)), nil
	case CondStartsWith:
		return strings.HasPrefix(strings.ToLower(v), strings.ToLower(want)), nil
	case CondIsBlank:
		return v == "", nil
	case CondIsNotBlank:
		return v != "", nil
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
	case CondIsBetween:
		lo, hi, err := betweenBounds(want)
		if err != nil {
			return false, err
		}
		n, ok := number(v)
		return ok && lo <= n && n <= hi, nil
	case CondRegex:
		re, err := compileCondition(c.Value)
		if err != nil {
			return false, err
		}
		return re.MatchString(v), nil
	}
	return false, fmt.Errorf("studio: condition type %q: %w", c.Type, ErrBadCondition)
}

// number parses a decimal number such as "42", "-1.5" or "+3".
func number(s string) (float64, bool) {
	if s == "" || strings.ContainsAny(s, "xXpPeEiInN_") { // no hex, exponents, Inf, NaN or underscores
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// condBetweenRE reads an is_between range: the forms ToFlow reads.
var condBetweenRE = regexp.MustCompile(`(?i)^([-+]?\d+(?:\.\d+)?)\s*(?:-|,|and|to)\s*([-+]?\d+(?:\.\d+)?)$`)

func betweenBounds(s string) (lo, hi float64, err error) {
	m := condBetweenRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("studio: is_between condition: %q is not a range LO-HI such as 1-10: %w", s, ErrBadCondition)
	}
	lo, _ = strconv.ParseFloat(m[1], 64)
	hi, _ = strconv.ParseFloat(m[2], 64)
	return lo, hi, nil
}

// regexCache keeps compiled condition patterns: splits are evaluated on
// every reply, and definitions hold few distinct patterns.
var regexCache sync.Map // pattern -> *regexp.Regexp

func compileCondition(pattern string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
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
