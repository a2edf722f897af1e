package studio

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// ToFlow imports a Studio definition as an outreach flow and validates it:
// [Import] without the list of warnings. Its error, when the definition
// has problems that stop the flow from running, is an *[ImportError]
// listing them all.
func ToFlow(d *Definition) (*outreach.Flow, error) {
	f, _, err := Import(d)
	return f, err
}

// Import imports a Studio definition as an outreach flow and returns it
// with every problem found, each naming the widget and its type. Widgets
// map to steps as described in the package documentation; the helper
// widgets FromFlow writes (an ask's split and re-asks, an end step's
// outcome) are recognised by their structure, and anything else is read
// widget by widget. What the embedded engine cannot run (other widget
// types, Liquid beyond plain variables, conditions with no outreach
// equivalent) becomes an end step whose outcome starts with
// [UnsupportedPrefix], with a Warning; unreachable widgets are left out,
// with a Warning. When any problem is an Error the flow is nil and err is
// an *[ImportError]. The flow's ID and Name are left empty: in Studio
// they belong to the flow resource (its friendly name), not to the
// definition. Its Source holds the definition, so that [FromFlow] gives
// it back.
func Import(d *Definition) (*outreach.Flow, []Problem, error) {
	r := importDefinition(d)
	for _, p := range r.problems {
		if p.Severity == Error {
			return nil, r.problems, &ImportError{Problems: r.problems}
		}
	}
	return r.flow, r.problems, nil
}

// imported is what importDefinition reads from a definition.
type imported struct {
	flow     *outreach.Flow
	problems []Problem
	// owner maps each widget that a step of the flow stands for (helpers
	// included) to that step's id.
	owner map[string]string
	// trigger is the trigger event the flow starts from.
	trigger string
}

func importDefinition(d *Definition) *imported {
	im := &importer{d: d, byName: map[string]*State{}, refs: map[string]int{}, used: map[string]bool{},
		kinds: map[string]outreach.AnswerKind{}, ids: StepIDs(d), owner: map[string]string{}}
	r := &imported{owner: im.owner}
	defer func() { r.problems = im.problems }()
	for i := range d.States {
		s := &d.States[i]
		switch {
		case s.Name == "":
			im.problem(Error, s, "the widget has no name")
			continue
		case im.byName[s.Name] != nil:
			im.problem(Error, s, "another widget has the same name")
			continue
		}
		im.byName[s.Name] = s
	}
	// A transition to a widget that does not exist goes nowhere, in a
	// copy of the definition (the caller's is left alone).
	dangling := false
	for i := range d.States {
		for _, t := range d.States[i].Transitions {
			if t.Next != "" && im.byName[t.Next] == nil {
				dangling = true
			}
		}
	}
	if dangling {
		c := *d
		c.States = slices.Clone(d.States)
		for i := range c.States {
			s := &c.States[i]
			s.Transitions = slices.Clone(s.Transitions)
			for j := range s.Transitions {
				if t := &s.Transitions[j]; t.Next != "" && im.byName[t.Next] == nil {
					im.problem(Warning, s, "transition %s goes to %q, which is not a widget: the imported flow ends there", t.Event, t.Next)
					t.Next = ""
				}
			}
			im.byName[s.Name] = s
		}
		im.d = &c
	}
	for i := range im.d.States {
		for _, t := range im.d.States[i].Transitions {
			if t.Next != "" {
				im.refs[t.Next]++
			}
		}
	}
	start, event := im.trigger()
	if start == "" {
		return r
	}
	r.trigger = event
	f := &outreach.Flow{Description: d.Description, Start: start}
	f.Trigger = im.patientTrigger(start)
	// Read the first messages without the opt-out footer FromFlow appends
	// (a copy of the definition: the caller's is left alone).
	var strip map[string]string
	strip, f.OptOutFooter, f.NoOptOutFooter = im.optOut(start)
	if len(strip) > 0 {
		if err := im.rewriteBodies(strip); err != nil {
			im.problems = append(im.problems, Problem{Severity: Error, Message: err.Error()})
			return r
		}
	}
	reach := im.reachable()
	var branches []int // indexes in f.Steps of split widgets, read last
	for i := range im.d.States {
		s := &im.d.States[i]
		if im.used[s.Name] || s.Type == TypeTrigger {
			continue
		}
		if !reach[s.Name] {
			im.problem(Warning, s, "unreachable: no transition leads to the widget; Studio keeps it, the imported flow leaves it out")
			continue
		}
		var st outreach.Step
		switch s.Type {
		case TypeSendMessage:
			st = im.send(s)
		case TypeSetVariables:
			st = im.setVariables(s)
		case TypeSendAndWait:
			st = im.ask(s)
		case TypeSplit:
			st = outreach.Step{ID: s.Name, Kind: outreach.StepBranch}
			branches = append(branches, len(f.Steps))
		default:
			st = im.unsupported(s, UnsupportedPrefix+s.Type, "the embedded engine cannot run %s widgets", s.Type)
		}
		im.used[s.Name] = true
		im.owner[s.Name] = s.Name
		f.Steps = append(f.Steps, st)
	}
	for _, i := range branches {
		im.branch(&f.Steps[i])
	}
	// Step ids from widget names, then what the embedded engine cannot
	// follow, then what it never reaches.
	im.rename(f)
	im.checkAnswers(f)
	im.prune(f)
	check := *f
	check.ID = "imported"
	if err := check.Validate(); err != nil {
		var fe *outreach.FlowError
		if !errors.As(err, &fe) {
			im.problems = append(im.problems, Problem{Severity: Error, Message: err.Error()})
			return r
		}
		widget := map[string]string{}
		for w, id := range im.ids {
			if im.owner[w] == id {
				widget[id] = w
			}
		}
		for _, p := range fe.Problems {
			msg := p.Message
			if p.Field != "" {
				msg = p.Field + ": " + msg
			}
			s := im.byName[widget[p.Step]]
			if s == nil {
				if p.Step != "" {
					msg = "step " + p.Step + ": " + msg
				}
				im.problems = append(im.problems, Problem{Severity: Error, Message: msg})
				continue
			}
			im.problem(Error, s, "%s", msg)
		}
		return r
	}
	f.Source = &outreach.Source{Format: SourceFormat, Data: mustJSON(d), Waits: waits(im.d, reach)}
	r.flow = f
	return r
}

// optOut reads the opt-out footer off the widgets that may send a
// conversation's first message (those reached from start through splits
// only), in a definition with a send-and-wait-for-reply widget: FromFlow
// appended the flow's footer to each of them that does not mention STOP.
// The footer is DefaultOptOutFooter, or the text that follows the
// question in a first question widget whose first re-ask (STEP_reask1,
// the hint and the question) shows where the question ends. strip maps
// the widgets ending with the footer to their bodies without it; footer
// is the flow's OptOutFooter (empty for the default). A first message
// that neither ends with the footer nor mentions STOP means the flow had
// the footer turned off: off is true and nothing is stripped.
func (im *importer) optOut(start string) (strip map[string]string, footer string, off bool) {
	twoWay := slices.ContainsFunc(im.d.States, func(s State) bool { return s.Type == TypeSendAndWait })
	if !twoWay {
		return nil, "", false
	}
	body := func(s *State) string {
		var p MessageProperties
		_ = s.DecodeProperties(&p)
		return p.Body
	}
	var firsts []*State
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		s := im.byName[name]
		if s == nil || seen[name] {
			return
		}
		seen[name] = true
		switch s.Type {
		case TypeSplit:
			for _, t := range s.Transitions {
				walk(t.Next)
			}
		case TypeSendMessage, TypeSendAndWait:
			firsts = append(firsts, s)
		}
	}
	walk(start)
	footer = outreach.DefaultOptOutFooter
	for _, s := range firsts {
		if re := im.byName[s.Name+"_reask1"]; s.Type == TypeSendAndWait && re != nil && re.Type == TypeSendAndWait {
			if f, ok := footerOf(body(s), body(re)); ok {
				footer = f
				break
			}
		}
	}
	strip = map[string]string{}
	for _, s := range firsts {
		b := body(s)
		if rest, ok := strings.CutSuffix(b, footer); ok && strings.TrimSpace(rest) != "" && !outreach.MentionsStop(rest) {
			strip[s.Name] = rest
			continue
		}
		if !outreach.MentionsStop(b) {
			return nil, "", true
		}
	}
	if footer == outreach.DefaultOptOutFooter {
		footer = ""
	}
	return strip, footer, false
}

// footerOf splits a first question's body, the question and the footer,
// by its first re-ask, the hint and the question: it returns the shortest
// end of question that mentions STOP and follows a part that does not and
// that the re-ask ends with.
func footerOf(question, reask string) (string, bool) {
	for i := len(question) - 1; i > 0; i-- {
		q, f := question[:i], question[i:]
		if outreach.MentionsStop(f) && !outreach.MentionsStop(q) && strings.HasSuffix(reask, " "+q) {
			return f, true
		}
	}
	return "", false
}

// rewriteBodies makes im.d a copy of the definition whose widgets named in
// bodies have those bodies, their other properties kept.
func (im *importer) rewriteBodies(bodies map[string]string) error {
	d := *im.d
	d.States = slices.Clone(d.States)
	for i := range d.States {
		s := &d.States[i]
		b, ok := bodies[s.Name]
		if !ok {
			continue
		}
		var props map[string]json.RawMessage
		if err := json.Unmarshal(s.Properties, &props); err != nil {
			return stateErr(s, "properties: %v", err)
		}
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		props["body"] = raw
		if s.Properties, err = json.Marshal(props); err != nil {
			return err
		}
	}
	im.d = &d
	for i := range d.States {
		im.byName[d.States[i].Name] = &d.States[i]
	}
	return nil
}

type importer struct {
	d      *Definition
	byName map[string]*State
	refs   map[string]int // transitions that point at each widget
	used   map[string]bool
	kinds  map[string]outreach.AnswerKind // by step id
	ids    map[string]string              // widget name -> step id (StepIDs)
	// owner maps each widget read into a step to that step's widget, and
	// after rename to its id.
	owner    map[string]string
	problems []Problem
}

func (im *importer) problem(sev Severity, s *State, format string, args ...any) {
	im.problems = append(im.problems, Problem{Severity: sev, Widget: s.Name, Type: s.Type, Message: fmt.Sprintf(format, args...)})
}

// unsupported returns the end step that stands for widget s, which the
// embedded engine cannot run, and records a Warning saying why.
func (im *importer) unsupported(s *State, outcome, format string, args ...any) outreach.Step {
	im.problem(Warning, s, "%s: a conversation that reaches it in the embedded runtime ends there, with outcome %q (Studio runs it when the flow is deployed)", fmt.Sprintf(format, args...), outcome)
	return outreach.Step{ID: s.Name, Kind: outreach.StepEnd, Outcome: outcome}
}

// trigger returns the widget the flow starts at and the trigger event
// that leads there: incomingRequest, the REST API trigger that Studio
// Executions use, else incomingMessage (a patient texting in), else
// incomingConversationMessage, else the first other event that is
// connected, with a Warning.
func (im *importer) trigger() (start, event string) {
	var trig *State
	for i := range im.d.States {
		s := &im.d.States[i]
		if s.Type != TypeTrigger {
			continue
		}
		if trig != nil {
			im.problem(Error, s, "a definition has one trigger; %q is another", trig.Name)
			continue
		}
		trig = s
	}
	if trig == nil {
		im.problems = append(im.problems, Problem{Severity: Error, Message: "the definition has no trigger widget"})
		return "", ""
	}
	if im.d.InitialState != "" && im.d.InitialState != trig.Name {
		im.problem(Error, trig, "initial_state %q is not the trigger %q", im.d.InitialState, trig.Name)
	}
	im.used[trig.Name] = true
	wired := map[string]string{}
	var order []string
	for _, t := range trig.Transitions {
		if t.Next != "" {
			if _, dup := wired[t.Event]; !dup {
				order = append(order, t.Event)
			}
			wired[t.Event] = t.Next
		}
	}
	if next := wired[EventIncomingRequest]; next != "" {
		return next, EventIncomingRequest
	}
	if next := wired[EventIncomingMessage]; next != "" {
		im.problem(Warning, trig, "the flow starts on %s, when a patient texts in: give the imported flow a Trigger (keywords, or none for any text) to let patients start it by texting a running campaign's number; a campaign's recipients are texted first from %q", EventIncomingMessage, next)
		return next, EventIncomingMessage
	}
	if next := wired[EventIncomingConversationMessage]; next != "" {
		im.problem(Warning, trig, "the flow starts on %s: it is meant to start when a patient writes in; the imported flow starts at %q when a campaign starts a conversation", EventIncomingConversationMessage, next)
		return next, EventIncomingConversationMessage
	}
	if len(order) > 0 {
		event := order[0]
		im.problem(Warning, trig, "the flow starts on %s, not on %s (the REST API) or %s: the imported flow starts at %q when a campaign starts a conversation", event, EventIncomingRequest, EventIncomingMessage, wired[event])
		return wired[event], event
	}
	im.problem(Error, trig, "no trigger transition goes anywhere: connect incomingRequest to the first widget")
	return "", ""
}

// waits reports whether a send-and-wait-for-reply widget of d is reached:
// then the flow is two-way, whatever steps the import kept.
func waits(d *Definition, reach map[string]bool) bool {
	for i := range d.States {
		if d.States[i].Type == TypeSendAndWait && reach[d.States[i].Name] {
			return true
		}
	}
	return false
}

// patientTrigger returns the Trigger of a flow FromFlow exported with one:
// the definition's trigger connects incomingMessage to the keyword split
// FromFlow writes ([KeywordWidget], going on to start), read back as the
// Trigger's keywords. Otherwise it is nil, even when incomingMessage is
// connected: whether patients may start a flow by texting is the
// embedder's choice (a Studio number is pointed at one flow by its
// owner, not by the flow), made by setting the Trigger.
func (im *importer) patientTrigger(start string) *outreach.Trigger {
	trig := im.d.StateByName(im.d.InitialState)
	if trig == nil || trig.Type != TypeTrigger {
		return nil
	}
	next, _ := trig.Next(EventIncomingMessage)
	s := im.byName[next]
	if s == nil || s.Name != KeywordWidget || s.Type != TypeSplit || len(s.Transitions) != 2 || im.refs[s.Name] != 1 {
		return nil
	}
	var p SplitProperties
	if s.DecodeProperties(&p) != nil || p.Input != "{{trigger.message.Body}}" {
		return nil
	}
	no, yes := s.Transitions[0], s.Transitions[1]
	if no.Event != "noMatch" || no.Next != "" || yes.Event != "match" || yes.Next != start || len(yes.Conditions) != 1 || yes.Conditions[0].Type != CondRegex {
		return nil
	}
	keywords := keywordsOf(yes.Conditions[0].Value)
	if keywords == nil {
		return nil
	}
	im.used[s.Name] = true
	return &outreach.Trigger{Keywords: keywords}
}

// keywordsOf reads the keywords of a [keywordPattern], or nil when
// pattern is not one.
func keywordsOf(pattern string) []string {
	inner, ok := strings.CutPrefix(pattern, `^[^A-Za-z0-9]*(`)
	if !ok {
		return nil
	}
	inner, ok = strings.CutSuffix(inner, `)([^A-Za-z0-9][\s\S]*)?$`)
	if !ok {
		return nil
	}
	var keywords []string
	for _, alt := range strings.Split(inner, "|") {
		var b strings.Builder
		for i := 0; i < len(alt); i++ {
			if alt[i] == '[' && i+3 < len(alt) && alt[i+3] == ']' {
				b.WriteByte(alt[i+2]) // [jJ]: the upper case
				i += 3
				continue
			}
			b.WriteByte(alt[i])
		}
		keywords = append(keywords, b.String())
	}
	if keywordPattern(keywords) != pattern {
		return nil
	}
	return keywords
}

// reachable returns the widgets reached from the trigger by any of its
// transitions.
func (im *importer) reachable() map[string]bool {
	seen := map[string]bool{}
	var queue []string
	for _, s := range im.d.States {
		if s.Type == TypeTrigger {
			seen[s.Name] = true
			queue = append(queue, s.Name)
		}
	}
	for len(queue) > 0 {
		s := im.byName[queue[0]]
		queue = queue[1:]
		if s == nil {
			continue
		}
		for _, t := range s.Transitions {
			if t.Next != "" && !seen[t.Next] {
				seen[t.Next] = true
				queue = append(queue, t.Next)
			}
		}
	}
	return seen
}

// resolve maps a widget name used in Liquid to its step id.
func (im *importer) resolve(widget string) (string, bool) {
	id, ok := im.ids[widget]
	return id, ok
}

// message reads the properties of a message widget. ok is false when the
// embedded engine cannot send it: then unsup is the step standing for it.
func (im *importer) message(s *State) (p MessageProperties, body string, unsup outreach.Step, ok bool) {
	if err := s.DecodeProperties(&p); err != nil {
		im.problem(Error, s, "properties: %v", errors.Unwrap(err))
		return p, "", outreach.Step{ID: s.Name, Kind: outreach.StepEnd}, false
	}
	if p.From != "" && p.From != fromAddress {
		im.problem(Warning, s, "from %q: the embedded runtime sends from the campaign's number, as {{flow.channel.address}} does", p.From)
	}
	if p.To != "" && !im.recipient(p.To) {
		return p, "", im.unsupported(s, UnsupportedTemplate, "to %q: the embedded runtime sends only to the recipient, {{contact.channel.address}}", p.To), false
	}
	if _, err := engine.ParseString(p.Body); err != nil {
		return p, "", im.unsupported(s, UnsupportedTemplate, "body: the template does not parse: %v", err), false
	}
	body, err := fromLiquid(p.Body, im.resolve)
	if err != nil {
		return p, "", im.unsupported(s, UnsupportedTemplate, "body: %v", err), false
	}
	return p, body, outreach.Step{}, true
}

// recipient reports whether to, a message widget's to, is the
// conversation's contact.
func (im *importer) recipient(to string) bool {
	m := liquidRE.FindStringSubmatch(to)
	if m == nil || strings.TrimSpace(to) != m[0] {
		return false
	}
	v, err := liquidVar(m[1], im.resolve)
	return err == nil && v == "recipient.phone"
}

func (im *importer) send(s *State) outreach.Step {
	_, body, unsup, ok := im.message(s)
	if !ok {
		return unsup
	}
	for _, t := range s.Transitions {
		if t.Event == EventFailed && t.Next != "" {
			im.problem(Warning, s, "the failed transition goes to %q: the embedded runtime ends the conversation when a message fails", t.Next)
		}
	}
	next, _ := s.Next(EventSent)
	// An end step with a body: this message, then NAME_outcome.
	if out := im.byName[next]; out != nil && next == s.Name+"_outcome" && out.Type == TypeSetVariables && im.refs[next] == 1 {
		if outcome, err := im.outcome(out); err == nil {
			im.used[next] = true
			im.owner[next] = s.Name
			return outreach.Step{ID: s.Name, Kind: outreach.StepEnd, Body: body, Outcome: outcome}
		}
	}
	return outreach.Step{ID: s.Name, Kind: outreach.StepSend, Body: body, Next: next}
}

// outcome reads a set-variables widget that records the outcome and ends.
func (im *importer) outcome(s *State) (string, error) {
	var p SetVariablesProperties
	if err := s.DecodeProperties(&p); err != nil {
		return "", err
	}
	if len(p.Variables) != 1 || p.Variables[0].Key != OutcomeVariable {
		return "", fmt.Errorf("outreach reads a set-variables widget only as an end step that sets the single variable %q", OutcomeVariable)
	}
	for _, t := range s.Transitions {
		if t.Next != "" {
			return "", fmt.Errorf("a set-variables widget that records the outcome ends the flow, but its %s transition goes to %q", t.Event, t.Next)
		}
	}
	v := p.Variables[0].Value
	if v == "" || strings.Contains(v, "{{") || strings.Contains(v, "{%") {
		return "", fmt.Errorf("the outcome must be a plain word, not %q", v)
	}
	return v, nil
}

func (im *importer) setVariables(s *State) outreach.Step {
	outcome, err := im.outcome(s)
	if err != nil {
		return im.unsupported(s, UnsupportedPrefix+s.Type, "%v", err)
	}
	return outreach.Step{ID: s.Name, Kind: outreach.StepEnd, Outcome: outcome}
}

// ask reads a send-and-wait-for-reply widget: as the full structure
// FromFlow writes when it is there, else as a question taking any text.
func (im *importer) ask(s *State) outreach.Step {
	p, body, unsup, ok := im.message(s)
	if !ok {
		return unsup
	}
	st := outreach.Step{ID: s.Name, Kind: outreach.StepAsk, Body: body, Timeout: outreach.Duration(time.Duration(p.Timeout) * time.Second)}
	for _, t := range s.Transitions {
		switch t.Event {
		case EventIncomingMessage:
			st.Next = t.Next
		case EventTimeout:
			st.OnTimeout = t.Next
		case EventDeliveryFailure:
			st.OnFailure = t.Next
		default:
			if t.Next != "" {
				im.problem(Warning, s, "transition %s (to %q) is not one the embedded runtime takes", t.Event, t.Next)
			}
		}
	}
	id := im.ids[s.Name]
	if full, helpers, ok := im.fullAsk(s, st, p.Body); ok {
		for _, h := range helpers {
			im.used[h] = true
			im.owner[h] = s.Name
		}
		im.kinds[id] = answerKind(&full)
		return full
	}
	im.kinds[id] = outreach.AnswerText
	return st
}

// fullAsk recognises an ask step's split and re-ask chain, as FromFlow
// writes them: it rebuilds the step and keeps it only if exporting it gives
// the same widgets again.
func (im *importer) fullAsk(s *State, st outreach.Step, liquidBody string) (outreach.Step, []string, bool) {
	split := im.byName[s.Name+"_split"]
	if split == nil || split.Type != TypeSplit || st.Next != split.Name {
		return st, nil, false
	}
	var matches []Transition
	for _, t := range split.Transitions {
		if t.Event == "match" {
			matches = append(matches, t)
		}
	}
	if len(matches) == 0 {
		return st, nil, false
	}
	answer, routes, next, ok := readAnswer(matches)
	if !ok {
		return st, nil, false
	}
	st.Answer, st.Routes, st.Next = answer, routes, next
	// Follow the re-asks.
	helpers := []string{split.Name}
	noMatch, _ := split.Next("noMatch")
	hint := ""
	n := 0
	for noMatch == fmt.Sprintf("%s_reask%d", s.Name, n+1) {
		re := im.byName[noMatch]
		if re == nil || re.Type != TypeSendAndWait {
			return st, nil, false
		}
		var p MessageProperties
		if re.DecodeProperties(&p) != nil {
			return st, nil, false
		}
		h, ok := strings.CutSuffix(p.Body, " "+liquidBody)
		if !ok {
			return st, nil, false
		}
		if n == 0 {
			var err error
			if hint, err = fromLiquid(h, im.resolve); err != nil {
				return st, nil, false
			}
		}
		n++
		rs := im.byName[re.Name+"_split"]
		if rs == nil {
			return st, nil, false
		}
		helpers = append(helpers, re.Name, rs.Name)
		noMatch, _ = rs.Next("noMatch")
	}
	st.NoAnswer = noMatch
	if hint != outreach.DefaultHint(st.Answer) {
		st.Hint = hint
	}
	if n != outreach.DefaultMaxReasks {
		st.MaxReasks = &n
	}
	// Keep the reading only if it exports to the same widgets, each of
	// which is reached from nowhere else: as FromFlow writes them, or as
	// exports before the route transitions held the answer's validity
	// conditions did (exporting such a step again adds them).
	var p MessageProperties
	if s.DecodeProperties(&p) != nil {
		return st, nil, false
	}
	for _, legacy := range []legacyForm{legacyNone, legacyUnread, legacyTypes, legacyBare} {
		if im.exportsTo(&st, p.Timeout, helpers, legacy) {
			return st, helpers, true
		}
	}
	return st, nil, false
}

// exportsTo reports whether exporting st gives the widgets st and helpers
// as they are in the definition, the helpers reached from nowhere else.
func (im *importer) exportsTo(st *outreach.Step, timeout Seconds, helpers []string, legacy legacyForm) bool {
	x := &exporter{kinds: map[string]outreach.AnswerKind{}, legacy: legacy}
	again, err := x.ask(st, timeout, 0)
	if err != nil || len(again) != len(helpers)+1 {
		return false
	}
	for i, a := range again {
		orig := im.byName[a.Name]
		if orig == nil || !reflect.DeepEqual(Canonical(a), Canonical(*orig)) {
			return false
		}
		if i > 0 && im.refs[a.Name] != 1 {
			return false
		}
	}
	return true
}

// readAnswer reads the match transitions of an ask's split: routes, then
// the transition that says what a valid answer is. The transitions that
// take a number answer's bounds (see answerTransitions), that read
// replies as outreach.ReadAnswer does and that catch opt-outs (see
// derivedTransition) are skipped: the caller keeps the reading only if
// exporting it again gives them back.
func readAnswer(ts []Transition) (*outreach.AnswerSpec, []outreach.Route, string, bool) {
	// The transitions that read replies as ReadAnswer does and catch
	// opt-outs follow from the answer and routes read from the others.
	ts = slices.DeleteFunc(slices.Clone(ts), derivedTransition)
	if len(ts) == 0 {
		return nil, nil, "", false
	}
	last := ts[len(ts)-1]
	body := ts[:len(ts)-1]
	next := last.Next
	types := make([]string, len(last.Conditions))
	for i, c := range last.Conditions {
		types[i] = c.Type
	}
	switch {
	case slices.Equal(types, []string{CondMatchesAnyOf}):
		spec := &outreach.AnswerSpec{Kind: outreach.AnswerChoice}
		var routes []outreach.Route
		for _, t := range body {
			if len(t.Conditions) != 1 || t.Conditions[0].Type != CondMatchesAnyOf {
				return nil, nil, "", false
			}
			words := splitList(t.Conditions[0].Value)
			if len(words) == 0 {
				return nil, nil, "", false
			}
			c := outreach.Choice{Value: words[0], Synonyms: words[1:]}
			spec.Choices = append(spec.Choices, c)
			if t.Next == next {
				continue
			}
			if j := slices.IndexFunc(routes, func(r outreach.Route) bool { return r.Next == t.Next }); j >= 0 {
				r := &routes[j]
				if r.When.Equals != "" {
					r.When.AnyOf, r.When.Equals = []string{r.When.Equals}, ""
				}
				r.When.AnyOf = append(r.When.AnyOf, c.Value)
				continue
			}
			routes = append(routes, outreach.Route{When: outreach.Condition{Equals: c.Value}, Next: t.Next})
		}
		return spec, routes, next, true
	case slices.Equal(types, []string{CondRegex}) && last.Conditions[0].Value == TextPattern:
		routes, ok := readRoutes(body, false, last.Conditions)
		return &outreach.AnswerSpec{Kind: outreach.AnswerText}, routes, next, ok
	case len(types) >= 1 && len(types) <= 3 && types[0] == CondRegex &&
		slices.Contains([]string{IntegerPattern, NumberPattern, legacyNumberPattern}, last.Conditions[0].Value):
		integer := last.Conditions[0].Value == IntegerPattern
		spec := &outreach.AnswerSpec{Kind: outreach.AnswerNumber}
		if integer {
			spec.Kind = outreach.AnswerInteger
		}
		if len(types) > 1 {
			c, err := readConditions(last.Conditions[1:], integer)
			if err != nil || (c.Min == nil && c.Max == nil) {
				return nil, nil, "", false
			}
			spec.Min, spec.Max = c.Min, c.Max
		}
		if !integer {
			body = slices.DeleteFunc(slices.Clone(body), func(t Transition) bool {
				cs := t.Conditions
				return len(cs) == 2 && cs[0].Type == CondRegex && cs[0].Value == NumberPattern && boundCondition(cs[1])
			})
		}
		routes, ok := readRoutes(body, integer, last.Conditions)
		return spec, routes, next, ok
	}
	return nil, nil, "", false
}

// boundCondition reports whether c is a regex that takes one number
// exactly, as exports write for a bound that is not a whole number's.
func boundCondition(c Condition) bool {
	if c.Type != CondRegex {
		return false
	}
	_, ok := eqBound(c.Value)
	return ok
}

// readRoutes reads the route transitions of an ask's split whose answer is
// not a choice. Each holds the answer's validity conditions (valid, the
// conditions of the last transition), then the route's own conditions;
// the validity conditions are dropped. A transition with the route's
// conditions alone, as older exports wrote, is read too.
func readRoutes(ts []Transition, integer bool, valid []Condition) ([]outreach.Route, bool) {
	var routes []outreach.Route
	for _, t := range ts {
		cs := t.Conditions
		if len(cs) > len(valid) && sameConditions(cs[:len(valid)], valid) {
			cs = cs[len(valid):]
		}
		c, err := readConditions(cs, integer)
		if err != nil {
			return nil, false
		}
		routes = append(routes, outreach.Route{When: c, Next: t.Next})
	}
	return routes, true
}

// sameConditions reports whether a and b test the same things, ignoring
// friendly names.
func sameConditions(a, b []Condition) bool {
	return slices.EqualFunc(a, b, func(x, y Condition) bool {
		return x.Type == y.Type && x.Value == y.Value && slices.Equal(x.Arguments, y.Arguments)
	})
}

// branch reads a split-based-on widget that is not part of an ask step.
// A split the engine cannot evaluate becomes an unsupported end step.
func (im *importer) branch(st *outreach.Step) {
	s := im.byName[st.ID]
	var p SplitProperties
	if err := s.DecodeProperties(&p); err != nil {
		im.problem(Error, s, "properties: %v", errors.Unwrap(err))
		return
	}
	m := liquidRE.FindStringSubmatch(p.Input)
	if m == nil || strings.TrimSpace(p.Input) != m[0] {
		*st = im.unsupported(s, UnsupportedTemplate, "input %q: outreach branches on a single variable such as {{widgets.STEP.inbound.Body}} or {{flow.data.COLUMN}}", p.Input)
		return
	}
	v, err := liquidVar(m[1], im.resolve)
	if err != nil {
		*st = im.unsupported(s, UnsupportedTemplate, "input: %v", err)
		return
	}
	b := outreach.Step{ID: st.ID, Kind: outreach.StepBranch, Var: v}
	integer := false
	if q, ok := strings.CutPrefix(v, "answers."); ok {
		integer = im.kinds[q] == outreach.AnswerInteger
	}
	// strict: a bound read off a strict greater_than or less_than, or a
	// transition taking a bound itself, on a value that may not be whole.
	var strict []string
	takesBound := false
	for _, t := range s.Transitions {
		switch t.Event {
		case EventNoMatch:
			b.Next = t.Next
		case EventMatch:
			if !integer && len(t.Conditions) == 1 && boundCondition(t.Conditions[0]) {
				takesBound = true
				continue
			}
			c, err := readConditions(t.Conditions, integer)
			if err != nil {
				*st = im.unsupported(s, UnsupportedCondition, "%v", err)
				return
			}
			if t.Next == "" {
				*st = im.unsupported(s, UnsupportedCondition, "the transition for condition %q goes nowhere: an outreach route needs a next step", t.Conditions[0].FriendlyName)
				return
			}
			if !integer {
				for _, c := range t.Conditions {
					if c.Type == CondGreaterThan || c.Type == CondLessThan {
						strict = append(strict, c.Type)
					}
				}
			}
			b.Routes = append(b.Routes, outreach.Route{When: c, Next: t.Next})
		default:
			if t.Next != "" {
				im.problem(Warning, s, "transition %s (to %q) is not one the embedded runtime takes", t.Event, t.Next)
			}
		}
	}
	if len(b.Routes) == 0 {
		*st = im.unsupported(s, UnsupportedCondition, "the split has no conditions")
		return
	}
	if len(strict) > 0 || takesBound {
		// Exact only as FromFlow writes it: each bound has a transition of
		// its own, which exporting the reading again gives back.
		x := &exporter{kinds: im.kinds}
		again, err := x.step(&b, 0, 0)
		if err != nil || len(again) != 1 || !reflect.DeepEqual(Canonical(again[0]).Transitions, Canonical(*s).Transitions) {
			if len(strict) == 0 {
				*st = im.unsupported(s, UnsupportedCondition, "a transition that takes one number exactly (a regex such as %s) is read only as FromFlow writes it, for the bound of a route that follows it", eqPattern(7))
				return
			}
			*st = im.unsupported(s, UnsupportedCondition, "%s is strict and outreach bounds are inclusive; on a value that may not be a whole number (outreach reads it as a decimal) a bound is read only together with the transition that takes the bound itself (a regex such as %s to the same step, just before), as FromFlow writes them", strict[0], eqPattern(7))
			return
		}
	}
	*st = b
}

// rename gives the steps their ids (StepIDs) in place of widget names, in
// ids and in every reference.
func (im *importer) rename(f *outreach.Flow) {
	id := func(name string) string {
		if v, ok := im.ids[name]; ok {
			return v
		}
		return name
	}
	f.Start = id(f.Start)
	for i := range f.Steps {
		f.Steps[i].ID = id(f.Steps[i].ID)
		mapTargets(&f.Steps[i], id)
	}
	for w, owner := range im.owner {
		im.owner[w] = id(owner)
	}
}

// mapTargets replaces every step id st refers to (Next, the routes'
// targets, NoAnswer, OnTimeout, OnFailure) with ref of it.
func mapTargets(st *outreach.Step, ref func(string) string) {
	st.Next, st.NoAnswer, st.OnTimeout, st.OnFailure = ref(st.Next), ref(st.NoAnswer), ref(st.OnTimeout), ref(st.OnFailure)
	for j := range st.Routes {
		st.Routes[j].Next = ref(st.Routes[j].Next)
	}
}

// checkAnswers makes a step that uses the answer of a step that is not a
// question (answers.X where X became something else) an unsupported
// template, until none is left.
func (im *importer) checkAnswers(f *outreach.Flow) {
	widget := map[string]*State{}
	for w, id := range im.ids {
		if im.owner[w] == id {
			widget[id] = im.byName[w]
		}
	}
	for changed := true; changed; {
		changed = false
		for i := range f.Steps {
			st := &f.Steps[i]
			if Unsupported(st) {
				continue
			}
			var vars []string
			for _, text := range []string{st.Body, st.Hint} {
				vs, _ := outreach.TemplateVars(text)
				vars = append(vars, vs...)
			}
			if st.Var != "" {
				vars = append(vars, st.Var)
			}
			for _, v := range vars {
				q, ok := strings.CutPrefix(v, "answers.")
				if !ok {
					continue
				}
				if a := f.StepByID(q); a != nil && a.Kind == outreach.StepAsk {
					continue
				}
				end := im.unsupported(widget[st.ID], UnsupportedTemplate, "{{widgets.%s.inbound.Body}}: widget %q is not a question the imported flow asks", q, q)
				end.ID = st.ID
				*st = end
				changed = true
				break
			}
		}
	}
}

// prune leaves out the steps that the flow does not reach from its start,
// with a Warning: widgets reached only through transitions the embedded
// engine does not take, or only from other trigger events.
func (im *importer) prune(f *outreach.Flow) {
	seen := f.Reachable()
	widget := map[string]*State{}
	for w, id := range im.ids {
		if im.owner[w] == id {
			widget[id] = im.byName[w]
		}
	}
	kept := f.Steps[:0]
	left := map[string]bool{}
	for _, st := range f.Steps {
		if seen[st.ID] {
			kept = append(kept, st)
			continue
		}
		left[widget[st.ID].Name] = true
		for w, owner := range im.owner {
			if owner == st.ID {
				delete(im.owner, w)
			}
		}
	}
	f.Steps = kept
	// The warnings about what is left out give way to one saying so.
	problems := im.problems[:0]
	for _, p := range im.problems {
		if p.Severity == Warning && left[p.Widget] {
			continue
		}
		problems = append(problems, p)
	}
	im.problems = problems
	for _, s := range im.d.States {
		if left[s.Name] {
			im.problem(Warning, &s, "not reached from where the imported flow starts (only from another trigger event, or through widgets or transitions the embedded runtime does not take): Studio keeps it, the imported flow leaves it out")
		}
	}
}

// legacyBetweenRE reads the is_between ranges of older exports.
var legacyBetweenRE = regexp.MustCompile(`^\s*(-?\d+(?:\.\d+)?)\s*(?:-|,|and|to)\s*(-?\d+(?:\.\d+)?)\s*$`)

// readConditions reads the conditions of one transition as one outreach
// condition: a single condition (see readCondition), or a greater_than
// and a less_than, a range.
func readConditions(cs []Condition, integer bool) (outreach.Condition, error) {
	switch len(cs) {
	case 1:
		return readCondition(cs[0], integer)
	case 2:
		if gt, lt := cs[0], cs[1]; gt.Type == CondGreaterThan && lt.Type == CondLessThan || gt.Type == CondLessThan && lt.Type == CondGreaterThan {
			a, err := readCondition(gt, integer)
			if err != nil {
				return outreach.Condition{}, err
			}
			b, err := readCondition(lt, integer)
			if err != nil {
				return outreach.Condition{}, err
			}
			if a.Min == nil {
				a, b = b, a
			}
			return outreach.Condition{Min: a.Min, Max: b.Max}, nil
		}
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Type
	}
	return outreach.Condition{}, fmt.Errorf("a transition with conditions %s: outreach routes test one condition, or a greater_than and a less_than (a range)", strings.Join(names, ", "))
}

// readCondition reads one split condition as an outreach condition.
// integer says the value is a whole number (an integer answer), for
// which the strict greater_than and less_than are inclusive bounds, one
// step off when whole: greater_than 17 is min 18, greater_than 17.5 min
// 17.5 (both take 18 and up). On any other value they are read
// as the bound itself, which is exact only when the bound has a
// transition of its own: the callers check that exporting the reading
// again gives the same transitions. Older exports' is_between,
// is_greater_than and is_less_than, types Studio does not have, are read
// as those exports meant them.
func readCondition(c Condition, integer bool) (outreach.Condition, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("condition %q (%s %q): %s", c.FriendlyName, c.Type, c.Value, fmt.Sprintf(format, args...))
	}
	switch c.Type {
	case CondEqualTo:
		if strings.TrimSpace(c.Value) == "" {
			return outreach.Condition{}, bad("the value is empty")
		}
		return outreach.Condition{Equals: strings.TrimSpace(c.Value)}, nil
	case CondMatchesAnyOf:
		words := splitList(c.Value)
		if len(words) == 0 {
			return outreach.Condition{}, bad("the list is empty")
		}
		return outreach.Condition{AnyOf: words}, nil
	case CondGreaterThan, CondLessThan:
		v, ok := number(strings.TrimSpace(c.Value))
		if !ok {
			return outreach.Condition{}, bad("the value is not a number")
		}
		switch {
		case c.Type == CondGreaterThan && integer && v == math.Trunc(v):
			v++
		case c.Type == CondLessThan && integer && v == math.Trunc(v):
			v--
		}
		if c.Type == CondGreaterThan {
			return outreach.Condition{Min: &v}, nil
		}
		return outreach.Condition{Max: &v}, nil
	case "is_between": // legacy
		m := legacyBetweenRE.FindStringSubmatch(c.Value)
		if m == nil {
			return outreach.Condition{}, bad("want two numbers such as \"18-55\"")
		}
		lo, _ := strconv.ParseFloat(m[1], 64)
		hi, _ := strconv.ParseFloat(m[2], 64)
		return outreach.Condition{Min: &lo, Max: &hi}, nil
	case "is_greater_than", "is_less_than": // legacy
		v, err := strconv.ParseFloat(strings.TrimSpace(c.Value), 64)
		if err != nil || !integer || v != math.Trunc(v) {
			return outreach.Condition{}, bad("not a condition type of Studio's; older exports wrote it only for whole numbers")
		}
		if c.Type == "is_greater_than" {
			v++
			return outreach.Condition{Min: &v}, nil
		}
		v--
		return outreach.Condition{Max: &v}, nil
	}
	return outreach.Condition{}, bad("outreach conditions are equal_to, matches_any_of, and bounds (greater_than, less_than); %s has no equivalent", c.Type)
}

// splitList splits a matches_any_of list: commas, with or without spaces.
func splitList(s string) []string {
	var out []string
	for w := range strings.SplitSeq(s, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// CanonicalState is a widget with only the fields outreach reads: no
// offsets, friendly names or unknown properties. Tests and ToFlow compare
// widgets in this form.
type CanonicalState struct {
	Name, Type  string
	Transitions []CanonicalTransition
	Body        string
	Timeout     Seconds
	Input       string
	Variables   []Variable
	// Raw holds the properties of widget types outreach does not read.
	Raw string
}

// CanonicalTransition is a transition in canonical form.
type CanonicalTransition struct {
	Event, Next string
	Conditions  []string // "type value"
}

// Canonical returns s in canonical form. Transitions other than match
// transitions are sorted by event, since their order means nothing, and
// unconnected trigger events are left out.
func Canonical(s State) CanonicalState {
	c := CanonicalState{Name: s.Name, Type: s.Type}
	for _, t := range s.Transitions {
		if s.Type == TypeTrigger && t.Next == "" {
			continue // an unconnected trigger event starts nothing
		}
		ct := CanonicalTransition{Event: t.Event, Next: t.Next}
		for _, cd := range t.Conditions {
			ct.Conditions = append(ct.Conditions, cd.Type+" "+cd.Value)
		}
		c.Transitions = append(c.Transitions, ct)
	}
	slices.SortStableFunc(c.Transitions, func(a, b CanonicalTransition) int {
		if a.Event == "match" && b.Event == "match" {
			return 0
		}
		return strings.Compare(a.Event, b.Event)
	})
	switch s.Type {
	case TypeSendMessage, TypeSendAndWait:
		var p MessageProperties
		_ = s.DecodeProperties(&p)
		c.Body, c.Timeout = p.Body, p.Timeout
	case TypeSplit:
		var p SplitProperties
		_ = s.DecodeProperties(&p)
		c.Input = p.Input
	case TypeSetVariables:
		var p SetVariablesProperties
		_ = s.DecodeProperties(&p)
		for _, v := range p.Variables {
			c.Variables = append(c.Variables, Variable{Key: v.Key, Value: v.Value})
		}
	case TypeTrigger:
	default:
		c.Raw = string(s.Properties)
	}
	return c
}
