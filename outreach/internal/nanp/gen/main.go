// Command gen writes the tables of package nanp from the metadata of
// github.com/nyaruka/phonenumbers (the version in go.mod):
//
//	go run ./gen -o table.go
//
// The table of valid numbers is a trie over the ten digits of a national
// number. It is built by walking the digits and asking phonenumbers itself
// whether a number is valid, once for each leaf; a leaf is a prefix after
// which none of the regular expressions that phonenumbers.IsValidNumber
// consults for country code 1 can change its answer, whatever the
// remaining digits are. That is decided by running each expression as an
// automaton over the digits, so the table is exact, not sampled.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

func main() {
	out := flag.String("o", "table.go", "output file")
	flag.Parse()
	src, err := generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// nsnLen is the length of a NANP national significant number.
const nsnLen = 10

// generate returns the source of table.go.
func generate() ([]byte, error) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, err
	}
	byID := map[string]*phonenumbers.PhoneMetadata{}
	for _, m := range coll.GetMetadata() {
		byID[m.GetId()] = m
	}
	var (
		patterns []*automaton
		regions  []string
	)
	for _, id := range phonenumbers.GetRegionCodesForCountryCode(1) {
		m := byID[id]
		if m == nil {
			return nil, fmt.Errorf("no metadata for region %s", id)
		}
		if ld := m.GetLeadingDigits(); ld != "" {
			// Matched as a prefix by GetRegionCodeForNumber.
			a, err := compile("(?:" + ld + ")[0-9]*")
			if err != nil {
				return nil, fmt.Errorf("%s leading digits: %v", id, err)
			}
			patterns = append(patterns, a)
		}
		for _, d := range descs(m) {
			a, err := compile(d.GetNationalNumberPattern())
			if err != nil {
				return nil, fmt.Errorf("%s pattern: %v", id, err)
			}
			patterns = append(patterns, a)
		}
		ok, err := fastRegion(m)
		if err != nil {
			return nil, err
		}
		if ok {
			regions = append(regions, id)
		}
	}
	t := newTrie(patterns)
	root, err := t.build(nil, t.start())
	if err != nil {
		return nil, err
	}
	return t.source(root, regions)
}

// descs returns the number descriptions that IsValidNumber consults.
func descs(m *phonenumbers.PhoneMetadata) []*phonenumbers.PhoneNumberDesc {
	return []*phonenumbers.PhoneNumberDesc{
		m.GetGeneralDesc(), m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(),
		m.GetVoip(), m.GetPersonalNumber(), m.GetPager(), m.GetUan(),
		m.GetVoicemail(), m.GetFixedLine(), m.GetMobile(),
	}
}

// simpleNationalPrefix matches the national prefixes for parsing that
// strip nothing from ten digits starting with 2-9: "1", or a 7-digit local
// number followed by the end of input, or "1" (the Caribbean regions, which
// prepend their area code to a 7-digit local number).
var simpleNationalPrefix = regexp.MustCompile(`^(?:\((?:\[[0-9-]+\]|[0-9])\\d\{6\}\)\$\|)?1$`)

// fastRegion reports whether phonenumbers parses numbers with default
// region m as the fast path expects: ten digits starting with 2-9 are the
// national number as they are, and 1 followed by such ten digits is
// country code 1 and that national number. It checks what makes that so;
// a region that fails a check is left to phonenumbers.
func fastRegion(m *phonenumbers.PhoneMetadata) (bool, error) {
	if m.GetCountryCode() != 1 || m.GetInternationalPrefix() != "011" {
		return false, nil
	}
	// Nothing is stripped from ten digits starting with 2-9.
	if !simpleNationalPrefix.MatchString(m.GetNationalPrefixForParsing()) {
		return false, nil
	}
	// Eleven digits are too long, so a leading 1 is taken as the country
	// code (maybeExtractCountryCode).
	g := m.GetGeneralDesc()
	if len(g.GetPossibleLength()) == 0 || slices.Max(g.GetPossibleLength()) > nsnLen ||
		slices.Contains(g.GetPossibleLengthLocalOnly(), nsnLen+1) {
		return false, nil
	}
	return true, nil
}

// An automaton runs a regular expression, anchored at both ends, over
// digits.
type automaton struct {
	prog  *syntax.Prog
	memo  map[string]future // by state set and remaining length
	cache map[string][]int  // step results, by state set and digit
}

// future says whether all, none or some of the completions of a prefix
// match.
type future int

const (
	noneMatch future = iota
	allMatch
	someMatch
)

func compile(pattern string) (*automaton, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	for _, in := range prog.Inst {
		switch in.Op {
		case syntax.InstEmptyWidth:
			return nil, fmt.Errorf("unsupported assertion in %q", pattern)
		}
	}
	return &automaton{prog: prog, memo: map[string]future{}, cache: map[string][]int{}}, nil
}

// closure adds to set the states reachable from pc without reading.
func (a *automaton) closure(set map[int]bool, pc int) {
	in := &a.prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		a.closure(set, int(in.Out))
		a.closure(set, int(in.Arg))
	case syntax.InstCapture, syntax.InstNop:
		a.closure(set, int(in.Out))
	case syntax.InstFail:
	default: // InstMatch and the rune instructions
		set[pc] = true
	}
}

func sorted(set map[int]bool) []int {
	var s []int
	for pc := range set {
		s = append(s, pc)
	}
	slices.Sort(s)
	return s
}

func key(states []int) string {
	var b strings.Builder
	for _, pc := range states {
		b.WriteString(strconv.Itoa(pc))
		b.WriteByte(',')
	}
	return b.String()
}

func (a *automaton) start() []int {
	set := map[int]bool{}
	a.closure(set, a.prog.Start)
	return sorted(set)
}

// step returns the states after reading digit d.
func (a *automaton) step(states []int, d int) []int {
	k := key(states) + "/" + strconv.Itoa(d)
	if next, ok := a.cache[k]; ok {
		return next
	}
	r := rune('0' + d)
	set := map[int]bool{}
	for _, pc := range states {
		in := &a.prog.Inst[pc]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			if in.MatchRune(r) {
				a.closure(set, int(in.Out))
			}
		case syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			a.closure(set, int(in.Out))
		}
	}
	next := sorted(set)
	a.cache[k] = next
	return next
}

func (a *automaton) matches(states []int) bool {
	for _, pc := range states {
		if a.prog.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}

// future tells whether all, none or some of the strings of n more digits
// take states to a match.
func (a *automaton) future(states []int, n int) future {
	k := key(states) + "/" + strconv.Itoa(n)
	if f, ok := a.memo[k]; ok {
		return f
	}
	var f future
	if n == 0 {
		f = noneMatch
		if a.matches(states) {
			f = allMatch
		}
	} else {
		for d := range 10 {
			g := a.future(a.step(states, d), n-1)
			switch {
			case d == 0:
				f = g
			case g != f:
				f = someMatch
			}
			if f == someMatch {
				break
			}
		}
	}
	a.memo[k] = f
	return f
}

// A trie of validity, built as the digits are walked.
type trie struct {
	patterns []*automaton
	nodes    [][10]uint16
	index    map[[10]uint16]uint16 // identical nodes are shared
}

const (
	leafInvalid = 0
	leafValid   = 1
	firstNode   = 2
)

func newTrie(patterns []*automaton) *trie {
	return &trie{
		patterns: patterns,
		nodes:    make([][10]uint16, firstNode), // the leaves take the first indexes
		index:    map[[10]uint16]uint16{},
	}
}

func (t *trie) start() [][]int {
	states := make([][]int, len(t.patterns))
	for i, a := range t.patterns {
		states[i] = a.start()
	}
	return states
}

// build returns the trie entry for the numbers that start with prefix,
// given the states of each pattern after reading it.
func (t *trie) build(prefix []byte, states [][]int) (uint16, error) {
	rest := nsnLen - len(prefix)
	settled := true
	for i, a := range t.patterns {
		if a.future(states[i], rest) == someMatch {
			settled = false
			break
		}
	}
	if settled {
		return t.leaf(prefix)
	}
	var n [10]uint16
	for d := range 10 {
		next := make([][]int, len(states))
		for i, a := range t.patterns {
			next[i] = a.step(states[i], d)
		}
		e, err := t.build(append(prefix[:len(prefix):len(prefix)], byte('0'+d)), next)
		if err != nil {
			return 0, err
		}
		n[d] = e
	}
	if allSame(n) {
		return n[0], nil
	}
	if i, ok := t.index[n]; ok {
		return i, nil
	}
	if len(t.nodes) > 0xffff {
		return 0, errors.New("trie too large for uint16 indexes")
	}
	i := uint16(len(t.nodes))
	t.nodes = append(t.nodes, n)
	t.index[n] = i
	return i, nil
}

func allSame(n [10]uint16) bool {
	for _, e := range n[1:] {
		if e != n[0] || n[0] >= firstNode {
			return false
		}
	}
	return true
}

// leaf asks phonenumbers whether prefix, completed with zeros, is valid.
// Numbers starting with 0 or 1 are not asked about: nanp.Valid refuses
// them.
func (t *trie) leaf(prefix []byte) (uint16, error) {
	if len(prefix) == 0 || prefix[0] < '2' {
		return leafInvalid, nil
	}
	nsn := string(prefix) + strings.Repeat("0", nsnLen-len(prefix))
	num, err := phonenumbers.Parse("+1"+nsn, "")
	if err != nil {
		return 0, fmt.Errorf("parse +1%s: %v", nsn, err)
	}
	if got := phonenumbers.GetNationalSignificantNumber(num); num.GetCountryCode() != 1 || got != nsn {
		return 0, fmt.Errorf("+1%s parsed as +%d %s", nsn, num.GetCountryCode(), got)
	}
	if phonenumbers.IsValidNumber(num) {
		return leafValid, nil
	}
	return leafInvalid, nil
}

// source returns table.go, with the trie rooted at root.
func (t *trie) source(root uint16, regions []string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by \"go run ./gen -o table.go\"; DO NOT EDIT.\n\n")
	b.WriteString("package nanp\n\n")
	b.WriteString("// regions are the NANP regions of which ten digits, or 1 and ten digits,\n")
	b.WriteString("// are parsed as that national number. See Region.\n")
	fmt.Fprintf(&b, "var regions = [...]string{%s}\n\n", quoteAll(regions))
	b.WriteString("// trieRoot is the node of trie that reads the first digit.\n")
	fmt.Fprintf(&b, "const trieRoot = %d\n\n", root)
	b.WriteString("// trie holds which national numbers are valid: each node has an entry\n")
	b.WriteString("// for each next digit, either a leaf (leafInvalid, leafValid) or the\n")
	b.WriteString("// index of the node that reads the digit after it. See Valid.\n")
	fmt.Fprintf(&b, "var trie = [%d][10]uint16{\n", len(t.nodes))
	for i, n := range t.nodes {
		if i < firstNode {
			continue
		}
		fmt.Fprintf(&b, "\t%d: {", i)
		for d, e := range n {
			if d > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(int(e)))
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
