package simphone

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Responder decides what a simulated patient answers to a message. Reply
// returns the reply and true, or false to stay silent. rnd is the phone's
// own random source: a Responder that draws only from it is deterministic
// for the network's seed.
//
// The network calls Reply with its lock held: Reply must not call the
// [Network] or its [Phone]s.
type Responder interface {
	Reply(body string, rnd *rand.Rand) (reply string, ok bool)
}

// ResponderFunc adapts a function to a [Responder].
type ResponderFunc func(body string, rnd *rand.Rand) (string, bool)

// Reply calls f.
func (f ResponderFunc) Reply(body string, rnd *rand.Rand) (string, bool) { return f(body, rnd) }

// Scripted returns a Responder that answers each question (a message that
// [IsQuestion] reports) with the next of replies, in order, and then stays
// silent. An empty string in replies means: stay silent for that question.
// Messages that ask nothing get no reply and use up no reply.
//
// A Scripted responder keeps its place in the script: give each phone its
// own. It is safe for concurrent use.
func Scripted(replies ...string) Responder {
	return &scripted{replies: replies}
}

type scripted struct {
	mu      sync.Mutex
	replies []string
	next    int
}

func (s *scripted) Reply(body string, _ *rand.Rand) (string, bool) {
	if !IsQuestion(body) {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= len(s.replies) {
		return "", false
	}
	r := s.replies[s.next]
	s.next++
	return r, r != ""
}

// Smart returns a Responder that reads each message the way a patient
// would and answers questions with random, mostly valid answers:
//
//   - a yes/no question ("YES" and "NO" in capitals, "yes or no", "Y/N")
//     gets yes or no, in various forms: "YES", "Y", "yeah", "No thanks";
//   - a question with a range ("0-10", "0 to 10", "from 18 to 55",
//     "between 18 and 55") gets a whole number, in the range nine times in
//     ten and up to three outside it otherwise;
//   - a question about weight, BMI or age with no range gets a plausible
//     value (weights from 95 to 320 lb, BMIs from 16 to 40, ages from 14
//     to 85), and one that asks for a number or "how many", 0 to 10;
//   - any other question gets a short text such as "Sounds good".
//
// Messages that ask nothing (see [IsQuestion]) get no reply. Smart is
// stateless and safe for concurrent use.
func Smart() Responder { return smart{} }

type smart struct{}

var (
	yesReplies  = []string{"YES", "Yes", "yes", "Y", "yeah", "Yes please"}
	noReplies   = []string{"NO", "No", "no", "No thanks"}
	textReplies = []string{"Thanks", "OK, thank you", "Sounds good", "Not sure yet", "I'm doing fine", "Please call me"}
)

func (smart) Reply(body string, rnd *rand.Rand) (string, bool) {
	if !IsQuestion(body) {
		return "", false
	}
	text := stripBoilerplate(body)
	if asksYesNo(text) {
		if rnd.IntN(2) == 0 {
			return pick(rnd, yesReplies), true
		}
		return pick(rnd, noReplies), true
	}
	if lo, hi, ok := findRange(text); ok {
		return strconv.Itoa(inOrNear(rnd, lo, hi)), true
	}
	switch {
	case bmiRE.MatchString(text):
		return strconv.Itoa(between(rnd, 16, 40)), true
	case weightRE.MatchString(text):
		w := strconv.Itoa(between(rnd, 95, 320))
		if rnd.IntN(4) == 0 {
			w += " lbs"
		}
		return w, true
	case ageRE.MatchString(text):
		return strconv.Itoa(between(rnd, 14, 85)), true
	case numberRE.MatchString(text):
		return strconv.Itoa(between(rnd, 0, 10)), true
	}
	return pick(rnd, textReplies), true
}

// gibberish holds replies with no letter or digit: invalid for every
// answer kind, free text included.
var gibberish = []string{"?", "??", "...", "🤔", "!?", "👀"}

var (
	// boilerplateRE matches the opt-out and help notices that end many
	// messages ("Reply STOP to opt out."): they ask nothing.
	boilerplateRE = regexp.MustCompile(`(?i)\b(?:reply|text|txt|send)\s+(?:stop|stopall|unsubscribe|cancel|end|quit|help|info|start|unstop)\b[^.!?\n]*[.!?]?`)
	replyWordRE   = regexp.MustCompile(`(?i)\b(?:reply|respond|answer|text (?:us )?back|let us know)\b`)
	yesUpperRE    = regexp.MustCompile(`\bYES\b`)
	noUpperRE     = regexp.MustCompile(`\bNO\b`)
	yesNoRE       = regexp.MustCompile(`(?i)\byes\s*(?:/|or|,)\s*no\b|\by\s*/\s*n\b`)
	// rangeRE matches "0-10", "0 to 10", "18 through 55", but not the parts
	// of phone numbers ("1-800-555-0100") or times ("8:00-21:00").
	rangeRE   = regexp.MustCompile(`(?i)(?:^|[^\d.:/\-])(\d{1,4})\s*(?:-|–|—|\bto\b|\bthrough\b|\bthru\b)\s*(\d{1,4})(?:$|[^\d:/\-])`)
	betweenRE = regexp.MustCompile(`(?i)\bbetween\s+(\d{1,4})\s+and\s+(\d{1,4})\b`)
	bmiRE     = regexp.MustCompile(`(?i)\bBMI\b|\bbody mass\b`)
	weightRE  = regexp.MustCompile(`(?i)\b(?:weigh|weight|lbs?|pounds?)\b`)
	ageRE     = regexp.MustCompile(`(?i)\b(?:age|how old|years old)\b`)
	numberRE  = regexp.MustCompile(`(?i)\b(?:number|how many)\b`)
)

// IsQuestion reports whether a message asks for a reply, by the rules the
// built-in responders use. Opt-out and help notices ("Reply STOP to opt
// out") are ignored; then a message is a question when it ends with "?",
// asks to reply, respond or answer, asks yes or no, or holds both a "?"
// and a range such as "0-10". "Questions? Call us." is not a question.
func IsQuestion(body string) bool {
	text := strings.TrimSpace(stripBoilerplate(body))
	if strings.HasSuffix(strings.TrimRightFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || r == '"' || r == '\'' || r == ')'
	}), "?") {
		return true
	}
	if replyWordRE.MatchString(text) || asksYesNo(text) {
		return true
	}
	_, _, hasRange := findRange(text)
	return hasRange && strings.Contains(text, "?")
}

func stripBoilerplate(body string) string { return boilerplateRE.ReplaceAllString(body, " ") }

func asksYesNo(text string) bool {
	return yesUpperRE.MatchString(text) && noUpperRE.MatchString(text) || yesNoRE.MatchString(text)
}

// findRange returns the first range in text.
func findRange(text string) (lo, hi int, ok bool) {
	best := -1
	for _, re := range []*regexp.Regexp{rangeRE, betweenRE} {
		m := re.FindStringSubmatchIndex(text)
		if m == nil || best >= 0 && m[2] > best {
			continue
		}
		a, errA := strconv.Atoi(text[m[2]:m[3]])
		b, errB := strconv.Atoi(text[m[4]:m[5]])
		if errA != nil || errB != nil || a > b {
			continue
		}
		best, lo, hi, ok = m[2], a, b, true
	}
	return lo, hi, ok
}

// inOrNear returns a number in [lo, hi] nine times in ten, else one up to
// three outside it (above when below would be negative).
func inOrNear(rnd *rand.Rand, lo, hi int) int {
	if rnd.IntN(10) != 0 {
		return between(rnd, lo, hi)
	}
	off := 1 + rnd.IntN(3)
	if lo-off >= 0 && rnd.IntN(2) == 0 {
		return lo - off
	}
	return hi + off
}

// between returns a number in [lo, hi].
func between(rnd *rand.Rand, lo, hi int) int { return lo + rnd.IntN(hi-lo+1) }

func pick(rnd *rand.Rand, s []string) string { return s[rnd.IntN(len(s))] }
