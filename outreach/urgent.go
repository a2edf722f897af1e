package outreach

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultUrgentTerms are the words that raise an alert when a patient's
// reply holds them, whatever the question. A term matches whole words, in
// any case, with accents, apostrophes and punctuation ignored ("Can't
// breathe!", "cant breathe", "chest-pain"); a final "*" matches any word that starts
// with the term ("suicid*": suicide, suicidal). Negation does not cancel
// a term: "no chest pain" raises an alert too, since a person reading one
// reply too many is safer than a missed one.
var DefaultUrgentTerms = []string{
	"worse", "emergency", "chest pain", "911", "call me",
	"can't breathe", "cannot breathe", "can not breathe",
	"suicid*", "kill myself", "bleeding", "overdose", "passed out", "fainted",
	"ambulance", "ER", "hospital", "help me", "severe", "dizzy",
}

// UrgentTerms finds urgent words in replies. Make one with
// [NewUrgentTerms]; it is safe for concurrent use.
type UrgentTerms struct {
	terms []urgentTerm
}

type urgentTerm struct {
	text   string   // as configured
	words  []string // folded as replies are
	prefix bool     // the last word matches as a prefix
}

// NewUrgentTerms compiles a list of terms (see [DefaultUrgentTerms] for
// how they match). A term with no letter or digit is an error.
func NewUrgentTerms(terms []string) (*UrgentTerms, error) {
	u := &UrgentTerms{}
	var errs []error
	for _, t := range terms {
		text, prefix := strings.CutSuffix(strings.TrimSpace(t), "*")
		words := tokenize(text).toks
		if len(words) == 0 || slices.ContainsFunc(words, isSymbolToken) {
			errs = append(errs, fmt.Errorf("outreach: urgent term %q: use letters, digits and spaces (a final * matches word beginnings)", t))
			continue
		}
		u.terms = append(u.terms, urgentTerm{text: t, words: words, prefix: prefix})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return u, nil
}

// MustUrgentTerms is [NewUrgentTerms] for lists known to be good; it
// panics on a bad term.
func MustUrgentTerms(terms []string) *UrgentTerms {
	u, err := NewUrgentTerms(terms)
	if err != nil {
		panic(err)
	}
	return u
}

// Find returns the terms that reply holds, in the order of the list; nil
// when it holds none. A nil UrgentTerms finds nothing.
func (u *UrgentTerms) Find(reply string) []string {
	if u == nil || len(u.terms) == 0 {
		return nil
	}
	toks := tokenize(reply).toks
	var found []string
	for _, t := range u.terms {
		if t.in(toks) {
			found = append(found, t.text)
		}
	}
	return found
}

// in reports whether the term's words appear in toks, one after another.
func (t urgentTerm) in(toks []string) bool {
	n := len(t.words)
	for i := 0; i+n <= len(toks); i++ {
		ok := true
		for j, w := range t.words {
			tok := toks[i+j]
			if tok != w && !(t.prefix && j == n-1 && strings.HasPrefix(tok, w)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func isSymbolToken(t string) bool {
	return len(t) == 1 && strings.ContainsAny(t, symbolTokens)
}
