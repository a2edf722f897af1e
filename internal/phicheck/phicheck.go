// Package phicheck is test support for the rule "no PHI in logs": it
// checks captured log output against what a test put into a campaign
// (names, phone numbers in every way they are written, message bodies,
// replies, campaign names) and reports each line that holds one.
//
//	var s phicheck.Secrets
//	s.Add("first name", "Zebulon")
//	s.AddPhone("+14405550142")
//	s.Add("campaign name", "Oncology follow-up Zebulon")
//	s.Check(t, "web app stderr", stderr.String())
//
// Masked numbers (outreach.MaskPhone: "***0142") pass.
package phicheck

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// MinLen is the length under which a value is not checked: replies such
// as "3" or "yes" appear in any log by chance.
const MinLen = 5

// Secret is one value that must not appear in logs, and what it is.
type Secret struct {
	Kind, Value string
}

// Secrets is a set of values that must not appear in logs. The zero
// value is empty and ready to use.
type Secrets struct {
	list []Secret
	seen map[string]bool
}

// Add adds values of kind; values shorter than [MinLen] (after trimming
// spaces) and repeats are left out.
func (s *Secrets) Add(kind string, values ...string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len([]rune(v)) < MinLen || s.seen[strings.ToLower(v)] {
			continue
		}
		s.seen[strings.ToLower(v)] = true
		s.list = append(s.list, Secret{Kind: kind, Value: v})
	}
}

// AddPhone adds a North American number given in E.164 (+1 and ten
// digits) in every form it may be written: E.164, URL-encoded E.164,
// eleven and ten digits, "(440) 555-0142", "440-555-0142",
// "440.555.0142" and "440 555 0142". It panics on any other number: a
// test that meant to check a number must not check nothing.
func (s *Secrets) AddPhone(e164 string) {
	if len(e164) != 12 || !strings.HasPrefix(e164, "+1") || strings.Trim(e164[1:], "0123456789") != "" {
		panic(fmt.Sprintf("phicheck: AddPhone(%q): want +1 and ten digits", e164))
	}
	d := e164[2:]
	area, exch, line := d[:3], d[3:6], d[6:]
	s.Add("phone number", e164, url.QueryEscape(e164), e164[1:], d,
		"("+area+") "+exch+"-"+line, area+"-"+exch+"-"+line, area+"."+exch+"."+line, area+" "+exch+" "+line)
}

// Secrets returns the values added so far.
func (s *Secrets) Secrets() []Secret { return append([]Secret(nil), s.list...) }

// Find returns the lines of logs that hold a secret (compared without
// regard to case), in order, each with the first secret found in it.
func (s *Secrets) Find(logs string) []Leak {
	var leaks []Leak
	n := 0
	for line := range strings.Lines(logs) {
		n++
		lower := strings.ToLower(line)
		for _, sec := range s.list {
			if strings.Contains(lower, strings.ToLower(sec.Value)) {
				leaks = append(leaks, Leak{Line: n, Text: strings.TrimRight(line, "\r\n"), Secret: sec})
				break
			}
		}
	}
	return leaks
}

// Leak is a line of logs that holds a secret.
type Leak struct {
	Line   int    // 1-based
	Text   string // the whole line
	Secret Secret
}

func (l Leak) String() string {
	return fmt.Sprintf("line %d holds %s %q:\n\t%s", l.Line, l.Secret.Kind, l.Secret.Value, l.Text)
}

// Check reports an error on t for each line of logs (named what) that
// holds a secret, printing the line. It fails the test when no secret was
// added: such a check would pass by accident.
func (s *Secrets) Check(t testing.TB, what, logs string) {
	t.Helper()
	if len(s.list) == 0 {
		t.Fatalf("phicheck: %s: no secret to look for", what)
	}
	for _, l := range s.Find(logs) {
		t.Errorf("%s: %v", what, l)
	}
}
