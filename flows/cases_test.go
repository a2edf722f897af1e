package flows

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// The engine tests of the built-in flows are tables of conversations in
// testdata/FLOW_cases.json, in the style of nyaruka/goflow. A case is a list
// of events, each with the actions the engine must answer with, written as:
//
//	send STEP/ATTEMPT              a message is sent under that key
//	wait STEP/ATTEMPT DURATION     a timeout is scheduled for that question
//	answer STEP VALUE              a reply was recorded with that answer
//	unmatched STEP                 a reply was recorded that did not match
//	finish OUTCOME                 the conversation ended
//
// An event's "key" ("STEP/ATTEMPT") defaults to the awaited question for a
// timeout and to the last message sent for a delivery failure. "bodies"
// lists substrings that the body sent under a key must contain.

// flowCase is one conversation with a built-in flow.
type flowCase struct {
	Name      string              `json:"name"`
	Recipient *outreach.Recipient `json:"recipient,omitempty"`
	Events    []caseEvent         `json:"events"`
	// Outcome is the outcome the conversation ends with; empty when it
	// must not end.
	Outcome string              `json:"outcome"`
	Bodies  map[string][]string `json:"bodies,omitempty"`
}

type caseEvent struct {
	Type    outreach.EventType `json:"type"`
	Body    string             `json:"body,omitempty"`
	Key     string             `json:"key,omitempty"`
	Actions []string           `json:"actions"`
}

// caseConv is the conversation id the cases run under.
const caseConv = 42

var (
	caseStart     = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	caseRecipient = outreach.Recipient{ID: "P-1001", FirstName: "Ana", Phone: "+14405550142"}
)

// maxMessageLen is the longest message a built-in flow may send: two SMS
// segments.
const maxMessageLen = 320

// edge is a move of a conversation from one step to another step, or to an
// outcome ("outcome:NAME").
type edge struct{ from, to string }

// played is what a case did: the actions of each event, the bodies sent,
// and the steps and edges it went through.
type played struct {
	actions [][]string
	bodies  map[string]string
	steps   map[string]bool
	edges   map[edge]bool
	state   outreach.State
	// problems are broken invariants that hold for every case.
	problems []string
}

func loadCases(t testing.TB, flow string) []flowCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", flow+"_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cases []flowCase
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("testdata/%s_cases.json: %v", flow, err)
	}
	return cases
}

func parseKey(s string) (outreach.SendKey, error) {
	step, attempt, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(attempt)
	if !ok || err != nil {
		return outreach.SendKey{}, fmt.Errorf("key %q: want STEP/ATTEMPT", s)
	}
	return outreach.SendKey{Conversation: caseConv, Step: step, Attempt: n}, nil
}

func keyString(k outreach.SendKey) string { return k.Step + "/" + strconv.Itoa(k.Attempt) }

func formatAction(a outreach.Action) string {
	switch a := a.(type) {
	case outreach.Send:
		return "send " + keyString(a.Key)
	case outreach.ScheduleTimeout:
		return "wait " + keyString(a.Key) + " " + a.After.String()
	case outreach.RecordAnswer:
		if a.Answer == "" {
			return "unmatched " + a.Step
		}
		return "answer " + a.Step + " " + a.Answer
	case outreach.Finish:
		return "finish " + a.Outcome
	}
	return fmt.Sprintf("unknown action %T", a)
}

// play runs a case's events through the engine, storing the state as JSON
// between events as a store would.
func play(f *outreach.Flow, c flowCase) (*played, error) {
	r := caseRecipient
	if c.Recipient != nil {
		r = *c.Recipient
	}
	p := &played{bodies: map[string]string{}, steps: map[string]bool{}, edges: map[edge]bool{}}
	bad := func(format string, args ...any) { p.problems = append(p.problems, fmt.Sprintf(format, args...)) }
	var s outreach.State
	var last outreach.SendKey
	sent := map[outreach.SendKey]bool{}
	attempts := map[string]int{}
	finished := false
	for i, ce := range c.Events {
		ev := outreach.Event{Type: ce.Type, Body: ce.Body, At: caseStart.Add(time.Duration(i) * time.Minute)}
		switch {
		case ce.Key != "":
			k, err := parseKey(ce.Key)
			if err != nil {
				return nil, fmt.Errorf("event %d: %v", i+1, err)
			}
			ev.Key = k
		case ce.Type == outreach.EventTimedOut:
			ev.Key = s.Wait
		case ce.Type == outreach.EventDeliveryFailure:
			ev.Key = last
		}
		// cur is the step the conversation moves from ("" before it starts).
		cur := s.Step
		switch ce.Type {
		case outreach.EventStart:
			cur = ""
		case outreach.EventDeliveryFailure:
			cur = ev.Key.Step
		}

		next, acts, err := outreach.Advance(f, caseConv, r, s, ev)
		if err != nil {
			bad("event %d (%s): Advance: %v", i+1, ce.Type, err)
		}
		var got []string
		var lastSend outreach.SendKey
		for _, a := range acts {
			got = append(got, formatAction(a))
			if finished {
				bad("event %d (%s): %s after the conversation finished", i+1, ce.Type, formatAction(a))
			}
			switch a := a.(type) {
			case outreach.Send:
				if sent[a.Key] {
					bad("event %d: key %v sent twice", i+1, a.Key)
				}
				sent[a.Key] = true
				if a.Key.Conversation != caseConv || a.Key.Attempt != attempts[a.Key.Step]+1 {
					bad("event %d: key %v: want conversation %d, attempt %d", i+1, a.Key, caseConv, attempts[a.Key.Step]+1)
				}
				attempts[a.Key.Step] = a.Key.Attempt
				if n := len([]rune(a.Body)); strings.TrimSpace(a.Body) == "" || n > maxMessageLen {
					bad("event %d: %v: body has %d characters; want 1-%d", i+1, a.Key, n, maxMessageLen)
				}
				p.bodies[keyString(a.Key)] = a.Body
				p.steps[a.Key.Step] = true
				p.edges[edge{cur, a.Key.Step}] = true
				cur, last, lastSend = a.Key.Step, a.Key, a.Key
			case outreach.ScheduleTimeout:
				if a.Key != lastSend {
					bad("event %d: timeout scheduled for %v, not for the question just sent (%v)", i+1, a.Key, lastSend)
				}
			case outreach.RecordAnswer:
				if !a.At.Equal(ev.At) {
					bad("event %d: answer recorded at %v, not at the reply's time %v", i+1, a.At, ev.At)
				}
			case outreach.Finish:
				finished = true
				p.edges[edge{cur, "outcome:" + a.Outcome}] = true
			}
		}
		p.actions = append(p.actions, got)

		b, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		s = outreach.State{}
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
	}
	if s.Step != "" {
		p.steps[s.Step] = true
	}
	p.state = s
	return p, nil
}

func TestBuiltinFlowCases(t *testing.T) {
	for _, name := range BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			f, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			cases := loadCases(t, name)
			names := map[string]bool{}
			for _, c := range cases {
				if names[c.Name] {
					t.Errorf("two cases are named %q", c.Name)
				}
				names[c.Name] = true
				t.Run(c.Name, func(t *testing.T) { checkCase(t, f, c) })
			}
		})
	}
}

func checkCase(t *testing.T, f *outreach.Flow, c flowCase) {
	p, err := play(f, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range p.problems {
		t.Error(msg)
	}
	for i, ce := range c.Events {
		want := ce.Actions
		if want == nil {
			want = []string{}
		}
		got := p.actions[i]
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("event %d (%s %q):\n got  %q\n want %q", i+1, ce.Type, ce.Body, got, want)
		}
	}
	if p.state.Done != (c.Outcome != "") || p.state.Outcome != c.Outcome {
		t.Errorf("ended %v with outcome %q; want outcome %q", p.state.Done, p.state.Outcome, c.Outcome)
	}
	for key, subs := range c.Bodies {
		body, ok := p.bodies[key]
		if !ok {
			t.Errorf("bodies: nothing was sent under %s", key)
			continue
		}
		for _, sub := range subs {
			if !strings.Contains(body, sub) {
				t.Errorf("body of %s = %q; want it to contain %q", key, body, sub)
			}
		}
	}
}

// TestBuiltinFlowCasesCoverage checks that the cases of each built-in flow
// together go through every step and every exit: each route, next,
// no_answer and on_timeout target, each re-ask, each end step's outcome,
// and that they include an opt-out and, for a two-way flow, a delivery
// failure.
func TestBuiltinFlowCasesCoverage(t *testing.T) {
	for _, name := range BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			f, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			steps := map[string]bool{}
			edges := map[edge]bool{}
			for _, c := range loadCases(t, name) {
				p, err := play(f, c)
				if err != nil {
					t.Fatalf("case %q: %v", c.Name, err)
				}
				for s := range p.steps {
					steps[s] = true
				}
				for e := range p.edges {
					edges[e] = true
				}
			}
			for _, st := range f.Steps {
				if !steps[st.ID] {
					t.Errorf("no case reaches step %s", st.ID)
				}
			}
			for _, e := range exits(f) {
				if !edges[e.edge] {
					t.Errorf("no case takes the exit %s of step %s (to %s)", e.what, e.from, e.to)
				}
			}
			outcomes := map[string]bool{}
			for e := range edges {
				if o, ok := strings.CutPrefix(e.to, "outcome:"); ok {
					outcomes[o] = true
				}
			}
			want := []string{outreach.OutcomeOptedOut}
			if f.TwoWay() {
				want = append(want, outreach.OutcomeDeliveryFailed)
			}
			for _, o := range want {
				if !outcomes[o] {
					t.Errorf("no case ends with outcome %s", o)
				}
			}
		})
	}
}

type exit struct {
	edge
	what string
}

// exits lists the ways out of each step that the cases must take. Branch
// steps send nothing, so the cases cannot see them: exits rejects them.
func exits(f *outreach.Flow) []exit {
	var out []exit
	add := func(from, to, what string) { out = append(out, exit{edge{from, to}, what}) }
	orOutcome := func(target, outcome string) string {
		if target != "" {
			return target
		}
		return "outcome:" + outcome
	}
	for _, st := range f.Steps {
		switch st.Kind {
		case outreach.StepSend:
			add(st.ID, orOutcome(st.Next, outreach.OutcomeCompleted), "next")
		case outreach.StepAsk:
			for i, rt := range st.Routes {
				add(st.ID, rt.Next, fmt.Sprintf("routes[%d]", i))
			}
			if st.Next != "" {
				add(st.ID, st.Next, "next")
			}
			if st.Reasks() > 0 {
				add(st.ID, st.ID, "re-ask")
			}
			add(st.ID, orOutcome(st.NoAnswer, outreach.OutcomeNoAnswer), "no_answer")
			add(st.ID, orOutcome(st.OnTimeout, outreach.OutcomeTimeout), "on_timeout")
		case outreach.StepEnd:
			add(st.ID, "outcome:"+cmp.Or(st.Outcome, outreach.OutcomeCompleted), "outcome")
		default:
			add(st.ID, "?", "(teach the coverage test about "+string(st.Kind)+" steps)")
		}
	}
	return out
}
