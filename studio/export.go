package studio

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/patient-outreach/sms/outreach"
)

// Regular expressions that the exported splits use to check a reply's form.
// ToFlow recognises them: they say what kind of answer an ask step takes.
// NumberPattern takes a decimal point only: the engine puts a decimal
// comma ("98,6") in doubt and asks again, and so must Studio.
const (
	IntegerPattern = `^\s*-?\d+\s*$`
	NumberPattern  = `^\s*-?\d+(\.\d+)?\s*$`
	TextPattern    = `[A-Za-z0-9]`
)

// legacyNumberPattern is the NumberPattern of older exports, which took a
// decimal comma too; ToFlow still reads it (see legacyForm).
const legacyNumberPattern = `^\s*-?\d+([.,]\d+)?\s*$`

const (
	fromAddress = "{{flow.channel.address}}"
	toAddress   = "{{contact.channel.address}}"
)

// FromFlow exports a valid flow as a Studio definition. See the package
// documentation for the mapping. It fails on an invalid flow, on step ids
// that are not Studio widget names (letters, digits and '_', not starting
// with a digit), and on conditions Studio cannot express. A flow imported
// from a Studio definition ([Import]; its Source has Format
// [SourceFormat]) is exported starting from that definition, so that what
// the steps do not hold comes back: see the package documentation.
func FromFlow(f *outreach.Flow) (*Definition, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Source != nil && f.Source.Format == SourceFormat {
		return fromSource(f)
	}
	x := &exporter{f: f, kinds: map[string]outreach.AnswerKind{}, first: map[string]bool{}}
	for _, id := range f.FirstSteps() {
		x.first[id] = true
	}
	for i := range f.Steps {
		st := &f.Steps[i]
		if !widgetName(st.ID) {
			return nil, fmt.Errorf("studio: step %q: %q is not a Studio widget name: use letters, digits and '_', not starting with a digit", st.ID, st.ID)
		}
		if st.Kind == outreach.StepAsk {
			x.kinds[st.ID] = answerKind(st)
		}
	}
	d := &Definition{
		Description:  f.Description,
		InitialState: TriggerName,
		Flags:        Flags{AllowConcurrentCalls: true},
	}
	onText, keyword := patientStart(f)
	d.States = append(d.States, State{
		Name: TriggerName,
		Type: TypeTrigger,
		Transitions: []Transition{
			{Event: EventIncomingMessage, Next: onText},
			{Event: eventIncomingCall},
			{Event: EventIncomingRequest, Next: f.StartStep()},
		},
		Properties: mustJSON(TriggerProperties{Offset: &Offset{X: 0, Y: 0}}),
	})
	owner := map[string]string{TriggerName: ""}
	if keyword != nil {
		d.States = append(d.States, *keyword)
		owner[keyword.Name] = ""
	}
	first := firstAsk(f)
	for i := range f.Steps {
		st := &f.Steps[i]
		states, err := x.step(st, askTimeout(st, first), i+1)
		if err != nil {
			return nil, err
		}
		for _, s := range states {
			if prev, dup := owner[s.Name]; dup {
				return nil, fmt.Errorf("studio: step %q: widget name %q is already used (by %s)", st.ID, s.Name, describeOwner(prev))
			}
			owner[s.Name] = st.ID
		}
		d.States = append(d.States, states...)
	}
	return d, nil
}

// KeywordWidget names the split FromFlow writes after the trigger of a
// flow whose [outreach.Trigger] has keywords.
const KeywordWidget = "trigger_keyword"

// patientStart returns where a text that starts an execution (the
// trigger's incomingMessage) leads: nowhere for a flow without a
// Trigger; the start step for a Trigger without keywords; else the
// split keyword, which goes on to the start step when the text's first
// word is a keyword, as [outreach.Trigger.Matches] reads it, and else
// ends the execution.
func patientStart(f *outreach.Flow) (next string, keyword *State) {
	if f.Trigger == nil {
		return "", nil
	}
	if len(f.Trigger.Keywords) == 0 {
		return f.StartStep(), nil
	}
	const input = "{{trigger.message.Body}}"
	return KeywordWidget, &State{
		Name: KeywordWidget, Type: TypeSplit,
		Transitions: []Transition{
			{Event: "noMatch"},
			{Event: "match", Next: f.StartStep(), Conditions: []Condition{cond(CondRegex, keywordPattern(f.Trigger.Keywords), input)}},
		},
		Properties: mustJSON(SplitProperties{Offset: &Offset{X: 400, Y: 0}, Input: input}),
	}
}

// keywordPattern is a regular expression that holds when a text's first
// word ([outreach.FirstWord]) is one of keywords, whether or not the
// regex is applied ignoring case: each letter is spelled as a class of
// both cases ("[jJ][oO][iI][nN]"), and words end at any character that
// is not an ASCII letter or digit.
func keywordPattern(keywords []string) string {
	var alts []string
	for _, k := range keywords {
		var b strings.Builder
		for _, r := range k {
			if lo, up := unicode.ToLower(r), unicode.ToUpper(r); lo != up {
				b.WriteString("[" + string(lo) + string(up) + "]")
			} else {
				b.WriteRune(r)
			}
		}
		alts = append(alts, b.String())
	}
	return `^[^A-Za-z0-9]*(` + strings.Join(alts, "|") + `)([^A-Za-z0-9][\s\S]*)?$`
}

// askTimeout is the timeout an ask step's widget waits: the step's own,
// else the engine's default for the conversation's first question (first)
// or a later one. Other steps have none.
func askTimeout(st *outreach.Step, first string) Seconds {
	timeout := time.Duration(st.Timeout)
	if st.Kind == outreach.StepAsk && timeout <= 0 {
		timeout = outreach.DefaultLaterTimeout
		if st.ID == first {
			timeout = outreach.DefaultFirstTimeout
		}
	}
	return Seconds(timeout / time.Second)
}

func describeOwner(step string) string {
	if step == "" {
		return "the trigger"
	}
	return "step " + strconv.Quote(step)
}

// widgetName reports whether s is a valid Studio widget name.
func widgetName(s string) bool {
	return plainName(s) && !(s[0] >= '0' && s[0] <= '9')
}

// firstAsk returns the ask step reached first from the start through send
// steps only: the engine gives it the shorter default timeout.
func firstAsk(f *outreach.Flow) string {
	seen := map[string]bool{}
	for id := f.StartStep(); id != "" && !seen[id]; {
		seen[id] = true
		st := f.StepByID(id)
		if st == nil {
			return ""
		}
		switch st.Kind {
		case outreach.StepAsk:
			return id
		case outreach.StepSend:
			id = st.Next
		default:
			return ""
		}
	}
	return ""
}

func answerKind(st *outreach.Step) outreach.AnswerKind {
	if st.Answer == nil {
		return outreach.AnswerText
	}
	return st.Answer.Kind
}

type exporter struct {
	f     *outreach.Flow
	kinds map[string]outreach.AnswerKind // ask step id -> answer kind
	// legacy writes an ask's split as older exports did (see
	// legacyForm), for ToFlow to recognise them.
	legacy legacyForm
	// first holds the steps that may send a conversation's first message,
	// whose body gets the flow's opt-out footer (outreach.Flow.WithOptOut).
	first map[string]bool
}

// body returns the body a step's widget sends: the first message of a
// conversation gets the flow's opt-out footer, as the engine adds it.
func (x *exporter) body(st *outreach.Step) string {
	if x.first[st.ID] && x.f != nil {
		return x.f.WithOptOut(st.Body)
	}
	return st.Body
}

func message(body string, timeout Seconds, row, col int) json.RawMessage {
	return mustJSON(MessageProperties{
		Offset: &Offset{X: col * 400, Y: row * 250}, From: fromAddress, To: toAddress,
		Body: toLiquid(body), Timeout: timeout,
	})
}

func (x *exporter) step(st *outreach.Step, timeout Seconds, row int) ([]State, error) {
	switch st.Kind {
	case outreach.StepSend:
		return []State{{
			Name: st.ID, Type: TypeSendMessage,
			Transitions: []Transition{{Event: "sent", Next: st.Next}, {Event: "failed"}},
			Properties:  message(x.body(st), 0, row, 0),
		}}, nil
	case outreach.StepEnd:
		outcome := st.Outcome
		if outcome == "" {
			outcome = outreach.OutcomeCompleted
		}
		set := State{
			Name: st.ID, Type: TypeSetVariables,
			Transitions: []Transition{{Event: "next"}},
			Properties: mustJSON(SetVariablesProperties{
				Offset:    &Offset{X: 0, Y: row * 250},
				Variables: []Variable{{Type: "string", Key: OutcomeVariable, Value: outcome}},
			}),
		}
		if st.Body == "" {
			return []State{set}, nil
		}
		set.Name = st.ID + "_outcome"
		set.Properties = mustJSON(SetVariablesProperties{
			Offset:    &Offset{X: 400, Y: row * 250},
			Variables: []Variable{{Type: "string", Key: OutcomeVariable, Value: outcome}},
		})
		return []State{{
			Name: st.ID, Type: TypeSendMessage,
			Transitions: []Transition{{Event: "sent", Next: set.Name}, {Event: "failed"}},
			Properties:  message(x.body(st), 0, row, 0),
		}, set}, nil
	case outreach.StepBranch:
		input := "{{" + varToLiquid(st.Var) + "}}"
		integer := false
		if q, ok := strings.CutPrefix(st.Var, "answers."); ok {
			integer = x.kinds[q] == outreach.AnswerInteger
		}
		ts := []Transition{{Event: "noMatch", Next: st.Next}}
		// Bounds of a value that may not be a whole number: the bound
		// itself goes to the first route with bounds it satisfies, by a
		// transition just before that route's (see answerTransitions).
		eqs := map[int][]float64{}
		if !integer {
			for _, b := range branchBounds(st.Routes) {
				i := firstRoute(st.Routes, b, true)
				eqs[i] = append(eqs[i], b)
			}
		}
		for i, rt := range st.Routes {
			for _, b := range eqs[i] {
				ts = append(ts, Transition{Event: "match", Next: rt.Next, Conditions: []Condition{cond(CondRegex, eqPattern(b), input)}})
			}
			cs, err := routeConditions(rt.When, input, integer, legacyNone)
			if err != nil {
				return nil, fmt.Errorf("studio: step %q: routes[%d]: %w", st.ID, i, err)
			}
			ts = append(ts, Transition{Event: "match", Next: rt.Next, Conditions: cs})
		}
		return []State{{
			Name: st.ID, Type: TypeSplit, Transitions: ts,
			Properties: mustJSON(SplitProperties{Offset: &Offset{X: 0, Y: row * 250}, Input: input}),
		}}, nil
	case outreach.StepAsk:
		return x.ask(st, timeout, row)
	}
	return nil, fmt.Errorf("studio: step %q: unknown kind %q", st.ID, st.Kind)
}

// ask exports an ask step: the question, a split that checks the reply,
// and for each re-ask another question (hint and question) with its split.
// A text question with no routes has no split: Studio only reports
// non-empty replies.
func (x *exporter) ask(st *outreach.Step, timeout Seconds, row int) ([]State, error) {
	waitTransitions := func(next string) []Transition {
		return []Transition{
			{Event: "incomingMessage", Next: next},
			{Event: "timeout", Next: st.OnTimeout},
			{Event: "deliveryFailure", Next: st.OnFailure},
		}
	}
	if answerKind(st) == outreach.AnswerText && len(st.Routes) == 0 {
		return []State{{Name: st.ID, Type: TypeSendAndWait, Transitions: waitTransitions(st.Next), Properties: message(x.body(st), timeout, row, 0)}}, nil
	}
	hint := st.Hint
	if hint == "" {
		hint = outreach.DefaultHint(st.Answer)
	}
	var states []State
	n := st.Reasks()
	for attempt := 0; attempt <= n; attempt++ {
		name, body := st.ID, x.body(st)
		if attempt > 0 {
			name, body = fmt.Sprintf("%s_reask%d", st.ID, attempt), hint+" "+st.Body
		}
		split := name + "_split"
		noMatch := st.NoAnswer
		if attempt < n {
			noMatch = fmt.Sprintf("%s_reask%d", st.ID, attempt+1)
		}
		input := "{{widgets." + name + ".inbound.Body}}"
		matches, err := answerTransitions(st, input, x.legacy)
		if err != nil {
			return nil, fmt.Errorf("studio: step %q: %w", st.ID, err)
		}
		states = append(states,
			State{Name: name, Type: TypeSendAndWait, Transitions: waitTransitions(split), Properties: message(body, timeout, row, 2*attempt)},
			State{Name: split, Type: TypeSplit,
				Transitions: append([]Transition{{Event: "noMatch", Next: noMatch}}, matches...),
				Properties:  mustJSON(SplitProperties{Offset: &Offset{X: (2*attempt + 1) * 400, Y: row * 250}, Input: input})},
		)
	}
	return states, nil
}

// answerTransitions returns the match transitions of an ask step's split:
// its routes, then one transition for what any valid answer is, to Next.
// A choice answer gets one transition per choice (value and synonyms), to
// the first route the choice satisfies, else to Next. For other answers
// every route transition starts with the conditions of that last
// transition (Studio takes a transition only when all its conditions
// hold), so that a reply that is not a valid answer, such as "800" or
// "109.5" to an integer question from 50 to 700, takes no route and is
// re-asked, as outreach.MatchAnswer would have it.
//
// Studio's less_than and greater_than are strict and outreach bounds are
// inclusive. For an integer answer a bound is written one step off (min
// 18 is greater_than 17, max 55 less_than 56), which is exact since the
// reply is a whole number. For a number answer the bounds are written
// strict and the bounds themselves get transitions of their own: each
// value that is a bound (of the answer, or of a route, within the
// answer's range) has a transition testing the reply's form
// (NumberPattern) and that it is exactly that value (a regex, see
// eqPattern), to the step the engine goes to for that value, placed just
// before the transitions of the first route it satisfies (else just
// before the last transition, and it goes to Next).
//
// x.legacy writes the conditions as older exports did (see legacyForm),
// so that ToFlow can still recognise such definitions.
func answerTransitions(st *outreach.Step, input string, legacy legacyForm) ([]Transition, error) {
	kind := answerKind(st)
	var ts []Transition
	match := func(next string, cs ...Condition) {
		ts = append(ts, Transition{Event: "match", Next: next, Conditions: cs})
	}
	if legacy == legacyNone {
		ts = append(ts, optOutTransitions(input)...)
		ts = append(ts, readingTransitions(st, input)...)
	}
	if kind == outreach.AnswerChoice {
		var all []string
		for _, c := range st.Answer.Choices {
			words := append([]string{c.Value}, c.Synonyms...)
			for _, w := range words {
				if strings.Contains(w, ",") {
					return nil, fmt.Errorf("choice %q: %q has a comma, which Studio's matches_any_of cannot hold", c.Value, w)
				}
			}
			all = append(all, words...)
			next := st.Next
			for _, rt := range st.Routes {
				if rt.When.Holds(c.Value) {
					next = rt.Next
					break
				}
			}
			match(next, anyOf(words, input))
		}
		match(st.Next, anyOf(all, input))
		return ts, nil
	}
	valid, err := validity(st, input, legacy)
	if err != nil {
		return nil, err
	}
	// eqs[i]: the bounds taken by route i (len(st.Routes): by none).
	eqs := map[int][]float64{}
	if kind == outreach.AnswerNumber && !legacy.types() {
		for _, b := range boundValues(st) {
			i := firstRoute(st.Routes, b, false)
			eqs[i] = append(eqs[i], b)
		}
	}
	takeBounds := func(i int, next string) {
		for _, b := range eqs[i] {
			match(next, cond(CondRegex, NumberPattern, input), cond(CondRegex, eqPattern(b), input))
		}
	}
	for i, rt := range st.Routes {
		takeBounds(i, rt.Next)
		cs, err := routeConditions(rt.When, input, kind == outreach.AnswerInteger, legacy)
		if err != nil {
			return nil, fmt.Errorf("routes[%d]: %w", i, err)
		}
		if legacy == legacyBare {
			match(rt.Next, cs...)
			continue
		}
		match(rt.Next, append(slices.Clone(valid), cs...)...)
	}
	takeBounds(len(st.Routes), st.Next)
	match(st.Next, valid...)
	return ts, nil
}

// legacyForm says how older exports wrote an ask step's split, which
// ToFlow still reads (exporting such a step again writes it as now).
type legacyForm int

const (
	legacyNone legacyForm = iota // as FromFlow writes it now
	// legacyTypes: ranges as is_between "MIN-MAX" and one-sided bounds of
	// whole numbers as is_greater_than / is_less_than, condition types
	// Studio does not have, and a number answer's form as
	// legacyNumberPattern, which takes a decimal comma.
	legacyTypes
	// legacyBare: as legacyTypes, and the route transitions without the
	// answer's validity conditions.
	legacyBare
	// legacyUnread: as now, without the transitions that read a reply as
	// outreach.ReadAnswer does and catch opt-outs (readingTransitions,
	// optOutTransitions), which exports before them did not have.
	legacyUnread
)

// types reports whether the form writes bounds with the condition types
// Studio does not have.
func (l legacyForm) types() bool { return l == legacyTypes || l == legacyBare }

// boundValues returns the values that are bounds of a number answer's
// range or of its routes, within the answer's range, in order, once each.
func boundValues(st *outreach.Step) []float64 {
	var out []float64
	add := func(p *float64) {
		if p == nil || slices.Contains(out, *p) {
			return
		}
		if (st.Answer.Min != nil && *p < *st.Answer.Min) || (st.Answer.Max != nil && *p > *st.Answer.Max) {
			return
		}
		out = append(out, *p)
	}
	add(st.Answer.Min)
	add(st.Answer.Max)
	for _, rt := range st.Routes {
		if rt.When.Equals == "" && len(rt.When.AnyOf) == 0 {
			add(rt.When.Min)
			add(rt.When.Max)
		}
	}
	return out
}

// branchBounds returns the bounds of routes, in order, once each.
func branchBounds(routes []outreach.Route) []float64 {
	var out []float64
	for _, rt := range routes {
		if rt.When.Equals != "" || len(rt.When.AnyOf) > 0 {
			continue
		}
		for _, p := range []*float64{rt.When.Min, rt.When.Max} {
			if p != nil && !slices.Contains(out, *p) {
				out = append(out, *p)
			}
		}
	}
	return out
}

// firstRoute returns the index of the first route that the number b
// satisfies, as the engine reads it (its normalised value,
// strconv.FormatFloat(b, 'f', -1, 64)), or len(routes). numeric looks at
// routes with bounds only.
func firstRoute(routes []outreach.Route, b float64, numeric bool) int {
	v := fmtNum(b)
	for i, rt := range routes {
		if numeric && (rt.When.Equals != "" || len(rt.When.AnyOf) > 0) {
			continue
		}
		if rt.When.Holds(v) {
			return i
		}
	}
	return len(routes)
}

// validity returns the conditions that a reply to an ask step with an
// integer, number or text answer meets exactly when it is a valid answer
// (for a number answer: other than a bound itself, which has transitions
// of its own): the form's regex (IntegerPattern, NumberPattern,
// TextPattern) and the answer's bounds, if any.
func validity(st *outreach.Step, input string, legacy legacyForm) ([]Condition, error) {
	kind := answerKind(st)
	switch kind {
	case outreach.AnswerInteger, outreach.AnswerNumber:
		pattern := NumberPattern
		switch {
		case kind == outreach.AnswerInteger:
			pattern = IntegerPattern
		case legacy.types():
			pattern = legacyNumberPattern
		}
		cs := []Condition{cond(CondRegex, pattern, input)}
		if st.Answer.Min != nil || st.Answer.Max != nil {
			bs, err := numberConditions(st.Answer.Min, st.Answer.Max, input, kind == outreach.AnswerInteger, legacy)
			if err != nil {
				return nil, fmt.Errorf("answer: %w", err)
			}
			cs = append(cs, bs...)
		}
		return cs, nil
	}
	return []Condition{cond(CondRegex, TextPattern, input)}, nil
}

func cond(typ, value, input string) Condition {
	return Condition{FriendlyName: "If value " + typ + " " + value, Arguments: []string{input}, Type: typ, Value: value}
}

func anyOf(words []string, input string) Condition {
	return cond(CondMatchesAnyOf, strings.Join(words, ", "), input)
}

// routeConditions writes a route's condition as Studio conditions, all of
// which must hold: one for Equals or AnyOf, one or two for bounds (see
// numberConditions).
func routeConditions(c outreach.Condition, input string, integer bool, legacy legacyForm) ([]Condition, error) {
	switch {
	case c.Equals != "":
		return []Condition{cond(CondEqualTo, c.Equals, input)}, nil
	case len(c.AnyOf) > 0:
		for _, w := range c.AnyOf {
			if strings.Contains(w, ",") {
				return nil, fmt.Errorf("%q has a comma, which Studio's matches_any_of cannot hold", w)
			}
		}
		return []Condition{anyOf(c.AnyOf, input)}, nil
	}
	return numberConditions(c.Min, c.Max, input, integer, legacy)
}

// numberConditions writes inclusive bounds with Studio's strict
// greater_than and less_than. On a whole number (integer) they are
// exact: a whole bound is written one step off (min 18 is greater_than
// 17, max 55 less_than 56), any other as it is, since a whole number
// never equals it (min 17.5 is greater_than 17.5). On any other value
// they are the bounds themselves, strict: the caller writes the
// transitions that take the bounds (see answerTransitions and the branch
// export).
func numberConditions(lo, hi *float64, input string, integer bool, legacy legacyForm) ([]Condition, error) {
	if legacy.types() {
		c, err := legacyNumberCondition(lo, hi, input, integer)
		return []Condition{c}, err
	}
	var cs []Condition
	if lo != nil {
		b := *lo
		if integer && b == math.Trunc(b) {
			b--
		}
		cs = append(cs, cond(CondGreaterThan, fmtNum(b), input))
	}
	if hi != nil {
		b := *hi
		if integer && b == math.Trunc(b) {
			b++
		}
		cs = append(cs, cond(CondLessThan, fmtNum(b), input))
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("the condition is empty")
	}
	return cs, nil
}

// legacyNumberCondition writes bounds as exports before now did, with
// condition types Studio does not have: only ToFlow uses it, to recognise
// such exports.
func legacyNumberCondition(lo, hi *float64, input string, integer bool) (Condition, error) {
	switch {
	case lo != nil && hi != nil:
		return cond("is_between", fmtNum(*lo)+"-"+fmtNum(*hi), input), nil
	case lo != nil && integer && *lo == math.Trunc(*lo):
		return cond("is_greater_than", fmtNum(*lo-1), input), nil
	case hi != nil && integer && *hi == math.Trunc(*hi):
		return cond("is_less_than", fmtNum(*hi+1), input), nil
	case lo != nil || hi != nil:
		return Condition{}, fmt.Errorf("a one-sided bound on a decimal number")
	}
	return Condition{}, fmt.Errorf("the condition is empty")
}

// eqPattern returns a regex that a split input matches exactly when it is
// a decimal numeral (as [Condition.Holds] reads numbers: optional sign,
// digits, optional decimal point and digits, spaces around) whose value
// is b: for 110, " 110 ", "0110", "110.0", "+110."; for 0.5, "0.50",
// ".5". Studio's greater_than and less_than being strict, it is how an
// export takes a bound that is not a whole number's.
func eqPattern(b float64) string {
	ip, fp, _ := strings.Cut(fmtNum(math.Abs(b)), ".")
	var p strings.Builder
	p.WriteString(`^\s*`)
	switch {
	case b < 0:
		p.WriteString(`-`)
	case b > 0:
		p.WriteString(`\+?`)
	default:
		p.WriteString(`[-+]?`)
	}
	switch {
	case fp == "" && ip == "0":
		p.WriteString(`(0+\.?0*|\.0+)`)
	case fp == "":
		p.WriteString(`0*` + ip + `(\.0*)?`)
	case ip == "0":
		p.WriteString(`0*\.` + fp + `0*`)
	default:
		p.WriteString(`0*` + ip + `\.` + fp + `0*`)
	}
	p.WriteString(`\s*$`)
	return p.String()
}

// eqMiddleRE reads the numeral part of an eqPattern: zero, a whole
// number, or a decimal.
var eqMiddleRE = regexp.MustCompile(`^(?:\(0\+\\\.\?0\*\|\\\.0\+\)|0\*(\d+)\(\\\.0\*\)\?|0\*(\d*)\\\.(\d+)0\*)$`)

// eqBound returns the value b whose eqPattern is pattern.
func eqBound(pattern string) (float64, bool) {
	rest, ok := strings.CutPrefix(pattern, `^\s*`)
	if !ok {
		return 0, false
	}
	if rest, ok = strings.CutSuffix(rest, `\s*$`); !ok {
		return 0, false
	}
	sign := ""
	for _, p := range []string{`-`, `\+?`, `[-+]?`} {
		if r, ok := strings.CutPrefix(rest, p); ok {
			sign, rest = p, r
			break
		}
	}
	m := eqMiddleRE.FindStringSubmatch(rest)
	if sign == "" || m == nil {
		return 0, false
	}
	s := "0"
	switch {
	case m[1] != "":
		s = m[1]
	case m[3] != "":
		s = m[2] + "." + m[3]
		if m[2] == "" {
			s = "0." + m[3]
		}
	}
	if sign == "-" {
		s = "-" + s
	}
	b, err := strconv.ParseFloat(s, 64)
	if err != nil || eqPattern(b) != pattern {
		return 0, false
	}
	return b, true
}

func fmtNum(f float64) string {
	if f == 0 {
		f = 0 // no "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
