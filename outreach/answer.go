package outreach

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MatchAnswer reads a reply against an answer spec, as [ReadAnswer]
// does, and returns the normalised answer and whether the reply could be
// read with confidence.
func MatchAnswer(spec *AnswerSpec, reply string) (string, bool) {
	rd := ReadAnswer(spec, reply)
	return rd.Value, rd.OK
}

// Reading is what [ReadAnswer] made of a reply.
type Reading struct {
	// Value is the normalised answer: a choice's value, a number as
	// strconv.FormatFloat(v, 'f', -1, 64) writes it, or the trimmed text.
	// Empty unless OK.
	Value string
	// OK is true when the reply was read with confidence.
	OK bool
	// Doubt says why it was not (empty when OK).
	Doubt Doubt
}

// Doubt says why a reply could not be read with confidence. A reply in
// doubt is re-asked, and then goes to a person ("needs review") rather
// than down a branch of the flow.
type Doubt string

// Reasons a reply is in doubt.
const (
	DoubtEmpty      Doubt = "empty"        // nothing but spaces, punctuation or emoji
	DoubtQuestion   Doubt = "question"     // the patient asks something ("is 7 bad?")
	DoubtNoNumber   Doubt = "no_number"    // words where a number was asked for ("bad")
	DoubtNumbers    Doubt = "two_numbers"  // more than one number ("7 or 8", "808-555-0164")
	DoubtWords      Doubt = "extra_words"  // words beyond the answer ("I took 2 pills")
	DoubtRange      Doubt = "out_of_range" // a number outside the question's bounds
	DoubtWhole      Doubt = "not_whole"    // a decimal where a whole number was asked for
	DoubtNoChoice   Doubt = "no_choice"    // none of the choices ("maybe")
	DoubtTwoChoices Doubt = "two_choices"  // more than one choice ("yes and no")
	// DoubtOptOut: the reply may revoke consent ([OptOutAmbiguous]); the
	// conversation sends nothing more and a person decides.
	DoubtOptOut Doubt = "possible_opt_out"
)

// Describe says what the doubt is, for the people who review replies.
func (d Doubt) Describe() string {
	switch d {
	case DoubtEmpty:
		return "nothing to read"
	case DoubtQuestion:
		return "a question"
	case DoubtNoNumber:
		return "no number"
	case DoubtNumbers:
		return "more than one number"
	case DoubtWords:
		return "words besides the answer"
	case DoubtRange:
		return "out of range"
	case DoubtWhole:
		return "not a whole number"
	case DoubtNoChoice:
		return "none of the choices"
	case DoubtTwoChoices:
		return "more than one choice"
	case DoubtOptOut:
		return "may be an opt-out"
	}
	return string(d)
}

// ReadAnswer reads a reply against an answer spec, conservatively: a
// reply is read only when nothing in it could change its meaning. A nil
// spec reads any reply as text.
//
//   - choice: every word is part of one choice's value or synonym (any
//     case, accents, punctuation and emoji ignored: "Yes!", "sí", "yeah
//     sure"), or polite filler ("yes please", "no thank you"). Words of
//     two choices ("yes and no"), other words ("yes but not Monday",
//     "N/A") or a question mark put the reply in doubt.
//   - integer and number: exactly one number, with at most words that
//     restate the question or its unit ("7", "7/10", "7 out of 10",
//     "pain 7", "it's a 7", "about 7", "seven", "siete", "150 lbs",
//     "98.6F"), within [Min, Max] when they are set. "was 2 yesterday,
//     today it's worse", "I took 2 pills", "7 or 8", "is 7 bad?" are in
//     doubt.
//   - text: any reply with a letter or digit; the value is the trimmed
//     reply.
func ReadAnswer(spec *AnswerSpec, reply string) Reading {
	kind := AnswerText
	if spec != nil {
		kind = spec.Kind
	}
	switch kind {
	case AnswerChoice:
		return readChoice(spec, tokenize(reply))
	case AnswerInteger, AnswerNumber:
		return readNumber(spec, tokenize(reply), kind == AnswerInteger)
	default:
		t := strings.TrimSpace(reply)
		if strings.IndexFunc(t, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
			return Reading{Doubt: DoubtEmpty}
		}
		return Reading{Value: t, OK: true}
	}
}

// answerTokens is a reply split for reading: lower-case words without
// accents or apostrophes ("it's" -> "its"), numbers ("7", "98.6", "-2"),
// and symbols that can change a number ("/", "+", "%", ...); emoji and
// other punctuation separate tokens. question says whether the reply
// holds a question mark.
type answerTokens struct {
	toks     []string
	question bool
}

// symbolTokens are the ASCII symbols that tokenize keeps as tokens of
// their own.
const symbolTokens = "/+%#@&*=<>~$^|_"

func tokenize(reply string) answerTokens {
	var (
		at  answerTokens
		cur []byte
		num bool // cur is a number
	)
	flush := func() {
		if len(cur) > 0 {
			at.toks = append(at.toks, string(cur))
		}
		cur, num = cur[:0:0], false
	}
	rs := []rune(reply)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if c := latin1Fold(r); c != 0 {
			r = rune(c)
		}
		next := rune(0)
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch {
		case '0' <= r && r <= '9':
			if len(cur) > 0 && !num {
				flush()
			}
			num = true
			cur = append(cur, byte(r))
		case r == '.' && num && '0' <= next && next <= '9':
			// A decimal point; a decimal comma ("98,6") is in doubt, as
			// "98, 6" would be.
			cur = append(cur, '.')
		case r == '-' && len(cur) == 0 && '0' <= next && next <= '9':
			// A minus sign: "-2", but not the dash of "2-3".
			num = true
			cur = append(cur, '-')
		case unicode.IsLetter(r):
			if num {
				flush()
			}
			cur = utf8.AppendRune(cur, unicode.ToLower(r))
		case r == '\'' || r == '`' || r == '\u2019' || r == '\u2018' || r == '\u02bc':
			// "it's" is "its", "can't" "cant"
		case r == '?' || r == '\u00bf':
			flush()
			at.question = true
		case r < utf8.RuneSelf && strings.ContainsRune(symbolTokens, r):
			// Symbols that can change a number's meaning ("10+", "50%")
			// are tokens, never ignored.
			flush()
			at.toks = append(at.toks, string(r))
		default:
			flush() // spaces, other punctuation, emoji
		}
	}
	flush()
	// "y/o" is "yo" (years old).
	for i := 0; i+2 < len(at.toks); i++ {
		if at.toks[i] == "y" && at.toks[i+1] == "/" && at.toks[i+2] == "o" {
			at.toks = slices.Replace(at.toks, i, i+3, "yo")
		}
	}
	return at
}

func isNumberToken(t string) bool {
	return t != "" && (t[0] >= '0' && t[0] <= '9' || t[0] == '-')
}

// numberWords are the number words read as numbers: English zero to
// twenty, Spanish cero to diez (accents folded).
var numberWords = map[string]string{
	"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
	"six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11",
	"twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16",
	"seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
	"cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
	"seis": "6", "siete": "7", "ocho": "8", "nueve": "9", "diez": "10",
}

// numberFiller are words that may stand around a number without changing
// it: they restate the question ("pain", "level"), hedge ("about"), name
// the unit ("lbs") or are polite ("thanks").
var numberFiller = set(
	"pain", "my", "is", "its", "it", "a", "an", "the", "about", "around", "approximately",
	"approx", "roughly", "like", "level", "today", "now", "right", "currently", "i", "im",
	"am", "id", "say", "would", "score", "rating", "number", "years", "year", "yrs", "yr",
	"old", "lbs", "lb", "pounds", "pound", "f", "degrees", "degree", "deg", "fahrenheit",
	"temp", "temperature", "weight", "weigh", "age", "please", "thanks", "thank", "you",
	"thx", "ty", "ok", "okay",
	"mi", "dolor", "es", "un", "una", "como", "hoy", "ahora", "tengo", "anos", "libras",
	"grados", "gracias", "nivel", "at", "yo",
)

func readNumber(spec *AnswerSpec, at answerTokens, integer bool) Reading {
	if at.question {
		return Reading{Doubt: DoubtQuestion}
	}
	toks := at.toks
	if len(toks) == 0 {
		return Reading{Doubt: DoubtEmpty}
	}
	var (
		nums  []string
		words bool
	)
	toks = slices.Clone(toks)
	for i, t := range toks {
		if w, ok := numberWords[t]; ok {
			toks[i] = w
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case isNumberToken(t):
			// "7/10", "7 out of 10", "7 de 10": a score out of ten.
			if i+2 < len(toks) && toks[i+1] == "/" && toks[i+2] == "10" {
				i += 2
			} else if i+3 < len(toks) && toks[i+1] == "out" && toks[i+2] == "of" && toks[i+3] == "10" {
				i += 3
			} else if i+2 < len(toks) && toks[i+1] == "de" && toks[i+2] == "10" {
				i += 2
			}
			nums = append(nums, t)
		case numberFiller[t]:
		default:
			words = true
		}
	}
	switch {
	case len(nums) > 1:
		return Reading{Doubt: DoubtNumbers}
	case len(nums) == 0:
		return Reading{Doubt: DoubtNoNumber}
	case words:
		return Reading{Doubt: DoubtWords}
	}
	v, err := strconv.ParseFloat(nums[0], 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return Reading{Doubt: DoubtNoNumber}
	}
	if integer && v != math.Trunc(v) {
		return Reading{Doubt: DoubtWhole}
	}
	if spec != nil && !inRange(v, spec.Min, spec.Max) {
		return Reading{Doubt: DoubtRange}
	}
	if v == 0 {
		v = 0 // no "-0"
	}
	return Reading{Value: strconv.FormatFloat(v, 'f', -1, 64), OK: true}
}

// choiceFiller are polite words that may stand around a choice.
var choiceFiller = set(
	"please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "tyvm", "much", "very",
	"so", "oh", "um", "uh", "hi", "hello", "hey", "gracias", "por", "favor",
)

func readChoice(spec *AnswerSpec, at answerTokens) Reading {
	if at.question {
		return Reading{Doubt: DoubtQuestion}
	}
	toks := at.toks
	if len(toks) == 0 {
		return Reading{Doubt: DoubtEmpty}
	}
	// Each value and synonym as words, once per reply.
	type phrase struct {
		value string
		words []string
	}
	var phrases []phrase
	for _, c := range spec.Choices {
		phrases = append(phrases, phrase{c.Value, tokenize(c.Value).toks})
		for _, syn := range c.Synonyms {
			phrases = append(phrases, phrase{c.Value, tokenize(syn).toks})
		}
	}
	value := ""
	for i := 0; i < len(toks); {
		// The longest value or synonym that starts here.
		best, bestLen := "", 0
		for _, p := range phrases {
			if n := len(p.words); n > bestLen && n <= len(toks)-i && slices.Equal(p.words, toks[i:i+n]) {
				best, bestLen = p.value, n
			}
		}
		switch {
		case bestLen > 0:
			if value != "" && value != best {
				return Reading{Doubt: DoubtTwoChoices}
			}
			value = best
			i += bestLen
		case choiceFiller[toks[i]]:
			i++
		default:
			return Reading{Doubt: DoubtWords}
		}
	}
	if value == "" {
		return Reading{Doubt: DoubtNoChoice}
	}
	return Reading{Value: value, OK: true}
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

// AnswerVocabulary returns the words [ReadAnswer] reads beside an answer,
// for runtimes that must read replies as it does (the Studio exporter
// writes them into its conditions): the number words and the numbers they
// stand for, the filler words that may stand around a number, and those
// that may stand around a choice. Words are lower case, without accents
// or apostrophes, as ReadAnswer compares them. The maps and slices are
// copies.
func AnswerVocabulary() (numbers map[string]string, aroundNumbers, aroundChoices []string) {
	numbers = make(map[string]string, len(numberWords))
	for w, n := range numberWords {
		numbers[w] = n
	}
	return numbers, sortedKeys(numberFiller), sortedKeys(choiceFiller)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// FoldLetter returns the letter [ReadAnswer] reads r as, before
// lower-casing: 'á' is 'a', 'Ñ' is 'N', any other rune itself.
func FoldLetter(r rune) rune {
	if c := latin1Fold(r); c != 0 && unicode.IsLetter(rune(c)) {
		return rune(c)
	}
	return r
}
