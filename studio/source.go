package studio

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

// fromSource exports f, a valid flow imported from a Studio definition
// (its Source), starting from that definition: the widgets of the steps
// that are as they were imported come back exactly as they are in the
// source, and so do the widgets the flow does not represent, the flags,
// the initial state and unknown members. A step that changed is exported
// again, its widgets keeping their names, offsets and the properties
// that the step does not hold (service, channel, unknown ones; a "to"
// only where the source had one); a new step is added after them.
func fromSource(f *outreach.Flow) (*Definition, error) {
	src, err := Decode(f.Source.Data)
	if err != nil {
		return nil, fmt.Errorf("studio: the flow's source: %w", err)
	}
	orig := importDefinition(src)
	if orig.flow == nil {
		return nil, fmt.Errorf("studio: the flow's source definition does not import: %w", &ImportError{Problems: orig.problems})
	}
	ids := StepIDs(src)
	// name maps a step id to the name of its widget: the widget it was
	// imported from, else a widget of the source with that id that no
	// step stands for, else the id itself.
	name := map[string]string{}
	for w, id := range ids {
		if orig.owner[w] == id {
			name[id] = w
		}
	}
	for w, id := range ids {
		if _, ok := name[id]; !ok {
			if _, owned := orig.owner[w]; !owned {
				name[id] = w
			}
		}
	}
	widgetOf := func(id string) string {
		if w, ok := name[id]; ok {
			return w
		}
		return id
	}
	for i := range f.Steps {
		id := f.Steps[i].ID
		if _, ok := name[id]; !ok && !widgetName(id) {
			return nil, fmt.Errorf("studio: step %q: %q is not a Studio widget name: use letters, digits and '_', not starting with a digit", id, id)
		}
	}

	firsts := func(fl *outreach.Flow) map[string]bool {
		m := map[string]bool{}
		for _, id := range fl.FirstSteps() {
			m[id] = true
		}
		return m
	}
	origFirst, newFirst := firsts(orig.flow), firsts(f)
	footerSame := f.Footer() == orig.flow.Footer()
	changed := func(id string) bool {
		st, was := f.StepByID(id), orig.flow.StepByID(id)
		if st == nil || was == nil || !reflect.DeepEqual(*st, *was) {
			return true
		}
		return (!footerSame || origFirst[id] != newFirst[id]) && (origFirst[id] || newFirst[id])
	}

	// The steps exported again, with widget names for step ids.
	g := renameFlow(f, widgetOf)
	x := &exporter{f: g, kinds: map[string]outreach.AnswerKind{}, first: map[string]bool{}}
	for _, id := range g.FirstSteps() {
		x.first[id] = true
	}
	for i := range g.Steps {
		if st := &g.Steps[i]; st.Kind == outreach.StepAsk {
			x.kinds[st.ID] = answerKind(st)
		}
	}
	first := firstAsk(g)
	gen := map[string][]State{} // by step id of f
	for i := range f.Steps {
		id := f.Steps[i].ID
		if !changed(id) {
			continue
		}
		st := &g.Steps[i]
		states, err := x.step(st, askTimeout(st, first), i+1)
		if err != nil {
			return nil, err
		}
		gen[id] = states
	}

	out := &Definition{Description: f.Description, InitialState: src.InitialState, Flags: src.Flags, Extra: src.Extra}
	byName := map[string]*State{}
	for i := range src.States {
		byName[src.States[i].Name] = &src.States[i]
	}
	emitted := map[string]bool{}
	emit := func(id string) {
		if emitted[id] {
			return
		}
		emitted[id] = true
		for _, s := range gen[id] {
			out.States = append(out.States, merge(s, byName[s.Name]))
		}
	}
	for _, s := range src.States {
		if s.Type == TypeTrigger {
			if f.StartStep() != orig.flow.StartStep() {
				s.Transitions = slices.Clone(s.Transitions)
				for i := range s.Transitions {
					if s.Transitions[i].Event == orig.trigger {
						s.Transitions[i].Next = widgetOf(f.StartStep())
					}
				}
			}
			out.States = append(out.States, s)
			continue
		}
		owner, owned := orig.owner[s.Name]
		if !owned {
			// Not part of the imported flow, unless a new step took its name.
			if id := ids[s.Name]; name[id] == s.Name && f.StepByID(id) != nil {
				emit(id)
				continue
			}
			out.States = append(out.States, s)
			continue
		}
		switch {
		case f.StepByID(owner) == nil:
			// The step was removed: so are its widgets.
		case !changed(owner):
			out.States = append(out.States, s)
		default:
			emit(owner)
		}
	}
	for i := range f.Steps {
		emit(f.Steps[i].ID)
	}
	seen := map[string]bool{}
	for _, s := range out.States {
		if seen[s.Name] {
			return nil, fmt.Errorf("studio: widget name %q is used twice: a step exported again writes a widget of that name, and the flow's source definition has one", s.Name)
		}
		seen[s.Name] = true
	}
	return out, nil
}

// merge returns gen, a widget exported again, with what the source widget
// of the same name holds that the step does not: its offset, members and
// properties the export does not write, its from and to (and no "to" if it
// had none). A widget whose type changed keeps only its offset and
// members.
func merge(gen State, src *State) State {
	if src == nil {
		return gen
	}
	gen.Extra = src.Extra
	var sp, gp map[string]json.RawMessage
	if json.Unmarshal(src.Properties, &sp) != nil || json.Unmarshal(gen.Properties, &gp) != nil || sp == nil {
		return gen
	}
	out := gp
	if gen.Type == src.Type {
		out = sp
		for k, v := range gp {
			_, had := sp[k]
			switch {
			case k == "offset" || k == "from":
				if !had {
					out[k] = v
				}
			case k == "to":
				// kept as it was, or left out as it was
			default:
				out[k] = v
			}
		}
	} else if off, ok := sp["offset"]; ok {
		out["offset"] = off
	}
	if b, err := json.Marshal(out); err == nil {
		gen.Properties = b
	}
	return gen
}

var answerVarRE = regexp.MustCompile(`\{\{\s*answers\.([^{}\s]+)\s*\}\}`)

// renameFlow returns a copy of f whose step ids, and every reference to
// them (targets, answers.STEP in templates and branch variables), are
// renamed by name.
func renameFlow(f *outreach.Flow, name func(id string) string) *outreach.Flow {
	g := f.Clone()
	ref := func(id string) string {
		if id == "" {
			return ""
		}
		return name(id)
	}
	text := func(s string) string {
		return answerVarRE.ReplaceAllStringFunc(s, func(m string) string {
			return "{{answers." + name(answerVarRE.FindStringSubmatch(m)[1]) + "}}"
		})
	}
	g.Start = ref(g.Start)
	for i := range g.Steps {
		st := &g.Steps[i]
		st.ID = name(st.ID)
		mapTargets(st, ref)
		st.Body, st.Hint = text(st.Body), text(st.Hint)
		if q, ok := strings.CutPrefix(st.Var, "answers."); ok {
			st.Var = "answers." + name(q)
		}
	}
	return g
}

// startFromRequest wires the trigger's incomingRequest transition, with
// which Studio Executions start (and so the Studio runtime's campaigns),
// when it goes nowhere: to where the event an imported flow starts from
// goes (incomingMessage, incomingConversationMessage, else the first other
// connected event), as Import chose it. Other transitions are left as
// they are.
func startFromRequest(d *Definition) {
	for i := range d.States {
		s := &d.States[i]
		if s.Type != TypeTrigger {
			continue
		}
		if next, _ := s.Next(EventIncomingRequest); next != "" {
			return
		}
		start := ""
		for _, event := range []string{EventIncomingMessage, EventIncomingConversationMessage} {
			if next, _ := s.Next(event); next != "" && start == "" {
				start = next
			}
		}
		for _, t := range s.Transitions {
			if start == "" && t.Next != "" {
				start = t.Next
			}
		}
		if start == "" {
			return
		}
		s.Transitions = slices.Clone(s.Transitions)
		for j := range s.Transitions {
			if s.Transitions[j].Event == EventIncomingRequest {
				s.Transitions[j].Next = start
				return
			}
		}
		s.Transitions = append(s.Transitions, Transition{Event: EventIncomingRequest, Next: start})
		return
	}
}
