package outreach

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// MatchAnswer reads a reply against an answer spec and returns the
// normalised answer and whether the reply is valid. A nil spec accepts any
// non-empty reply as text.
//
//   - choice: the reply, or its first word, equals a choice's value or one of
//     its synonyms, ignoring case, spaces and punctuation ("Yes!", " y ",
//     "yeah sure", but not "N/A" for "n"); the answer is the choice's value.
//   - integer: the reply holds exactly one whole number ("7", "7/10",
//     "about 7", "150 lbs"); within [Min, Max] when set.
//   - number: the same with decimals ("22.5").
//   - text: any reply with a letter or digit; the answer is the trimmed reply.
func MatchAnswer(spec *AnswerSpec, reply string) (string, bool) {
	kind := AnswerText
	if spec != nil {
		kind = spec.Kind
	}
	switch kind {
	case AnswerChoice:
		norm := normalizeWords(reply)
		// The first word as written: "N/A" is not "N", nor "y'all" "Y".
		first := ""
		if f := strings.Fields(reply); len(f) > 0 {
			first = normalizeWords(f[0])
		}
		for _, try := range []string{norm, first} {
			if try == "" {
				continue
			}
			for _, c := range spec.Choices {
				if normalizeWords(c.Value) == try {
					return c.Value, true
				}
				for _, syn := range c.Synonyms {
					if normalizeWords(syn) == try {
						return c.Value, true
					}
				}
			}
		}
		return "", false
	case AnswerInteger, AnswerNumber:
		v, ok := singleNumber(reply, kind == AnswerInteger)
		if !ok || !inRange(v, spec.Min, spec.Max) {
			return "", false
		}
		return strconv.FormatFloat(v, 'f', -1, 64), true
	default:
		t := strings.TrimSpace(reply)
		if strings.IndexFunc(t, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
			return "", false
		}
		return t, true
	}
}

var (
	numberRE   = regexp.MustCompile(`-?\d+(?:[.,]\d+)?`)
	outOfTenRE = regexp.MustCompile(`^\s*(-?\d+(?:[.,]\d+)?)\s*(?:/|out of)\s*10\s*$`)
)

func singleNumber(reply string, integer bool) (float64, bool) {
	s := strings.ToLower(reply)
	if m := outOfTenRE.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	nums := numberRE.FindAllString(s, 2)
	if len(nums) != 1 {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.Replace(nums[0], ",", ".", 1), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	if integer && v != math.Trunc(v) {
		return 0, false
	}
	return v, true
}

func inRange(v float64, lo, hi *float64) bool {
	return (lo == nil || v >= *lo) && (hi == nil || v <= *hi)
}

// normalizeWords lower-cases s, turns punctuation into spaces and folds runs
// of spaces into one.
func normalizeWords(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	return strings.Join(f, " ")
}

// Holds reports whether v meets the condition. Equals and AnyOf compare
// ignoring case and surrounding punctuation; Min/Max need v to be a number.
func (c Condition) Holds(v string) bool {
	switch {
	case c.Equals != "":
		return normalizeWords(c.Equals) == normalizeWords(v)
	case len(c.AnyOf) > 0:
		for _, a := range c.AnyOf {
			if normalizeWords(a) == normalizeWords(v) {
				return true
			}
		}
		return false
	case c.Min != nil || c.Max != nil:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && inRange(f, c.Min, c.Max)
	}
	return false
}

// Describe says what answers spec takes, for people reading a flow: "one
// of: YES (Y, YEAH); NO", "a whole number from 0 to 10", "any text".
func (spec *AnswerSpec) Describe() string {
	if spec == nil {
		return "any text"
	}
	switch spec.Kind {
	case AnswerChoice:
		cs := make([]string, len(spec.Choices))
		for i, c := range spec.Choices {
			cs[i] = c.Value
			if len(c.Synonyms) > 0 {
				cs[i] += " (" + strings.Join(c.Synonyms, ", ") + ")"
			}
		}
		return "one of: " + strings.Join(cs, "; ")
	case AnswerInteger:
		return "a whole number" + rangeText(spec.Min, spec.Max)
	case AnswerNumber:
		return "a number" + rangeText(spec.Min, spec.Max)
	}
	return "any text"
}

// Describe says what the condition asks of a value, for people reading a
// flow: "is NO", "is one of YES, MAYBE", "from 0 to 5", "of at least 18".
func (c Condition) Describe() string {
	switch {
	case c.Equals != "":
		return "is " + c.Equals
	case len(c.AnyOf) > 0:
		return "is one of " + strings.Join(c.AnyOf, ", ")
	}
	return strings.TrimSpace(rangeText(c.Min, c.Max))
}

// rangeText writes bounds as " from LO to HI", " of at least LO" or " of
// at most HI"; no bounds, "".
func rangeText(lo, hi *float64) string {
	switch {
	case lo != nil && hi != nil:
		return " from " + fmtNum(*lo) + " to " + fmtNum(*hi)
	case lo != nil:
		return " of at least " + fmtNum(*lo)
	case hi != nil:
		return " of at most " + fmtNum(*hi)
	}
	return ""
}

// DefaultHint is the hint sent before a re-asked question when the step has
// no Hint of its own.
func DefaultHint(spec *AnswerSpec) string {
	if spec == nil {
		return "Sorry, we did not get that."
	}
	switch spec.Kind {
	case AnswerChoice:
		vals := make([]string, len(spec.Choices))
		for i, c := range spec.Choices {
			vals[i] = strings.ToUpper(c.Value)
		}
		return "Sorry, please reply " + joinOr(vals) + "."
	case AnswerInteger, AnswerNumber:
		switch {
		case spec.Min != nil && spec.Max != nil:
			return "Sorry, please reply with a number from " + fmtNum(*spec.Min) + " to " + fmtNum(*spec.Max) + "."
		default:
			return "Sorry, please reply with a number."
		}
	}
	return "Sorry, we did not get that."
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
