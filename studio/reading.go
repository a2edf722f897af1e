package studio

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/patient-outreach/sms/outreach"
)

// This file writes the regular expressions with which an exported split
// reads a reply as outreach.ReadAnswer does: the forms ReadAnswer reads
// with confidence ("3!", "(2)", "2 please", "seven", "7/10", "pain 7",
// "Yes 👍", "sí, por favor"), each leading to the route of its value.
//
// The patterns keep to what RE2 (Go), .NET and JavaScript regexes share:
// anchors, groups, alternation, character classes with literal
// characters and ranges, and counted repetition; no look-around, no
// back-references, no \d, \s, \w or \p classes (which differ between
// them), no escapes of non-ASCII characters (each engine writes them
// differently), only the characters themselves. Studio compares without
// regard to case ([Condition.Holds]); the letter classes list both cases
// anyway.
//
// A separator (what ReadAnswer skips between words: spaces, punctuation,
// emoji) is a character outside a negated class that excludes letters,
// digits, the symbols ReadAnswer reads as words, and every character from
// U+00BF up (some of them letters), plus the listed non-letter characters
// of that range that replies hold (dashes, curly quotes, the keycap and
// emoji variation marks, the dingbats). Characters beyond U+FFFF, such as
// most emoji, are separators for Go's engine; engines that work on UTF-16
// code units (.NET, JavaScript) see two units inside the excluded range:
// for them a reply with such an emoji is not read and is asked again.

const (
	// readExcluded are the characters a separator is not: ASCII letters
	// and digits, apostrophes (ReadAnswer drops them inside words), '?'
	// (a question), the symbols ReadAnswer reads as words, '-' (a minus
	// sign before a digit), '.', '¡' and '¿' (a decimal point between
	// digits: they are added back where they separate), the Latin-1
	// letters ª µ º and the apostrophe ´, and everything from U+00BF up.
	readExcluded = `0-9A-Za-z'\x60?/+%#@&*=<>~$^|_\-.¡ª´µº¿-` + "\uffff"
	// readExtra are non-letters from U+2000 up that are separators:
	// general punctuation (spaces, dashes, quotes other than the
	// apostrophes, bullets, ellipsis), the keycap and variation marks of
	// emoji, and the symbols and dingbats block.
	readExtra = "\u2000-\u2015\u201a-\u2027\u202f\u205f\u3000\u20e3\ufe0e\ufe0f\u2600-\u27bf"
	// readApostrophes are what ReadAnswer drops ("it's" is "its").
	readApostrophes = `'\x60` + "\u2018\u2019\u02bc\u00b4"

	sepRE      = `(?:[^` + readExcluded + `]|[` + readExtra + `.¡¿])`
	sepNoDotRE = `(?:[^` + readExcluded + `]|[` + readExtra + `])`
	// gapRE: any run of separators and apostrophes (between a number and
	// a word, and at either end).
	gapRE = `(?:[^` + readExcluded + `]|[` + readExtra + `.¡¿` + readApostrophes + `])*`
	// gapNoDotRE: the same without the characters that can be a decimal
	// point.
	gapNoDotRE = `(?:[^` + readExcluded + `]|[` + readExtra + readApostrophes + `])*`
	// wordGapRE separates two words: a separator at least (apostrophes
	// alone join them).
	wordGapRE = gapRE + sepRE + gapRE
	// numberGapRE separates two numbers: a separator that cannot be a
	// decimal point.
	numberGapRE  = gapNoDotRE + sepNoDotRE + gapNoDotRE
	apostropheRE = `[` + readApostrophes + `]*`
)

// tokenKind is the kind of a reading token: a word of letters, a number,
// or a symbol.
type tokenKind int

const (
	tokWord tokenKind = iota
	tokNumber
	tokSymbol
)

func kindOf(tok string) tokenKind {
	switch {
	case tok == "":
		return tokSymbol
	case tok[0] >= '0' && tok[0] <= '9' || tok[0] == '-':
		return tokNumber
	case strings.ContainsAny(tok[:1], "/+%#@&*=<>~$^|_"):
		return tokSymbol
	}
	return tokWord
}

// readTokens splits a choice's value or synonym as ReadAnswer does: words
// (lower case, accents and apostrophes dropped), numbers, symbols.
func readTokens(s string) []string {
	var (
		toks []string
		cur  []rune
		kind = tokSymbol
	)
	flush := func() {
		if len(cur) > 0 {
			toks = append(toks, string(cur))
		}
		cur = nil
	}
	for _, r := range s {
		r = outreach.FoldLetter(r)
		switch {
		case r >= '0' && r <= '9':
			if len(cur) > 0 && kind != tokNumber {
				flush()
			}
			kind = tokNumber
			cur = append(cur, r)
		case unicode.IsLetter(r):
			if len(cur) > 0 && kind != tokWord {
				flush()
			}
			kind = tokWord
			cur = append(cur, unicode.ToLower(r))
		case strings.ContainsRune(readApostrophes+"`", r):
		case strings.ContainsRune("/+%#@&*=<>~$^|_", r):
			flush()
			toks = append(toks, string(r))
		default:
			flush()
		}
	}
	flush()
	return toks
}

// letterRE is a class of the characters ReadAnswer reads as the lower-case
// letter r: r and the lower-case Latin-1 letters that fold to it (Studio
// compares without regard to case).
func letterRE(r rune) string {
	set := []rune{r}
	for c := rune(0xDF); c <= 0xFF; c++ {
		if f := outreach.FoldLetter(c); f != c && unicode.ToLower(f) == r {
			set = append(set, c)
		}
	}
	if len(set) == 1 {
		return regexp.QuoteMeta(string(r))
	}
	var b strings.Builder
	b.WriteByte('[')
	for _, c := range set {
		b.WriteString(regexp.QuoteMeta(string(c)))
	}
	b.WriteByte(']')
	return b.String()
}

// tokenRE is a regex that reads as the token tok. A word may hold
// apostrophes before its last letter ("it's", "I'm"); elsewhere
// ReadAnswer drops them too, but the pattern does not take them (the
// reply is asked again). accents takes the Latin-1 letters that fold to
// its letters ("sí"); ñ is always taken for n ("años").
func tokenRE(tok string, accents bool) string {
	if kindOf(tok) != tokWord {
		return regexp.QuoteMeta(tok)
	}
	rs := []rune(tok)
	var b strings.Builder
	for i, r := range rs {
		if i == len(rs)-1 && i > 0 {
			b.WriteString(apostropheRE)
		}
		if accents || r == 'n' { // ñ always: "años"
			b.WriteString(letterRE(r))
		} else {
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}

// gapBetween is what separates two tokens of a kind: a separator
// between two words or two numbers, possibly nothing otherwise.
func gapBetween(a, b tokenKind) string {
	switch {
	case a == tokWord && b == tokWord:
		return wordGapRE
	case a == tokNumber && b == tokNumber:
		return numberGapRE
	}
	return gapRE
}

// phraseRE reads as the tokens of a phrase, in order.
func phraseRE(toks []string) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteString(gapBetween(kindOf(toks[i-1]), kindOf(t)))
		}
		b.WriteString(tokenRE(t, true))
	}
	return b.String()
}

func alt(res []string) string {
	return "(?:" + strings.Join(res, "|") + ")"
}

// choiceRE returns the regex that holds for exactly the replies
// ReadAnswer reads as choice c of spec: its value and synonyms, repeated
// or not, with polite filler around them. It returns "" when the choice
// cannot be read so (a synonym of one choice starts another's, and
// ReadAnswer's longest match could differ).
func choiceRE(spec *outreach.AnswerSpec, c outreach.Choice) string {
	_, _, fill := outreach.AnswerVocabulary()
	var own, others [][]string
	for _, o := range spec.Choices {
		for _, w := range append([]string{o.Value}, o.Synonyms...) {
			t := readTokens(w)
			if len(t) == 0 {
				continue
			}
			if o.Value == c.Value {
				own = append(own, t)
			} else {
				others = append(others, t)
			}
		}
	}
	if len(own) == 0 {
		return ""
	}
	// Keep to choices whose words are not words of another's phrases:
	// then ReadAnswer's longest match finds this choice's phrases.
	ownWords := map[string]bool{}
	for _, t := range own {
		for _, w := range t {
			ownWords[w] = true
		}
	}
	for _, f := range fill {
		ownWords[f] = true
	}
	for _, t := range others {
		if slices.ContainsFunc(t, func(w string) bool { return ownWords[w] }) {
			return ""
		}
	}
	digits := false
	var phrases, fillers []string
	for _, t := range own {
		phrases = append(phrases, phraseRE(t))
		digits = digits || kindOf(t[0]) != tokWord || kindOf(t[len(t)-1]) != tokWord
	}
	for _, f := range fill {
		fillers = append(fillers, tokenRE(f, false))
	}
	sep := wordGapRE
	if digits {
		sep = numberGapRE
	}
	p, f := alt(phrases), alt(fillers)
	return `^` + gapRE + `(?:` + f + sep + `)*` + p + `(?:` + sep + `(?:` + p + `|` + f + `))*` + gapRE + `$`
}

// cells is a set of numbers as ReadAnswer may read them, in doubled
// units: 2k is the whole number k, 2k+1 every number strictly between k
// and k+1. Intervals are inclusive, sorted and disjoint.
type cells [][2]int64

const cellInf = int64(1) << 52

func (s cells) intersect(t cells) cells {
	var out cells
	for _, a := range s {
		for _, b := range t {
			lo, hi := max(a[0], b[0]), min(a[1], b[1])
			if lo <= hi {
				out = append(out, [2]int64{lo, hi})
			}
		}
	}
	return out.norm()
}

func (s cells) minus(t cells) cells {
	out := slices.Clone(s)
	for _, b := range t {
		var next cells
		for _, a := range out {
			if b[1] < a[0] || b[0] > a[1] {
				next = append(next, a)
				continue
			}
			if a[0] < b[0] {
				next = append(next, [2]int64{a[0], b[0] - 1})
			}
			if b[1] < a[1] {
				next = append(next, [2]int64{b[1] + 1, a[1]})
			}
		}
		out = next
	}
	return out.norm()
}

func (s cells) norm() cells {
	slices.SortFunc(s, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	var out cells
	for _, a := range s {
		if n := len(out); n > 0 && a[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], a[1])
			continue
		}
		out = append(out, a)
	}
	return out
}

// boundCells converts inclusive bounds to cells. A bound that is not a
// whole number cuts the cell it lies in, which goes to unsure: ReadAnswer
// reads part of it one way and part the other.
func boundCells(lo, hi *float64, unsure *cells) cells {
	a, b := -cellInf, cellInf
	if lo != nil {
		if f := math.Floor(*lo); f == *lo {
			a = clampCell(2 * f)
		} else {
			a = clampCell(2*f + 2)
			*unsure = append(*unsure, [2]int64{a - 1, a - 1})
		}
	}
	if hi != nil {
		if f := math.Floor(*hi); f == *hi {
			b = clampCell(2 * f)
		} else {
			b = clampCell(2 * f)
			*unsure = append(*unsure, [2]int64{b + 1, b + 1})
		}
	}
	if a > b {
		return nil
	}
	return cells{{a, b}}
}

func clampCell(f float64) int64 {
	return int64(max(min(f, float64(cellInf)), -float64(cellInf)))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// numberSets returns, for a number or integer answer with bounded routes,
// the cells that take each route and those that take no route (to Next):
// the values ReadAnswer reads with confidence, except those in a cell cut
// by a bound that is not a whole number. ok is false when a route is not
// a range.
func numberSets(st *outreach.Step) (routes []cells, rest cells, ok bool) {
	var unsure cells
	valid := boundCells(st.Answer.Min, st.Answer.Max, &unsure)
	var rs []cells
	for _, rt := range st.Routes {
		if rt.When.Equals != "" || len(rt.When.AnyOf) > 0 || (rt.When.Min == nil && rt.When.Max == nil) {
			return nil, nil, false
		}
		rs = append(rs, boundCells(rt.When.Min, rt.When.Max, &unsure))
	}
	valid = valid.minus(unsure.norm())
	var taken cells
	for _, r := range rs {
		r = r.intersect(valid).minus(taken)
		routes = append(routes, r)
		taken = append(taken, r...).norm()
	}
	return routes, valid.minus(taken), true
}

// rangeRE returns a regex of the decimal numerals (no sign, no leading
// zeros) of the whole numbers from a to b, 0 <= a <= b; b >= cellInf/2
// means no upper bound. The classic range-to-regex construction: per
// length, then per leading digit.
func rangeRE(a, b int64) []string {
	if a > b {
		return nil
	}
	if b >= cellInf/2 {
		n := len(strconv.FormatInt(a, 10))
		return append(rangeRE(a, pow10(n)-1), `[1-9][0-9]{`+strconv.Itoa(n)+`,}`)
	}
	na, nb := len(strconv.FormatInt(a, 10)), len(strconv.FormatInt(b, 10))
	if na < nb {
		return append(rangeRE(a, pow10(na)-1), rangeRE(pow10(na), b)...)
	}
	return sameLength(strconv.FormatInt(a, 10), strconv.FormatInt(b, 10))
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

func digitClass(a, b byte) string {
	switch {
	case a == b:
		return string(a)
	case a == '0' && b == '9':
		return `[0-9]`
	}
	return `[` + string(a) + `-` + string(b) + `]`
}

func anyDigits(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return `[0-9]`
	}
	return `[0-9]{` + strconv.Itoa(n) + `}`
}

// sameLength: the numerals from x to y, of the same length, x <= y.
func sameLength(x, y string) []string {
	if x == y {
		return []string{x}
	}
	if len(x) == 1 {
		return []string{digitClass(x[0], y[0])}
	}
	if x[0] == y[0] {
		var out []string
		for _, r := range sameLength(x[1:], y[1:]) {
			out = append(out, x[:1]+r)
		}
		return out
	}
	n := len(x) - 1
	var out []string
	lo, hi := x[0], y[0]
	if strings.Trim(x[1:], "0") != "" {
		for _, r := range sameLength(x[1:], strings.Repeat("9", n)) {
			out = append(out, x[:1]+r)
		}
		lo++
	}
	var tail []string
	if strings.Trim(y[1:], "9") != "" {
		for _, r := range sameLength(strings.Repeat("0", n), y[1:]) {
			tail = append(tail, y[:1]+r)
		}
		hi--
	}
	if lo <= hi {
		out = append(out, digitClass(lo, hi)+anyDigits(n))
	}
	return append(out, tail...)
}

// fractionRE is the part after the point of a number that is not whole:
// at most 8 digits up to the last that is not 0, so that it never reads
// as a whole number once parsed as a float64.
const fractionRE = `\.[0-9]{0,7}[1-9]0*`

// numeralsRE returns regexes of the numerals ReadAnswer reads as a value
// in s, those without and those with a minus sign. integer keeps to
// whole numbers.
func numeralsRE(s cells, integer bool) (pos, neg []string) {
	var posInts, negInts, posCells, negCells cells
	for _, iv := range s {
		if a, b := ceilDiv(iv[0], 2), floorDiv(iv[1], 2); a <= b {
			if b >= 0 {
				posInts = append(posInts, [2]int64{max(a, 0), b})
			}
			if a < 0 {
				negInts = append(negInts, [2]int64{-min(b, -1), -a})
			}
		}
		if integer {
			continue
		}
		if a, b := ceilDiv(iv[0]-1, 2), floorDiv(iv[1]-1, 2); a <= b {
			if b >= 0 {
				posCells = append(posCells, [2]int64{max(a, 0), b})
			}
			if a < 0 {
				negCells = append(negCells, [2]int64{-(min(b, -1) + 1), -(a + 1)})
			}
		}
	}
	add := func(out []string, set cells, suffix string) []string {
		for _, iv := range set.norm() {
			if rs := rangeRE(iv[0], iv[1]); len(rs) > 0 {
				out = append(out, `0*`+alt(rs)+suffix)
			}
		}
		return out
	}
	pos = add(pos, posInts, `(?:\.0+)?`)
	pos = add(pos, posCells, fractionRE)
	neg = add(neg, negInts, `(?:\.0+)?`)
	neg = add(neg, negCells, fractionRE)
	for i := range neg {
		neg[i] = `-` + neg[i]
	}
	return pos, neg
}

// numberRE returns the regex that holds for exactly the replies
// ReadAnswer reads as a number in s (see numeralsRE), or "" if there is
// none.
func numberRE(s cells, integer bool) string {
	numbers, fill, _ := outreach.AnswerVocabulary()
	pos, neg := numeralsRE(s, integer)
	var words []string
	for w, v := range numbers {
		n, _ := strconv.ParseInt(v, 10, 64)
		if slices.ContainsFunc(s, func(iv [2]int64) bool { return iv[0] <= 2*n && 2*n <= iv[1] }) {
			words = append(words, w)
		}
	}
	if len(pos)+len(neg)+len(words) == 0 {
		return ""
	}
	slices.Sort(words)
	var fillers []string
	for _, f := range fill {
		fillers = append(fillers, tokenRE(f, false))
	}
	// "y/o" reads as "yo".
	fillers = append(fillers, `y`+gapRE+`/`+gapRE+`o`)
	f := alt(fillers)
	var tenWords []string
	for w, v := range numbers {
		if v == "10" {
			tenWords = append(tenWords, tokenRE(w, false))
		}
	}
	slices.Sort(tenWords)
	ten := `(?:` + gapRE + `10|` + wordGapRE + alt(tenWords) + `)`
	outOf := `(?:out` + wordGapRE + `of|de)`
	// "7/10", "7 out of 10", "7 de 10": after a numeral, the words may
	// follow at once; after a number word, a separator comes first.
	slash := gapRE + `/` + gapRE + `(?:10|` + alt(tenWords) + `)`
	var forms []string
	if nums := append(pos, neg...); len(nums) > 0 {
		forms = append(forms, alt(nums)+`(?:`+slash+`|`+gapRE+outOf+ten+`)?(?:`+gapRE+f+`)?`)
	}
	if len(words) > 0 {
		var ws []string
		for _, w := range words {
			ws = append(ws, tokenRE(w, false))
		}
		forms = append(forms, alt(ws)+`(?:`+slash+`|`+wordGapRE+outOf+ten+`)?`)
	}
	// Filler before the number is separated from it ("pain 7"; "pain7",
	// which ReadAnswer reads too, is asked again); a minus sign after a
	// separator is the number's.
	return `^` + gapRE + `(?:` + f + wordGapRE + `)*` + alt(forms) + `(?:` + wordGapRE + f + `)*` + gapRE + `$`
}

// readingName starts the friendly name of the conditions of the
// transitions that read a reply as ReadAnswer does (see
// readingTransitions), by which ToFlow tells them apart.
const readingName = "Reads as "

// readingTransitions returns the transitions that read a reply to an ask
// step as ReadAnswer does, each to where the engine goes with the value
// read: for a choice, one per choice; for a number, one per route and
// one for the other valid values. Replies they do not take go on to the
// transitions after them. A text answer has none.
func readingTransitions(st *outreach.Step, input string) []Transition {
	var ts []Transition
	add := func(next, what, pattern string) {
		if pattern == "" {
			return
		}
		ts = append(ts, Transition{Event: EventMatch, Next: next, Conditions: []Condition{{
			FriendlyName: readingName + what, Arguments: []string{input}, Type: CondRegex, Value: pattern,
		}}})
	}
	switch answerKind(st) {
	case outreach.AnswerChoice:
		for _, c := range st.Answer.Choices {
			next := st.Next
			for _, rt := range st.Routes {
				if rt.When.Holds(c.Value) {
					next = rt.Next
					break
				}
			}
			add(next, c.Value, choiceRE(st.Answer, c))
		}
	case outreach.AnswerInteger, outreach.AnswerNumber:
		routes, rest, ok := numberSets(st)
		if !ok {
			return nil
		}
		integer := answerKind(st) == outreach.AnswerInteger
		for i, r := range routes {
			add(st.Routes[i].Next, "route "+strconv.Itoa(i+1)+" ("+st.Routes[i].When.Describe()+")", numberRE(r, integer))
		}
		add(st.Next, "an answer", numberRE(rest, integer))
	}
	return ts
}

// derivedTransition reports whether t is one of the transitions that
// FromFlow derives from an ask step's answer and routes (readingTransitions)
// or writes in every reply split (optOutTransitions): conditions that are
// all regexes named so.
func derivedTransition(t Transition) bool {
	if len(t.Conditions) == 0 {
		return false
	}
	for _, c := range t.Conditions {
		if c.Type != CondRegex || !(strings.HasPrefix(c.FriendlyName, readingName) || strings.HasPrefix(c.FriendlyName, optOutName)) {
			return false
		}
	}
	return true
}
