package studiotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/patient-outreach/sms/internal/twiliocall"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
)

// Studio's limits on an execution, from the Studio FAQ
// (https://www.twilio.com/docs/studio/user-guide/studio-faq, "What limits
// exist in Studio?"): "Each Execution ends after 1,000 steps" and "If the
// same widget runs 10 times in a row during an Execution, that Execution
// will stop". Studio reports them as warnings 81000 ("The Execution has
// exceeded max steps allowed for a flow",
// https://www.twilio.com/docs/api/errors/81000) and 81001 ("Widget has
// exceeded max steps in a loop",
// https://www.twilio.com/docs/api/errors/81001), and the execution ends.
const (
	DefaultMaxSteps   = 1000
	DefaultMaxRepeats = 10
)

// ErrUnsupportedWidget matches the *[StateError] an [Interpreter] ends an
// execution with when it reaches a widget type it does not run.
var ErrUnsupportedWidget = errors.New("widget type not supported by the interpreter: it runs trigger, send-message, send-and-wait-for-reply, split-based-on, set-variables, make-http-request and run-function")

// ErrTooManySteps matches the *[StateError] an [Interpreter] ends an
// execution with when it has taken MaxSteps steps, as Studio ends it
// (warning 81000).
var ErrTooManySteps = errors.New("the execution has exceeded the maximum steps allowed for a flow (Studio warning 81000): does the flow loop?")

// ErrWidgetLoop matches the *[StateError] an [Interpreter] ends an
// execution with when one widget would run more than MaxRepeats times in
// a row, as Studio ends it (warning 81001).
var ErrWidgetLoop = errors.New("the widget has exceeded the maximum steps in a loop (Studio warning 81001): it runs again and again")

// InterpreterOptions configure an [Interpreter]. The zero value is ready
// to use, makes no HTTP request and runs no function.
type InterpreterOptions struct {
	// Logger receives what the interpreter does, by execution SID,
	// widget name and event, with phone numbers masked and no message
	// bodies; nil discards it.
	Logger *slog.Logger
	// Calls runs the make-http-request and run-function widgets: the
	// hosts they may call, the HTTP client and the Go ports of Twilio
	// Functions. Nil makes every such widget fail, saying why.
	Calls *studio.Calls
	// MaxSteps is how many steps an execution takes at most before it
	// ends with [ErrTooManySteps]; zero means [DefaultMaxSteps].
	MaxSteps int
	// MaxRepeats is how many times in a row one widget runs at most
	// before the execution ends with [ErrWidgetLoop]; zero means
	// [DefaultMaxRepeats].
	MaxRepeats int
}

// Interpreter runs Studio executions inside the fake Twilio
// (outreach/twiliotest), so that a Studio flow, exported by [FromFlow] or
// from the console, runs locally without Twilio. It implements
// twiliotest.ExecutionRunner and twiliotest.ReplyRunner: set it as the
// fake's Options.Studio, deploy a flow, point the sending number at the
// flow's webhook ([Deployer.PointNumber]) so that replies reach it, and
// create executions through the Studio v2 API.
//
// It runs as Studio does, for REST API executions:
//
//   - The trigger (initial_state) leaves on incomingRequest.
//   - send-message renders its body, to and from (Liquid, over the
//     execution context: flow.data, flow.variables, flow.channel,
//     contact, trigger, widgets) and sends through the fake's Messages
//     API with the twilio-go client, from the execution's From and to the
//     contact unless the widget says otherwise (a From starting "MG" is
//     a Messaging Service SID). The network's refusals (21610 opted out,
//     21612 unreachable, ...) apply: success leaves on sent, a refusal on
//     failed. widgets.NAME holds the message: Sid, MessageSid, Status,
//     Body, To, From, AccountSid; after a refusal, Status "failed",
//     ErrorCode and ErrorMessage.
//   - send-and-wait-for-reply sends the same way (a refusal leaves on
//     deliveryFailure) with the message in widgets.NAME.outbound, then
//     waits, the execution active: the contact's reply (see
//     twiliotest.ReplyRunner) is stored in widgets.NAME.inbound (Body,
//     From, To, MessageSid, SmsMessageSid, SmsSid, SmsStatus, AccountSid,
//     NumMedia, ApiVersion) and leaves on incomingMessage; no reply within
//     the widget's timeout ([DefaultReplyTimeout] when unset), timed on
//     the fake's clock with twiliotest.Server.AfterFunc, leaves on
//     timeout. Whichever of the reply and the timeout comes first wins; a
//     reply when the execution waits for none is ignored.
//   - split-based-on renders its input and routes with [State.Route]
//     (see [Condition.Holds]; condition values holding Liquid are
//     rendered first), leaving on match or noMatch.
//   - set-variables renders each value, in order, into
//     flow.variables.KEY and leaves on next.
//   - make-http-request and run-function render their url, body and
//     parameter values, then call with InterpreterOptions.Calls ([studio.Calls]:
//     only allowlisted hosts, only registered functions, Studio's 10 s
//     limit and 64 KiB cap). widgets.NAME holds status_code,
//     content_type, body, parsed (a JSON object answer) and, when the
//     call failed, error (why); they leave on success (2xx) or on failed
//     (make-http-request) or fail (run-function).
//   - A transition with no next, or an event with no transition, ends
//     the execution. Any other widget type (say-play, send-to-flex,
//     run-subflow, ...) ends it with a *[StateError] wrapping
//     [ErrUnsupportedWidget], with a last step named
//     [studio.StepUnsupported] from that widget (Type its type) so that
//     the Studio runtime records the outcome "unsupported: TYPE"; a
//     template that does not render or a condition that cannot be
//     evaluated ends it with a *[StateError] too.
//   - Studio's limits apply: an execution that has taken MaxSteps steps
//     ends with [ErrTooManySteps], one whose widget would run a
//     MaxRepeats+1th time in a row with [ErrWidgetLoop] (waiting for a
//     reply in between does not reset the count).
//
// Each transition is recorded as an execution step (twiliotest's
// AddExecutionStep): Name the event, TransitionedFrom the widget left,
// TransitionedTo the widget entered or "Ended", Type the type of the
// widget left and Context its variables (widgets.NAME; for the trigger,
// the trigger context; for set-variables, the variables it set; for a
// split, none). The
// execution context is stored after every widget, and the execution
// ended (status "ended") when the flow ends; an error is also kept in
// the execution's RunError.
//
// Many executions run at once. The interpreter keeps each one's state
// (its definition, context and the reply it waits for) by execution SID
// until the execution ends; work on one execution (its start, a reply, a
// timeout) is serialised, and no lock of the interpreter is held while
// it calls the fake, except that one execution's own. An execution ended
// or deleted through the API while it waits is forgotten when its
// timeout falls due. Nothing of an execution's content (bodies, phone
// numbers, parameters) is logged or put in errors; phone numbers are
// logged masked.
type Interpreter struct {
	log        *slog.Logger
	calls      *studio.Calls
	maxSteps   int
	maxRepeats int

	mu   sync.Mutex
	runs map[string]*interpRun // by execution SID
}

var _ twiliotest.ReplyRunner = (*Interpreter)(nil)

// interpRun is the state of one execution. lock (a one-slot semaphore)
// guards the fields after it: whoever holds it advances the execution.
type interpRun struct {
	sid  string
	lock chan struct{}

	def   *studio.Definition
	vars  map[string]any // the execution context
	ended bool
	steps int // steps recorded
	// The widget run last, and how many times in a row.
	last    string
	repeats int
	// The send-and-wait-for-reply widget waiting for a reply (empty when
	// none), the token of that wait, and its timer.
	waiting   string
	token     uint64
	stopTimer func() bool
}

// NewInterpreter returns an interpreter with no executions.
func NewInterpreter(opts InterpreterOptions) *Interpreter {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	in := &Interpreter{log: log, calls: opts.Calls, maxSteps: opts.MaxSteps, maxRepeats: opts.MaxRepeats, runs: make(map[string]*interpRun)}
	if in.maxSteps <= 0 {
		in.maxSteps = DefaultMaxSteps
	}
	if in.maxRepeats <= 0 {
		in.maxRepeats = DefaultMaxRepeats
	}
	return in
}

// Running returns how many executions the interpreter holds state for:
// those started and not yet ended.
func (in *Interpreter) Running() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.runs)
}

// StartExecution runs a new execution from its trigger's incomingRequest
// transition (incomingMessage for an execution that a text started: its
// context has trigger.message) until it waits for a reply or ends. An error (a definition
// that does not decode, a widget that cannot run) ends the execution and
// is returned; the fake keeps it in the execution's RunError.
func (in *Interpreter) StartExecution(ctx context.Context, srv *twiliotest.Server, e twiliotest.Execution) error {
	def, err := studio.Decode(e.Definition)
	if err != nil {
		err = fmt.Errorf("studio: execution %s: %w", e.SID, err)
		in.log.Warn("studio: execution not started", "execution", e.SID, "err", err)
		return err
	}
	r := &interpRun{sid: e.SID, lock: make(chan struct{}, 1), def: def, vars: e.Context}
	r.lock <- struct{}{}
	defer func() { <-r.lock }()
	if r.vars == nil {
		r.vars = map[string]any{}
	}
	in.mu.Lock()
	in.runs[e.SID] = r
	in.mu.Unlock()
	in.log.Info("studio: execution started", "execution", e.SID, "flow", e.FlowSID,
		"version", e.FlowVersion, "contact", outreach.MaskPhone(e.ContactChannelAddress))

	trig := def.StateByName(def.InitialState)
	switch {
	case trig == nil:
		return in.finish(srv, r, fmt.Errorf("studio: execution %s: initial_state %q names no widget", e.SID, def.InitialState))
	case trig.Type != studio.TypeTrigger:
		return in.finish(srv, r, stateErr(trig, "initial_state is not a trigger"))
	}
	trigger, _ := r.vars["trigger"].(map[string]any)
	event := studio.EventIncomingRequest
	if _, ok := trigger["message"]; ok {
		event = studio.EventIncomingMessage // a text started it
	}
	next, _ := trig.Next(event)
	return in.follow(ctx, srv, r, trig, trigger, event, next)
}

// ExecutionReply hands the execution the contact's reply m. If the
// execution waits in a send-and-wait-for-reply widget, the reply is
// stored in widgets.NAME.inbound and the flow goes on from its
// incomingMessage transition until it waits again or ends; the error of
// a widget that cannot run is returned (and the execution ended).
// Otherwise the reply is ignored.
func (in *Interpreter) ExecutionReply(ctx context.Context, srv *twiliotest.Server, e twiliotest.Execution, m twiliotest.Message) error {
	r, err := in.acquire(ctx, e.SID)
	if r == nil {
		return err
	}
	defer func() { <-r.lock }()
	st := in.stopWaiting(r, 0)
	if st == nil {
		in.log.Debug("studio: reply ignored: not waiting", "execution", e.SID, "message", m.SID)
		return nil
	}
	vars := widgetVars(r, st.Name)
	vars["inbound"] = map[string]any{
		"Body": m.Body, "From": m.From, "To": m.To,
		"MessageSid": m.SID, "SmsMessageSid": m.SID, "SmsSid": m.SID, "SmsStatus": "received",
		"AccountSid": srv.AccountSID(), "NumMedia": "0", "ApiVersion": "2010-04-01",
	}
	in.log.Info("studio: reply", "execution", e.SID, "widget", st.Name, "message", m.SID)
	next, _ := st.Next(studio.EventIncomingMessage)
	return in.follow(ctx, srv, r, st, vars, studio.EventIncomingMessage, next)
}

// timeout ends the wait of token for a reply, unless a reply came first.
func (in *Interpreter) timeout(ctx context.Context, srv *twiliotest.Server, sid string, token uint64) {
	r, err := in.acquire(ctx, sid)
	if r == nil {
		if err != nil {
			in.log.Warn("studio: timeout not run", "execution", sid, "err", err)
		}
		return
	}
	defer func() { <-r.lock }()
	st := in.stopWaiting(r, token)
	if st == nil {
		return
	}
	if x, ok := srv.Execution(sid); !ok || x.Status != "active" {
		in.forget(r) // ended or deleted through the API meanwhile
		return
	}
	in.log.Info("studio: no reply in time", "execution", sid, "widget", st.Name)
	next, _ := st.Next(studio.EventTimeout)
	if err := in.follow(ctx, srv, r, st, widgetVars(r, st.Name), studio.EventTimeout, next); err != nil {
		in.log.Warn("studio: execution ended with an error", "execution", sid, "err", err)
	}
}

// acquire returns the run of execution sid, locked, or nil if the
// interpreter does not hold it (with ctx's error if it ended first).
func (in *Interpreter) acquire(ctx context.Context, sid string) (*interpRun, error) {
	in.mu.Lock()
	r := in.runs[sid]
	in.mu.Unlock()
	if r == nil {
		return nil, nil
	}
	select {
	case r.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.ended {
		<-r.lock
		return nil, nil
	}
	return r, nil
}

// stopWaiting ends r's wait for a reply and returns the widget that
// waited, or nil if r waits for none or (token != 0) for another wait.
// Called with r locked.
func (in *Interpreter) stopWaiting(r *interpRun, token uint64) *studio.State {
	if r.waiting == "" || (token != 0 && token != r.token) {
		return nil
	}
	st := r.def.StateByName(r.waiting)
	r.waiting = ""
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	return st
}

// follow takes the transition from widget from, whose variables are
// vars, on event to widget to, and runs widgets from there until one
// waits for a reply or the flow ends. Called with r locked.
func (in *Interpreter) follow(ctx context.Context, srv *twiliotest.Server, r *interpRun, from *studio.State, vars map[string]any, event, to string) error {
	for {
		if err := in.record(srv, r, from, vars, event, to); err != nil {
			return in.finish(srv, r, err)
		}
		if to == "" {
			return in.finish(srv, r, nil)
		}
		st := r.def.StateByName(to)
		if st == nil {
			return in.finish(srv, r, stateErr(from, "the %s transition goes to %q, which is no widget", event, to))
		}
		if r.steps >= in.maxSteps {
			return in.finish(srv, r, &studio.StateError{State: st.Name, Type: st.Type, Err: ErrTooManySteps})
		}
		if st.Name == r.last {
			r.repeats++
		} else {
			r.last, r.repeats = st.Name, 1
		}
		if r.repeats > in.maxRepeats {
			return in.finish(srv, r, &studio.StateError{State: st.Name, Type: st.Type, Err: ErrWidgetLoop})
		}
		ev, next, stVars, wait, err := in.run(ctx, srv, r, st)
		if errors.Is(err, ErrUnsupportedWidget) {
			// The last step says which widget type the execution stopped
			// at, for the Studio runtime's outcome.
			if rerr := in.record(srv, r, st, map[string]any{"error": err.Error()}, studio.StepUnsupported, ""); rerr != nil {
				err = rerr
			}
		}
		if err == nil {
			err = srv.UpdateExecution(r.sid, func(x *twiliotest.Execution) { x.Context = r.vars })
		}
		if err != nil {
			return in.finish(srv, r, err)
		}
		if wait {
			return nil
		}
		from, vars, event, to = st, stVars, ev, next
	}
}

// record adds the execution step for a transition.
func (in *Interpreter) record(srv *twiliotest.Server, r *interpRun, from *studio.State, vars map[string]any, event, to string) error {
	enters := to
	if enters == "" {
		enters = "Ended"
	}
	in.log.Debug("studio: transition", "execution", r.sid, "from", from.Name, "event", event, "to", enters)
	r.steps++
	_, err := srv.AddExecutionStep(r.sid, twiliotest.ExecutionStep{
		Name: event, TransitionedFrom: from.Name, TransitionedTo: enters, Type: from.Type, Context: vars,
	})
	return err
}

// finish ends the execution, with err (nil when the flow ended), and
// forgets it. An execution deleted meanwhile is only forgotten. It
// returns err. Called with r locked.
func (in *Interpreter) finish(srv *twiliotest.Server, r *interpRun, err error) error {
	in.forget(r)
	if errors.Is(err, twiliotest.ErrNoExecution) {
		in.log.Info("studio: execution gone", "execution", r.sid)
		return nil
	}
	uerr := srv.UpdateExecution(r.sid, func(x *twiliotest.Execution) {
		x.Status, x.Context = "ended", r.vars
		if err != nil {
			x.RunError = err.Error()
		}
	})
	if err == nil && !errors.Is(uerr, twiliotest.ErrNoExecution) {
		err = uerr
	}
	if err != nil {
		in.log.Warn("studio: execution ended with an error", "execution", r.sid, "err", err)
		return err
	}
	in.log.Info("studio: execution ended", "execution", r.sid)
	return nil
}

// forget drops r's state. Called with r locked.
func (in *Interpreter) forget(r *interpRun) {
	r.ended, r.waiting = true, ""
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	in.mu.Lock()
	delete(in.runs, r.sid)
	in.mu.Unlock()
}

// run runs widget st: it returns the event st leaves on, the widget
// that event goes to and st's variables (for the step), or wait true when
// st waits for a reply. Called with r locked.
func (in *Interpreter) run(ctx context.Context, srv *twiliotest.Server, r *interpRun, st *studio.State) (event, next string, vars map[string]any, wait bool, err error) {
	switch st.Type {
	case studio.TypeSendMessage, studio.TypeSendAndWait:
		var p studio.MessageProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", nil, false, err
		}
		msg, sendErr, err := in.send(ctx, srv, r, st, p)
		if err != nil {
			return "", "", nil, false, err
		}
		if st.Type == studio.TypeSendMessage {
			widgets(r)[st.Name] = msg
			event = studio.EventSent
			if sendErr != nil {
				event = studio.EventFailed
			}
			next, _ = st.Next(event)
			return event, next, msg, false, nil
		}
		vars = map[string]any{"outbound": msg}
		widgets(r)[st.Name] = vars
		if sendErr != nil {
			next, _ = st.Next(studio.EventDeliveryFailure)
			return studio.EventDeliveryFailure, next, vars, false, nil
		}
		timeout := time.Duration(p.Timeout) * time.Second
		if timeout <= 0 {
			timeout = studio.DefaultReplyTimeout
		}
		r.token++
		token := r.token
		r.waiting = st.Name
		r.stopTimer = srv.AfterFunc(srv.Clock().Now().Add(timeout), func(ctx context.Context) {
			in.timeout(ctx, srv, r.sid, token)
		})
		in.log.Debug("studio: waiting for a reply", "execution", r.sid, "widget", st.Name, "timeout", timeout)
		return "", "", vars, true, nil

	case studio.TypeSplit:
		var p studio.SplitProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", nil, false, err
		}
		value, err := in.render(r, st, "input", p.Input)
		if err != nil {
			return "", "", nil, false, err
		}
		route := st
		if hasLiquidValue(st) {
			c := *st
			c.Transitions = make([]studio.Transition, len(st.Transitions))
			for i, t := range st.Transitions {
				t.Conditions = append([]studio.Condition(nil), t.Conditions...)
				for j := range t.Conditions {
					if t.Conditions[j].Value, err = in.render(r, st, "condition value", t.Conditions[j].Value); err != nil {
						return "", "", nil, false, err
					}
				}
				c.Transitions[i] = t
			}
			route = &c
		}
		next, event, err := route.Route(value)
		return event, next, map[string]any{}, false, err

	case studio.TypeSetVariables:
		var p studio.SetVariablesProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", nil, false, err
		}
		set := map[string]any{}
		for _, v := range p.Variables {
			val, err := in.render(r, st, "variable "+v.Key, v.Value)
			if err != nil {
				return "", "", nil, false, err
			}
			flowVariables(r)[v.Key] = val
			set[v.Key] = val
		}
		next, _ = st.Next(studio.EventNext)
		return studio.EventNext, next, set, false, nil

	case studio.TypeHTTPRequest:
		var p studio.HTTPRequestProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", nil, false, err
		}
		p, err := p.Render(r.vars)
		if err != nil {
			return "", "", nil, false, stateErr(st, "%v", err)
		}
		return in.called(r, st, in.calls.HTTPRequest(ctx, p))

	case studio.TypeRunFunction:
		var p studio.RunFunctionProperties
		if err := st.DecodeProperties(&p); err != nil {
			return "", "", nil, false, err
		}
		p, err := p.Render(r.vars)
		if err != nil {
			return "", "", nil, false, stateErr(st, "%v", err)
		}
		return in.called(r, st, in.calls.RunFunction(ctx, p))

	case studio.TypeTrigger:
		return "", "", nil, false, stateErr(st, "a transition cannot enter the trigger")
	}
	return "", "", nil, false, &studio.StateError{State: st.Name, Type: st.Type, Err: ErrUnsupportedWidget}
}

// called stores the result of widget st's call in widgets.NAME and
// returns the event it leaves on. Called with r locked.
func (in *Interpreter) called(r *interpRun, st *studio.State, res studio.CallResult) (event, next string, vars map[string]any, wait bool, err error) {
	vars = res.Vars()
	widgets(r)[st.Name] = vars
	next, _ = st.Next(res.Event)
	in.log.Info("studio: call", "execution", r.sid, "widget", st.Name, "type", st.Type,
		"event", res.Event, "status", res.StatusCode)
	return res.Event, next, vars, false, nil
}

// send renders and sends the message of widget st. It returns the
// widget's message variables and the provider's refusal (sendErr), or
// err for what ends the execution (a template that does not render).
func (in *Interpreter) send(ctx context.Context, srv *twiliotest.Server, r *interpRun, st *studio.State, p studio.MessageProperties) (vars map[string]any, sendErr, err error) {
	body, err := in.render(r, st, "body", p.Body)
	if err != nil {
		return nil, nil, err
	}
	to, from := "{{contact.channel.address}}", "{{flow.channel.address}}"
	if strings.TrimSpace(p.To) != "" {
		to = p.To
	}
	if strings.TrimSpace(p.From) != "" {
		from = p.From
	}
	if to, err = in.render(r, st, "to", to); err != nil {
		return nil, nil, err
	}
	if from, err = in.render(r, st, "from", from); err != nil {
		return nil, nil, err
	}
	to, from = strings.TrimSpace(to), strings.TrimSpace(from)

	caller := twiliocall.Caller{
		AccountSID: srv.AccountSID(), AuthToken: srv.AuthToken(),
		Base: srv.HTTPClient().Transport, Timeout: 30 * time.Second,
	}
	var msg *api.ApiV2010Message
	_, sendErr = caller.Do(ctx, func(cl *client.Client) error {
		params := &api.CreateMessageParams{}
		params.SetTo(to).SetBody(body)
		if strings.HasPrefix(from, "MG") {
			params.SetMessagingServiceSid(from)
		} else {
			params.SetFrom(from)
		}
		m, err := api.NewApiServiceWithClient(cl).CreateMessage(params)
		msg = m
		return err
	})
	if sendErr != nil {
		code, reason := 0, "the message could not be sent"
		var te *client.TwilioRestError
		if errors.As(sendErr, &te) {
			code, reason = te.Code, te.Message
		}
		in.log.Info("studio: message refused", "execution", r.sid, "widget", st.Name,
			"to", outreach.MaskPhone(to), "code", code)
		return map[string]any{"Status": "failed", "ErrorCode": code, "ErrorMessage": reason, "To": to, "From": from}, sendErr, nil
	}
	vars = map[string]any{
		"Sid": deref(msg.Sid), "MessageSid": deref(msg.Sid), "Status": deref(msg.Status),
		"Body": deref(msg.Body), "To": deref(msg.To), "From": deref(msg.From), "AccountSid": deref(msg.AccountSid),
	}
	in.log.Info("studio: message sent", "execution", r.sid, "widget", st.Name, "message", deref(msg.Sid),
		"to", outreach.MaskPhone(to))
	return vars, nil, nil
}

// render renders one template of widget st over the execution context.
func (in *Interpreter) render(r *interpRun, st *studio.State, what, tmpl string) (string, error) {
	if !strings.Contains(tmpl, "{{") && !strings.Contains(tmpl, "{%") {
		return tmpl, nil
	}
	out, err := studio.Render(tmpl, r.vars)
	if err != nil {
		return "", stateErr(st, "%s: %v", what, err)
	}
	return out, nil
}

func hasLiquidValue(st *studio.State) bool {
	for _, t := range st.Transitions {
		for _, c := range t.Conditions {
			if strings.Contains(c.Value, "{{") || strings.Contains(c.Value, "{%") {
				return true
			}
		}
	}
	return false
}

// child returns m[key] as a map, making it if needed.
func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

func widgets(r *interpRun) map[string]any { return child(r.vars, "widgets") }

func widgetVars(r *interpRun, name string) map[string]any { return child(widgets(r), name) }

func flowVariables(r *interpRun) map[string]any { return child(child(r.vars, "flow"), "variables") }

func stateErr(s *studio.State, format string, args ...any) error {
	return &studio.StateError{State: s.Name, Type: s.Type, Err: fmt.Errorf(format, args...)}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
