package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// Studio's limits on an execution, from the Studio FAQ
// (https://www.twilio.com/docs/studio/user-guide/studio-faq): "Each
// Execution ends after 1,000 steps" (warning 81000) and "If the same
// widget runs 10 times in a row during an Execution, that Execution will
// stop" (warning 81001). A [Machine] applies them as studiotest's
// Interpreter does.
const (
	DefaultMaxSteps   = 1000
	DefaultMaxRepeats = 10
)

// Errors of a [Machine] that stopped an execution at one of Studio's
// limits (see [DefaultMaxSteps]).
var (
	ErrTooManySteps = errors.New("the execution has exceeded the maximum steps allowed for a flow (Studio warning 81000): does the flow loop?")
	ErrWidgetLoop   = errors.New("the widget has exceeded the maximum steps in a loop (Studio warning 81001): it runs again and again")
)

// Machine runs flows imported from Studio definitions (a Source of
// [SourceFormat]) in the embedded runner exactly as Studio runs them as
// REST API executions: it implements [outreach.Machine]. Register it with
//
//	outreach.RunnerOptions{Machines: map[string]outreach.Machine{studio.SourceFormat: &studio.Machine{}}}
//
// and a campaign whose flow has such a Source runs, instead of the
// flow's steps, the definition Studio would run ([RunDefinition]: what
// [Deployer.Deploy] deploys), with the semantics of studiotest's
// Interpreter, the reference for Studio here:
//
//   - The execution context is the one Studio builds for a REST API
//     execution created by the Studio [Runtime]: flow.data holds the
//     recipient's fields (the Runtime's Parameters), flow.channel.address
//     the campaign's sending number, contact.channel.address the
//     recipient's phone, trigger.request their from, to and parameters;
//     flow.variables, widgets. (flow.flow_sid and flow.sid are empty: no
//     Studio flow or execution exists.)
//   - The trigger leaves on incomingRequest.
//   - send-message renders its body (Liquid, over the context) and sends
//     it ([outreach.Send]), leaving on sent at once; send-and-wait-for-reply
//     sends and waits for a reply for the widget's timeout
//     ([DefaultReplyTimeout] when unset). The widget's variables are
//     Studio's (Body, To, From, Status "queued"; the message SID is not
//     known when the flow goes on, so Sid and MessageSid are empty). A
//     message with an empty To, From or body is refused as Twilio
//     refuses it (21604, 21603, 21602), leaving on failed
//     (send-message) or deliveryFailure; one whose To or From renders to
//     another address than the recipient's or the campaign's ends the
//     conversation with outcome "unsupported: TYPE to or from another
//     address", since the runner sends to the recipient only.
//   - A reply is stored in widgets.NAME.inbound (Body as received, From,
//     To) and leaves on incomingMessage; no reply in time leaves on
//     timeout, and a question that could not be delivered on
//     deliveryFailure. The reply is recorded ([outreach.RecordAnswer]) as
//     the Studio Runtime collects it: for the ask step the widget stands
//     for (its step id, or STEP for a re-ask widget STEP_reaskN), the
//     body as received and the answer as [outreach.ReadAnswer] reads it
//     (empty, with its doubt, when it could not be read with confidence);
//     a reply to a widget that is no ask step of the flow (the import left
//     it out) is recorded as received, under the widget's step id. STOP,
//     START and HELP are not answers. Only the splits route.
//   - split-based-on renders its input and the condition values holding
//     Liquid and routes with [State.Route]; set-variables sets
//     flow.variables; make-http-request and run-function are run by
//     Calls ([Calls.HTTPRequest], [Calls.RunFunction]).
//   - The end of the flow finishes the conversation with the outcome the
//     Studio Runtime collects: flow.variables.outcome, else timeout,
//     delivery_failed or needs_review when the last transition was a
//     timeout, a delivery failure or a split's noMatch, else completed.
//   - Any other widget type ends the conversation with outcome
//     "unsupported: TYPE" ([UnsupportedOutcome]). A template that does
//     not render, a condition that cannot be evaluated, a transition to
//     no widget and Studio's limits ([DefaultMaxSteps],
//     [DefaultMaxRepeats]) end it with an error, and the outcome the
//     Runtime collects from such an execution.
//
// Each message's key is (conversation, the widget's step id, its visits
// to the widget), so a widget visited again sends a new message, never a
// repeat. The machine's state (the execution context, the widget
// waiting, the steps taken) is kept in outreach.State.Machine. Nothing
// of the context is logged or put in errors.
type Machine struct {
	// Calls runs make-http-request and run-function widgets; nil fails
	// every such widget, as the zero Calls does.
	Calls *Calls
	// MaxSteps is how many steps an execution takes at most; zero means
	// [DefaultMaxSteps].
	MaxSteps int
	// MaxRepeats is how many times in a row one widget runs at most
	// (waiting for a reply in between does not reset the count); zero
	// means [DefaultMaxRepeats].
	MaxRepeats int

	mu   sync.Mutex
	runs map[*outreach.Flow]*machineFlow
}

var _ outreach.Machine = (*Machine)(nil)

// machineFlow is what a Machine derives from a flow, once.
type machineFlow struct {
	def    *Definition
	stepOf func(widget string) string
	asks   map[string]*outreach.Step
}

// machineState is what a Machine keeps in outreach.State.Machine.
type machineState struct {
	// Vars is the execution context.
	Vars map[string]any `json:"vars"`
	// Waiting is the send-and-wait-for-reply widget waiting for a reply.
	Waiting string `json:"waiting,omitempty"`
	// Last is the event of the last transition taken.
	Last string `json:"last,omitempty"`
	// Steps counts the steps taken; Widget is the widget entered last,
	// Repeats how many times in a row it was.
	Steps   int    `json:"steps,omitempty"`
	Widget  string `json:"widget,omitempty"`
	Repeats int    `json:"repeats,omitempty"`
	// MaybeOptOut is set when the last reply to a question may be an
	// opt-out (see collected.maybeOptOut).
	MaybeOptOut bool `json:"maybe_opt_out,omitempty"`
}

// maxCachedFlows bounds the machine's cache of flows (campaigns are
// immutable snapshots: the runner hands the same *Flow for a campaign).
const maxCachedFlows = 1000

func (m *Machine) flow(f *outreach.Flow) (*machineFlow, error) {
	if f == nil || f.Source == nil {
		return nil, errors.New("studio: machine: the flow has no Source")
	}
	if f.Source.Format != SourceFormat {
		return nil, fmt.Errorf("studio: machine: the flow's Source is %q, not %q", f.Source.Format, SourceFormat)
	}
	m.mu.Lock()
	mf := m.runs[f]
	m.mu.Unlock()
	if mf != nil {
		return mf, nil
	}
	def, err := RunDefinition(f)
	if err != nil {
		return nil, fmt.Errorf("studio: machine: flow %s: %w", f.ID, err)
	}
	mf = &machineFlow{def: def, stepOf: widgetSteps(f), asks: map[string]*outreach.Step{}}
	for i := range f.Steps {
		if st := &f.Steps[i]; st.Kind == outreach.StepAsk {
			mf.asks[st.ID] = st
		}
	}
	m.mu.Lock()
	if m.runs == nil || len(m.runs) >= maxCachedFlows {
		m.runs = map[*outreach.Flow]*machineFlow{}
	}
	m.runs[f] = mf
	m.mu.Unlock()
	return mf, nil
}

// Advance implements [outreach.Machine]: it applies ev to conv, whose
// State is the state before it.
func (m *Machine) Advance(ctx context.Context, f *outreach.Flow, conv outreach.Conversation, ev outreach.Event) (outreach.State, []outreach.Action, error) {
	x := &machineRun{m: m, conv: conv, s: conv.State.Clone()}
	err := x.apply(ctx, f, ev)
	if err != nil {
		// A flow error ends the execution, with the outcome the Runtime
		// collects from it; one before the flow ran, "failed".
		if x.ms.Vars != nil {
			x.finish(x.outcome())
		}
		x.finish(outreach.OutcomeFailed)
	}
	if x.ms.Vars != nil {
		b, merr := json.Marshal(x.ms)
		if merr != nil && err == nil {
			err = fmt.Errorf("studio: machine: conversation %d: encode state: %w", conv.ID, merr)
			x.finish(outreach.OutcomeFailed)
		}
		x.s.Machine = b
	}
	return x.s, x.acts, err
}

// machineRun is one call of Advance.
type machineRun struct {
	m    *Machine
	mf   *machineFlow
	def  *Definition
	conv outreach.Conversation
	s    outreach.State
	ms   machineState
	acts []outreach.Action
}

func (x *machineRun) apply(ctx context.Context, f *outreach.Flow, ev outreach.Event) error {
	if x.s.Done {
		return nil
	}
	mf, err := x.m.flow(f)
	if err != nil {
		return err
	}
	x.mf, x.def = mf, mf.def
	if len(x.s.Machine) > 0 {
		if err := decodeMachineState(x.s.Machine, &x.ms); err != nil {
			x.ms = machineState{}
			return fmt.Errorf("studio: machine: conversation %d: state: %w", x.conv.ID, err)
		}
	}
	switch ev.Type {
	case outreach.EventStart:
		if x.s.Started {
			return nil
		}
		x.s.Started = true
		x.ms = machineState{Vars: x.context(ev)}
		trig := x.def.StateByName(x.def.InitialState)
		switch {
		case trig == nil:
			return fmt.Errorf("studio: machine: initial_state %q names no widget", x.def.InitialState)
		case trig.Type != TypeTrigger:
			return stateErr(trig, "initial_state is not a trigger")
		}
		event := EventIncomingRequest
		if x.s.Trigger != nil {
			event = EventIncomingMessage // a patient's text started it
		}
		next, _ := trig.Next(event)
		return x.follow(ctx, event, next)

	case outreach.EventOptedOut:
		x.finish(outreach.OutcomeOptedOut)
		return nil

	case outreach.EventDeliveryFailure, outreach.EventTimedOut:
		if !x.s.Waiting || ev.Key != x.s.Wait {
			return nil
		}
		st := x.stopWaiting()
		if st == nil {
			return fmt.Errorf("studio: machine: waiting widget %q is gone", x.ms.Waiting)
		}
		event := EventTimeout
		if ev.Type == outreach.EventDeliveryFailure {
			event = EventDeliveryFailure
			if out, ok := x.widget(st.Name)["outbound"].(map[string]any); ok {
				out["Status"] = "failed"
			}
		}
		next, _ := st.Next(event)
		return x.follow(ctx, event, next)

	case outreach.EventReplied:
		if !x.s.Waiting {
			return nil
		}
		st := x.stopWaiting()
		if st == nil {
			return fmt.Errorf("studio: machine: waiting widget %q is gone", x.ms.Waiting)
		}
		x.widget(st.Name)["inbound"] = x.message(ev.Body, "")
		x.record(st.Name, ev)
		next, _ := st.Next(EventIncomingMessage)
		return x.follow(ctx, EventIncomingMessage, next)
	}
	return fmt.Errorf("studio: machine: unknown event type %q", ev.Type)
}

// record records a reply to widget as the Studio Runtime collects it.
func (x *machineRun) record(widget string, ev outreach.Event) {
	if outreach.ParseKeyword(ev.Body) != outreach.NoKeyword {
		return // opt-out changes and help requests, not answers
	}
	ask := askOf(x.mf.asks, x.mf.stepOf, widget)
	question, rd := readReply(ask, x.mf.stepOf, widget, ev.Body)
	x.ms.MaybeOptOut = ask != nil && rd.Doubt == outreach.DoubtOptOut
	if rd.OK {
		x.s.Answers[question] = rd.Value
	}
	x.act(outreach.RecordAnswer{Step: question, Raw: ev.Body, Answer: rd.Value, Doubt: rd.Doubt, At: ev.At})
}

// decodeMachineState reads a machineState with whole numbers as int64, as
// the context held them before it was stored.
func decodeMachineState(b []byte, ms *machineState) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(ms); err != nil {
		return err
	}
	if ms.Vars != nil {
		ms.Vars, _ = numbers(ms.Vars).(map[string]any)
	}
	return nil
}

// context is the execution context of a new REST API execution, as the
// Studio Runtime creates it for conv.
func (x *machineRun) context(start outreach.Event) map[string]any {
	phone := x.conv.Recipient.Phone
	var data map[string]any
	var trigger map[string]any
	if t := x.s.Trigger; t != nil {
		// Started by a text: Studio gives it as trigger.message, and no
		// flow.data.
		data = map[string]any{}
		trigger = map[string]any{"message": x.message(start.Body, t.ProviderID)}
	} else {
		data = parameters(x.conv)
		params := make(map[string]any, len(data))
		for k, v := range data {
			params[k] = v
		}
		trigger = map[string]any{"request": map[string]any{"from": phone, "to": x.conv.From, "parameters": params}}
	}
	return map[string]any{
		"flow": map[string]any{
			"flow_sid": "", "sid": "", "channel": map[string]any{"address": x.conv.From},
			"data": data, "variables": map[string]any{},
		},
		"contact": map[string]any{"channel": map[string]any{"address": phone}},
		"trigger": trigger,
		"widgets": map[string]any{},
	}
}

// message returns the variables of a text from the patient, as Studio
// gives them (trigger.message, a widget's inbound): the parameters of
// Twilio's incoming-message webhook. The message's SID is known only for
// the text that started the conversation; no account exists here.
func (x *machineRun) message(body, sid string) map[string]any {
	return map[string]any{
		"Body": body, "From": x.conv.Recipient.Phone, "To": x.conv.From,
		"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "SmsStatus": "received",
		"AccountSid": "", "NumMedia": "0", "ApiVersion": "2010-04-01",
	}
}

// stopWaiting ends the wait for a reply and returns the widget that
// waited.
func (x *machineRun) stopWaiting() *State {
	st := x.def.StateByName(x.ms.Waiting)
	x.ms.Waiting = ""
	x.s.Waiting = false
	return st
}

// follow takes the transition on event to widget to, and runs widgets
// from there until one waits for a reply or the flow ends, counting
// steps as Studio does.
func (x *machineRun) follow(ctx context.Context, event, to string) error {
	maxSteps, maxRepeats := x.m.MaxSteps, x.m.MaxRepeats
	if maxSteps <= 0 {
		maxSteps = DefaultMaxSteps
	}
	if maxRepeats <= 0 {
		maxRepeats = DefaultMaxRepeats
	}
	for {
		x.ms.Last = event
		x.ms.Steps++
		if to == "" {
			x.finish(x.outcome())
			return nil
		}
		st := x.def.StateByName(to)
		switch {
		case st == nil:
			return fmt.Errorf("studio: machine: the %s transition goes to %q, which is no widget", event, to)
		case x.ms.Steps >= maxSteps:
			return &StateError{State: st.Name, Type: st.Type, Err: ErrTooManySteps}
		}
		if st.Name == x.ms.Widget {
			x.ms.Repeats++
		} else {
			x.ms.Widget, x.ms.Repeats = st.Name, 1
		}
		if x.ms.Repeats > maxRepeats {
			return &StateError{State: st.Name, Type: st.Type, Err: ErrWidgetLoop}
		}
		x.s.Step = x.mf.stepOf(st.Name)
		ev, next, wait, err := x.run(ctx, st)
		if err != nil || wait || x.s.Done {
			return err
		}
		event, to = ev, next
	}
}

// outcome is the outcome the Studio Runtime collects from an execution
// that ended now (see collect's outcome).
func (x *machineRun) outcome() string {
	return outcome(x.ms.Vars, step{name: x.ms.Last}, collected{maybeOptOut: x.ms.MaybeOptOut})
}

// run runs widget st: it returns the event st leaves on and the widget
// it goes to, or wait true when st waits for a reply.
func (x *machineRun) run(ctx context.Context, st *State) (event, next string, wait bool, err error) {
	switch st.Type {
	case TypeSendMessage, TypeSendAndWait:
		var p MessageProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", false, err
		}
		key, msg, ok, err := x.send(st, p)
		if err != nil || !ok {
			return "", "", false, err
		}
		if key.IsZero() {
			// Refused, as Twilio refuses a message with no body or address.
			if st.Type == TypeSendMessage {
				x.widgets()[st.Name] = msg
				next, _ = st.Next(EventFailed)
				return EventFailed, next, false, nil
			}
			x.widgets()[st.Name] = map[string]any{"outbound": msg}
			next, _ = st.Next(EventDeliveryFailure)
			return EventDeliveryFailure, next, false, nil
		}
		if st.Type == TypeSendMessage {
			x.widgets()[st.Name] = msg
			next, _ = st.Next(EventSent)
			return EventSent, next, false, nil
		}
		x.widgets()[st.Name] = map[string]any{"outbound": msg}
		timeout := time.Duration(p.Timeout) * time.Second
		if timeout <= 0 {
			timeout = DefaultReplyTimeout
		}
		x.ms.Waiting = st.Name
		x.s.Asked++
		x.s.Waiting = true
		x.s.Wait = key
		x.s.Deadline = time.Time{}
		x.s.Timeout = outreach.Duration(timeout)
		x.act(outreach.ScheduleTimeout{Key: key, After: timeout})
		return "", "", true, nil

	case TypeSplit:
		var p SplitProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", false, err
		}
		value, err := x.render(st, "input", p.Input)
		if err != nil {
			return "", "", false, err
		}
		route, err := x.renderConditions(st)
		if err != nil {
			return "", "", false, err
		}
		next, event, err := route.Route(value)
		return event, next, false, err

	case TypeSetVariables:
		var p SetVariablesProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", false, err
		}
		vars := child(child(x.ms.Vars, "flow"), "variables")
		for _, v := range p.Variables {
			val, err := x.render(st, "variable "+v.Key, v.Value)
			if err != nil {
				return "", "", false, err
			}
			vars[v.Key] = val
		}
		next, _ = st.Next(EventNext)
		return EventNext, next, false, nil

	case TypeHTTPRequest:
		var p HTTPRequestProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", false, err
		}
		if p, err = p.Render(x.ms.Vars); err != nil {
			return "", "", false, stateErr(st, "%v", err)
		}
		res := x.m.Calls.HTTPRequest(ctx, p)
		x.widgets()[st.Name] = res.Vars()
		next, _ = st.Next(res.Event)
		return res.Event, next, false, nil

	case TypeRunFunction:
		var p RunFunctionProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", false, err
		}
		if p, err = p.Render(x.ms.Vars); err != nil {
			return "", "", false, stateErr(st, "%v", err)
		}
		res := x.m.Calls.RunFunction(ctx, p)
		x.widgets()[st.Name] = res.Vars()
		next, _ = st.Next(res.Event)
		return res.Event, next, false, nil

	case TypeTrigger:
		return "", "", false, stateErr(st, "a transition cannot enter the trigger")
	}
	x.finish(outreach.UnsupportedOutcome(st.Type))
	return "", "", false, nil
}

// send renders the message of widget st and sends it. ok is false when
// the conversation ended instead (a message to or from another address);
// a zero key with ok means Twilio would refuse it (msg says why).
func (x *machineRun) send(st *State, p MessageProperties) (key outreach.SendKey, msg map[string]any, ok bool, err error) {
	body, err := x.render(st, "body", p.Body)
	if err != nil {
		return key, nil, false, err
	}
	to, from := "{{contact.channel.address}}", "{{flow.channel.address}}"
	if strings.TrimSpace(p.To) != "" {
		to = p.To
	}
	if strings.TrimSpace(p.From) != "" {
		from = p.From
	}
	if to, err = x.render(st, "to", to); err != nil {
		return key, nil, false, err
	}
	if from, err = x.render(st, "from", from); err != nil {
		return key, nil, false, err
	}
	to, from = strings.TrimSpace(to), strings.TrimSpace(from)
	if code, reason := refusal(to, from, body); code != 0 {
		return key, map[string]any{"Status": "failed", "ErrorCode": code, "ErrorMessage": reason, "To": to, "From": from}, true, nil
	}
	if to != x.conv.Recipient.Phone || from != x.conv.From {
		x.finish("unsupported: " + st.Type + " to or from another address")
		return key, nil, false, nil
	}
	id := x.mf.stepOf(st.Name)
	x.s.Attempts[id]++
	key = outreach.SendKey{Conversation: x.conv.ID, Step: id, Attempt: x.s.Attempts[id]}
	x.act(outreach.Send{Key: key, Body: body})
	msg = map[string]any{
		"Sid": "", "MessageSid": "", "Status": "queued",
		"Body": body, "To": to, "From": from, "AccountSid": "",
	}
	return key, msg, true, nil
}

// refusal is the error Twilio answers a message with when it has no To,
// From or body (in that order), as the fake does; zero when it has them.
func refusal(to, from, body string) (code int, reason string) {
	switch {
	case to == "":
		return 21604, "A 'To' phone number is required."
	case from == "":
		return 21603, "A 'From' phone number is required."
	case body == "":
		return 21602, "Message body is required."
	}
	return 0, ""
}

// renderConditions returns st with the condition values that hold Liquid
// rendered, or st itself when none does.
func (x *machineRun) renderConditions(st *State) (*State, error) {
	liquid := false
	for _, t := range st.Transitions {
		for _, c := range t.Conditions {
			liquid = liquid || isTemplate(c.Value)
		}
	}
	if !liquid {
		return st, nil
	}
	c := *st
	c.Transitions = make([]Transition, len(st.Transitions))
	for i, t := range st.Transitions {
		t.Conditions = append([]Condition(nil), t.Conditions...)
		for j := range t.Conditions {
			v, err := x.render(st, "condition value", t.Conditions[j].Value)
			if err != nil {
				return nil, err
			}
			t.Conditions[j].Value = v
		}
		c.Transitions[i] = t
	}
	return &c, nil
}

func isTemplate(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "{%") }

// render renders one template of widget st over the execution context.
func (x *machineRun) render(st *State, what, tmpl string) (string, error) {
	if !isTemplate(tmpl) {
		return tmpl, nil
	}
	out, err := Render(tmpl, x.ms.Vars)
	if err != nil {
		return "", stateErr(st, "%s: %v", what, err)
	}
	return out, nil
}

func (x *machineRun) widgets() map[string]any { return child(x.ms.Vars, "widgets") }

func (x *machineRun) widget(name string) map[string]any { return child(x.widgets(), name) }

func (x *machineRun) finish(outcome string) {
	if x.s.Done {
		return
	}
	x.s.Done = true
	x.s.Waiting = false
	x.ms.Waiting = ""
	x.s.Outcome = outcome
	x.act(outreach.Finish{Outcome: outcome})
}

func (x *machineRun) act(a outreach.Action) { x.acts = append(x.acts, a) }

// child returns m[key] as a map, making it if needed.
func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}
