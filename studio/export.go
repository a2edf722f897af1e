package studio

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// Regular expressions that the exported splits use to check a reply's form.
// ToFlow recognises them: they say what kind of answer an ask step takes.
const (
	IntegerPattern = `^\s*-?\d+\s*$`
	NumberPattern  = `^\s*-?\d+([.,]\d+)?\s*$`
	TextPattern    = `[A-Za-z0-9]`
)

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
	d.States = append(d.States, State{
		Name: TriggerName,
		Type: TypeTrigger,
		Transitions: []Transition{
			{Event: EventIncomingMessage},
			{Event: eventIncomingCall},
			{Event: EventIncomingRequest, Next: f.StartStep()},
		},
		Properties: mustJSON(TriggerProperties{Offset: &Offset{X: 0, Y: 0}}),
	})
	owner := map[string]string{TriggerName: ""}
	first := firstAsk(f)
	for i := range f.Steps {
		st := &f.Steps[i]
		timeout := time.Duration(st.Timeout)
		if st.Kind == outreach.StepAsk && timeout <= 0 {
			timeout = outreach.DefaultLaterTimeout
			if st.ID == first {
				timeout = outreach.DefaultFirstTimeout
			}
		}
		states, err := x.step(st, Seconds(timeout/time.Second), i+1)
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
	// legacy writes an ask's route transitions without the answer's
	// validity conditions, as older exports did (see answerTransitions).
	legacy bool
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
		for i, rt := range st.Routes {
			c, err := routeCondition(rt.When, input, integer)
			if err != nil {
				return nil, fmt.Errorf("studio: step %q: routes[%d]: %w", st.ID, i, err)
			}
			ts = append(ts, Transition{Event: "match", Next: rt.Next, Conditions: []Condition{c}})
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
// re-asked, as outreach.MatchAnswer would have it. legacy leaves those
// conditions out, as exports before they were added did, so that ToFlow
// can still recognise such definitions.
func answerTransitions(st *outreach.Step, input string, legacy bool) ([]Transition, error) {
	kind := answerKind(st)
	var ts []Transition
	match := func(next string, cs ...Condition) {
		ts = append(ts, Transition{Event: "match", Next: next, Conditions: cs})
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
	valid, err := validity(st, input)
	if err != nil {
		return nil, err
	}
	for i, rt := range st.Routes {
		c, err := routeCondition(rt.When, input, kind == outreach.AnswerInteger)
		if err != nil {
			return nil, fmt.Errorf("routes[%d]: %w", i, err)
		}
		if legacy {
			match(rt.Next, c)
			continue
		}
		match(rt.Next, append(slices.Clone(valid), c)...)
	}
	match(st.Next, valid...)
	return ts, nil
}

// validity returns the conditions that a reply to an ask step with an
// integer, number or text answer meets exactly when it is a valid answer:
// the form's regex (IntegerPattern, NumberPattern, TextPattern) and, for a
// number with bounds, its range.
func validity(st *outreach.Step, input string) ([]Condition, error) {
	kind := answerKind(st)
	switch kind {
	case outreach.AnswerInteger, outreach.AnswerNumber:
		pattern := NumberPattern
		if kind == outreach.AnswerInteger {
			pattern = IntegerPattern
		}
		cs := []Condition{cond("regex", pattern, input)}
		if st.Answer.Min != nil || st.Answer.Max != nil {
			c, err := numberCondition(st.Answer.Min, st.Answer.Max, input, kind == outreach.AnswerInteger)
			if err != nil {
				return nil, fmt.Errorf("answer: %w", err)
			}
			cs = append(cs, c)
		}
		return cs, nil
	}
	return []Condition{cond("regex", TextPattern, input)}, nil
}

func cond(typ, value, input string) Condition {
	return Condition{FriendlyName: "If value " + typ + " " + value, Arguments: []string{input}, Type: typ, Value: value}
}

func anyOf(words []string, input string) Condition {
	return cond("matches_any_of", strings.Join(words, ", "), input)
}

// routeCondition writes a route's condition as one Studio condition.
func routeCondition(c outreach.Condition, input string, integer bool) (Condition, error) {
	switch {
	case c.Equals != "":
		return cond("equal_to", c.Equals, input), nil
	case len(c.AnyOf) > 0:
		for _, w := range c.AnyOf {
			if strings.Contains(w, ",") {
				return Condition{}, fmt.Errorf("%q has a comma, which Studio's matches_any_of cannot hold", w)
			}
		}
		return anyOf(c.AnyOf, input), nil
	}
	return numberCondition(c.Min, c.Max, input, integer)
}

// numberCondition writes inclusive bounds. Studio's is_greater_than and
// is_less_than are strict, so a one-sided bound is only exact for whole
// numbers (min 18 is "greater than 17").
func numberCondition(lo, hi *float64, input string, integer bool) (Condition, error) {
	switch {
	case lo != nil && hi != nil:
		return cond("is_between", fmtNum(*lo)+"-"+fmtNum(*hi), input), nil
	case lo != nil && integer && *lo == math.Trunc(*lo):
		return cond("is_greater_than", fmtNum(*lo-1), input), nil
	case hi != nil && integer && *hi == math.Trunc(*hi):
		return cond("is_less_than", fmtNum(*hi+1), input), nil
	case lo != nil || hi != nil:
		return Condition{}, fmt.Errorf("a one-sided bound on a decimal number cannot be written in Studio (is_greater_than and is_less_than are strict): give both min and max")
	}
	return Condition{}, fmt.Errorf("the condition is empty")
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
