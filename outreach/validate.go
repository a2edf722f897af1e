package outreach

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"
)

// ErrInvalidFlow matches every *FlowError with [errors.Is].
var ErrInvalidFlow = errors.New("outreach: invalid flow")

// FlowProblem is one thing wrong with a flow.
type FlowProblem struct {
	// Step is the id of the step at fault; empty for the flow as a whole.
	Step string `json:"step,omitempty"`
	// Field names the step's field at fault ("next", "body", ...).
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p FlowProblem) String() string {
	var b strings.Builder
	if p.Step != "" {
		b.WriteString("step " + p.Step + ": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// FlowError lists every problem [Flow.Validate] found.
type FlowError struct {
	Flow     string
	Problems []FlowProblem
}

func (e *FlowError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("flow %q is invalid: %s", e.Flow, strings.Join(parts, "; "))
}

// Is reports whether target is [ErrInvalidFlow].
func (e *FlowError) Is(target error) bool { return target == ErrInvalidFlow }

// Validate checks f and returns a *FlowError listing every problem, each
// with its step id: missing or duplicate ids, unknown step kinds, missing
// targets, unreachable steps, loops with no wait, malformed templates,
// unknown variables, empty bodies, bodies over 1,600 characters (the first
// message of a two-way flow with its opt-out footer), a footer that does
// not mention STOP, and answer specs or routes that cannot work.
func (f *Flow) Validate() error {
	v := &validator{f: f, ids: map[string]*Step{}}
	v.run()
	if len(v.problems) == 0 {
		return nil
	}
	return &FlowError{Flow: f.ID, Problems: v.problems}
}

type validator struct {
	f        *Flow
	ids      map[string]*Step
	problems []FlowProblem
}

func (v *validator) add(step, field, format string, args ...any) {
	v.problems = append(v.problems, FlowProblem{Step: step, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) run() {
	f := v.f
	if f.ID == "" {
		v.add("", "id", "the flow has no id")
	} else if !validID(f.ID) {
		v.add("", "id", "%q: use letters, digits, '_' and '-' only", f.ID)
	}
	if len(f.Steps) == 0 {
		v.add("", "steps", "the flow has no steps")
		return
	}
	for i := range f.Steps {
		st := &f.Steps[i]
		switch {
		case st.ID == "":
			v.add(fmt.Sprintf("#%d", i+1), "id", "the step has no id")
		case !validID(st.ID):
			v.add(st.ID, "id", "use letters, digits, '_' and '-' only")
		case v.ids[st.ID] != nil:
			v.add(st.ID, "id", "another step has the same id")
		default:
			v.ids[st.ID] = st
		}
	}
	if f.Start != "" && v.ids[f.Start] == nil {
		v.add("", "start", "no step %q", f.Start)
	}
	for i := range f.Steps {
		v.step(&f.Steps[i])
	}
	if len(f.Steps) > MaxSteps {
		v.add("", "steps", "the flow has %d steps; the limit is %d", len(f.Steps), MaxSteps)
	}
	v.reachability()
	v.loops()
	v.answeredBeforeUse()
	v.optOut()
	v.trigger()
}

// MaxFooterLen is the longest opt-out footer a flow may set.
const MaxFooterLen = 160

// optOut checks the opt-out footer, and that the messages that may open a
// conversation stay within MaxBodyLen once it is appended.
func (v *validator) optOut() {
	f := v.f
	if footer := f.OptOutFooter; footer != "" {
		switch {
		case f.NoOptOutFooter:
			v.add("", "opt_out_footer", "no_opt_out_footer turns the footer off: remove one of them")
		case strings.TrimSpace(footer) == "":
			v.add("", "opt_out_footer", "the footer is blank: leave it out for the default %q", DefaultOptOutFooter)
		case strings.Contains(footer, "{{") || strings.Contains(footer, "}}") || strings.Contains(footer, "{%"):
			v.add("", "opt_out_footer", "the footer is plain text: it takes no template variables")
		case !MentionsStop(footer):
			v.add("", "opt_out_footer", "the footer must tell how to opt out, with the word STOP")
		case utf8.RuneCountInString(footer) > MaxFooterLen:
			v.add("", "opt_out_footer", "the footer is %d characters long; the limit is %d", utf8.RuneCountInString(footer), MaxFooterLen)
		}
	}
	footer := f.Footer()
	if footer == "" {
		return
	}
	for _, id := range f.FirstSteps() {
		st := v.ids[id]
		if st == nil || MentionsStop(st.Body) {
			continue
		}
		if n := utf8.RuneCountInString(st.Body) + utf8.RuneCountInString(footer); n > MaxBodyLen && utf8.RuneCountInString(st.Body) <= MaxBodyLen {
			v.add(id, "body", "the first message with the opt-out footer is %d characters long; the limit is %d", n, MaxBodyLen)
		}
	}
}

// MaxSteps is the most steps a flow may have.
const MaxSteps = 500

func validID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (v *validator) target(st *Step, field, id string) {
	if id != "" && v.ids[id] == nil {
		v.add(st.ID, field, "no step %q", id)
	}
}

func (v *validator) body(st *Step, field, body string, required bool) {
	if strings.TrimSpace(body) == "" {
		if required {
			v.add(st.ID, field, "the message is empty")
		}
		return
	}
	if n := utf8.RuneCountInString(body); n > MaxBodyLen {
		v.add(st.ID, field, "the message is %d characters long; the limit is %d", n, MaxBodyLen)
	}
	vars, err := TemplateVars(body)
	if err != nil {
		v.add(st.ID, field, "%v", err)
		return
	}
	for _, name := range vars {
		v.variable(st, field, name)
	}
}

func (v *validator) variable(st *Step, field, name string) {
	if !knownVar(name) {
		v.add(st.ID, field, "unknown variable %q: use recipient.id, recipient.first_name, recipient.phone, data.COLUMN or answers.STEP", name)
		return
	}
	if q, ok := strings.CutPrefix(name, "answers."); ok {
		if s := v.ids[q]; s == nil || s.Kind != StepAsk {
			v.add(st.ID, field, "variable %q names no ask step", name)
		}
	}
	switch strings.ToLower(name) {
	case "data.patient_id", "data.patient_first_name", "data.patient_first", "data.patient_phone":
		v.add(st.ID, field, "variable %q is not an extra column: use recipient.id, recipient.first_name or recipient.phone", name)
	case "data.timezone":
		v.add(st.ID, field, "variable %q is not an extra column: the time zone is not available to templates", name)
	}
}

// fields lists the fields a step of each kind may set, besides id and kind.
var fields = map[StepKind]string{
	StepSend:   "body next",
	StepAsk:    "body next answer routes hint max_reasks no_answer timeout on_timeout on_failure",
	StepBranch: "next routes var",
	StepEnd:    "body outcome",
}

// setFields returns the names of the fields st sets.
func setFields(st *Step) []string {
	var set []string
	add := func(name string, ok bool) {
		if ok {
			set = append(set, name)
		}
	}
	add("body", st.Body != "")
	add("next", st.Next != "")
	add("answer", st.Answer != nil)
	add("routes", len(st.Routes) > 0)
	add("var", st.Var != "")
	add("hint", st.Hint != "")
	add("max_reasks", st.MaxReasks != nil)
	add("no_answer", st.NoAnswer != "")
	add("timeout", st.Timeout != 0)
	add("on_timeout", st.OnTimeout != "")
	add("on_failure", st.OnFailure != "")
	add("outcome", st.Outcome != "")
	return set
}

func (v *validator) step(st *Step) {
	if st.ID == "" {
		return
	}
	if allowed, ok := fields[st.Kind]; ok {
		for _, f := range setFields(st) {
			if !strings.Contains(" "+allowed+" ", " "+f+" ") {
				v.add(st.ID, f, "not a field of %s steps (they take: %s)", st.Kind, strings.ReplaceAll(allowed, " ", ", "))
			}
		}
	}
	switch st.Kind {
	case StepSend:
		v.body(st, "body", st.Body, true)
		v.target(st, "next", st.Next)
	case StepAsk:
		v.body(st, "body", st.Body, true)
		v.body(st, "hint", st.Hint, false)
		v.answer(st)
		hint := st.Hint
		if hint == "" {
			hint = DefaultHint(st.Answer)
		}
		if n := utf8.RuneCountInString(hint) + 1 + utf8.RuneCountInString(st.Body); n > MaxBodyLen {
			v.add(st.ID, "hint", "the re-ask (hint and question) is %d characters long; the limit is %d", n, MaxBodyLen)
		}
		v.target(st, "next", st.Next)
		v.target(st, "no_answer", st.NoAnswer)
		v.target(st, "on_timeout", st.OnTimeout)
		v.target(st, "on_failure", st.OnFailure)
		if st.Timeout < 0 {
			v.add(st.ID, "timeout", "must not be negative")
		}
		if n := st.Reasks(); n < 0 || n > 10 {
			v.add(st.ID, "max_reasks", "%d is out of range 0-10", n)
		}
		v.routes(st, st.Answer)
	case StepBranch:
		if st.Var == "" {
			v.add(st.ID, "var", "a branch step needs a variable to route on")
		} else {
			v.variable(st, "var", st.Var)
		}
		if len(st.Routes) == 0 {
			v.add(st.ID, "routes", "a branch step needs at least one route")
		}
		v.target(st, "next", st.Next)
		var spec *AnswerSpec
		if q, ok := strings.CutPrefix(st.Var, "answers."); ok && v.ids[q] != nil {
			spec = v.ids[q].Answer
		}
		v.routes(st, spec)
	case StepEnd:
		v.body(st, "body", st.Body, false)
	default:
		v.add(st.ID, "kind", "unknown kind %q: use send, ask, branch or end", st.Kind)
	}
}

func (v *validator) answer(st *Step) {
	a := st.Answer
	if a == nil {
		return
	}
	switch a.Kind {
	case AnswerChoice:
		if len(a.Choices) == 0 {
			v.add(st.ID, "answer", "a choice answer needs choices")
		}
		seen := map[string]string{}
		for _, c := range a.Choices {
			if normalizeWords(c.Value) == "" {
				v.add(st.ID, "answer", "a choice has no value")
				continue
			}
			for _, w := range append([]string{c.Value}, c.Synonyms...) {
				n := normalizeWords(w)
				if n == "" {
					v.add(st.ID, "answer", "the synonym %q has no letter or digit: no reply can match it", w)
					continue
				}
				if prev, ok := seen[n]; ok && prev != c.Value {
					v.add(st.ID, "answer", "%q stands for both %q and %q", w, prev, c.Value)
				}
				seen[n] = c.Value
			}
		}
	case AnswerInteger, AnswerNumber:
		if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
			v.add(st.ID, "answer", "min %v is above max %v", *a.Min, *a.Max)
		}
		if len(a.Choices) > 0 {
			v.add(st.ID, "answer", "a %s answer has no choices", a.Kind)
		}
	case AnswerText:
	default:
		v.add(st.ID, "answer", "unknown kind %q: use choice, integer, number or text", a.Kind)
	}
}

func (v *validator) routes(st *Step, a *AnswerSpec) {
	for i, rt := range st.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		if rt.Next == "" {
			v.add(st.ID, field, "the route has no next step")
		}
		v.target(st, field, rt.Next)
		c := rt.When
		set := 0
		if c.Equals != "" {
			set++
		}
		if len(c.AnyOf) > 0 {
			set++
		}
		if c.Min != nil || c.Max != nil {
			set++
		}
		if set != 1 {
			v.add(st.ID, field, "set exactly one of equals, any_of, or min/max")
			continue
		}
		if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
			v.add(st.ID, field, "min %v is above max %v", *c.Min, *c.Max)
		}
		if a == nil {
			continue
		}
		if a.Kind == AnswerChoice {
			for _, want := range append([]string{c.Equals}, c.AnyOf...) {
				if want != "" && !hasChoice(a, want) {
					v.add(st.ID, field, "%q is not one of the answer's choices", want)
				}
			}
			if c.Min != nil || c.Max != nil {
				v.add(st.ID, field, "a choice answer cannot be compared with min/max")
			}
		}
	}
}

func hasChoice(a *AnswerSpec, v string) bool {
	for _, c := range a.Choices {
		if normalizeWords(c.Value) == normalizeWords(v) {
			return true
		}
	}
	return false
}

// Reachable returns the ids of the steps a conversation can reach from
// the start, by the fields each step's kind uses (Next and Routes, and an
// ask step's NoAnswer, OnTimeout and OnFailure); targets that name no
// step are left out, and an id that several steps share stands for the
// first of them ([Flow.StepByID]).
func (f *Flow) Reachable() map[string]bool {
	ids := make(map[string]*Step, len(f.Steps))
	for i := range f.Steps {
		if _, dup := ids[f.Steps[i].ID]; !dup {
			ids[f.Steps[i].ID] = &f.Steps[i]
		}
	}
	start := f.StartStep()
	if ids[start] == nil {
		return map[string]bool{}
	}
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 {
		st := ids[queue[0]]
		queue = queue[1:]
		for _, n := range edges(st) {
			if n != "" && ids[n] != nil && !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return seen
}

// edges returns the steps st can go to, by the fields its kind uses.
func edges(st *Step) []string {
	switch st.Kind {
	case StepSend:
		return []string{st.Next}
	case StepBranch:
		return answeredEdges(st)
	case StepAsk:
		return append(answeredEdges(st), st.NoAnswer, st.OnTimeout, st.OnFailure)
	}
	return nil
}

// answeredEdges returns the steps st goes to by its Next and Routes: for
// an ask step, the ones taken once it was answered.
func answeredEdges(st *Step) []string {
	out := []string{st.Next}
	for _, rt := range st.Routes {
		out = append(out, rt.Next)
	}
	return out
}

// answeredBeforeUse reports templates and branches that use answers.X at a
// step some path reaches before X is answered: a forward analysis of the
// answers surely known at each step.
func (v *validator) answeredBeforeUse() {
	start := v.f.StartStep()
	if v.ids[start] == nil {
		return
	}
	// known[s] is nil for "not reached yet", else the set surely answered.
	known := map[string]map[string]bool{start: {}}
	queue := []string{start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		st := v.ids[id]
		flow := func(next string, in map[string]bool) {
			if v.ids[next] == nil {
				return
			}
			old, seen := known[next]
			if !seen {
				known[next] = maps.Clone(in)
				queue = append(queue, next)
				return
			}
			changed := false
			for q := range old {
				if !in[q] {
					delete(old, q)
					changed = true
				}
			}
			if changed {
				queue = append(queue, next)
			}
		}
		in := known[id]
		if st.Kind == StepAsk {
			after := maps.Clone(in)
			after[st.ID] = true
			for _, n := range answeredEdges(st) {
				flow(n, after)
			}
			for _, n := range []string{st.NoAnswer, st.OnTimeout, st.OnFailure} {
				flow(n, in)
			}
			continue
		}
		for _, n := range edges(st) {
			flow(n, in)
		}
	}
	for i := range v.f.Steps {
		st := &v.f.Steps[i]
		in, reached := known[st.ID]
		if !reached || v.ids[st.ID] != st {
			continue
		}
		uses := map[string]string{}
		for field, text := range map[string]string{"body": st.Body, "hint": st.Hint} {
			vars, _ := TemplateVars(text)
			for _, name := range vars {
				uses[name] = field
			}
		}
		if st.Kind == StepBranch && st.Var != "" {
			uses[st.Var] = "var"
		}
		for name, field := range uses {
			if q, ok := strings.CutPrefix(name, "answers."); ok && v.ids[q] != nil && v.ids[q].Kind == StepAsk && !in[q] {
				v.add(st.ID, field, "%q is used where step %q may not have been answered yet", name, q)
			}
		}
	}
}

func (v *validator) reachability() {
	seen := v.f.Reachable()
	for i := range v.f.Steps {
		if id := v.f.Steps[i].ID; id != "" && !seen[id] && v.ids[id] == &v.f.Steps[i] {
			v.add(id, "", "the step cannot be reached from the start")
		}
	}
}

// loops reports cycles made only of steps that do not wait for a reply:
// the engine would run them forever.
func (v *validator) loops() {
	const (
		unvisited = iota
		onPath
		finished
	)
	mark := map[string]int{}
	reported := map[string]bool{}
	var path []string
	var visit func(id string)
	visit = func(id string) {
		mark[id] = onPath
		path = append(path, id)
		st := v.ids[id]
		for _, n := range edges(st) {
			next := v.ids[n]
			if next == nil || next.Kind == StepAsk {
				continue
			}
			switch mark[n] {
			case unvisited:
				visit(n)
			case onPath:
				i := len(path) - 1
				for path[i] != n {
					i--
				}
				cycle := append(append([]string(nil), path[i:]...), n)
				if !reported[n] {
					reported[n] = true
					v.add(n, "", "loop with no wait for a reply: %s", strings.Join(cycle, " -> "))
				}
			}
		}
		path = path[:len(path)-1]
		mark[id] = finished
	}
	for i := range v.f.Steps {
		st := &v.f.Steps[i]
		if st.ID != "" && st.Kind != StepAsk && v.ids[st.ID] == st && mark[st.ID] == unvisited {
			visit(st.ID)
		}
	}
}
