package studiotest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/studiotest"
)

// sendingNumber is the fake's number the flows send from.
const sendingNumber = "+15005550006"

var interpStart = time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC)

// studioEnv is a fake Twilio on a manual clock whose Studio executions an
// Interpreter runs, with a Deployer pointed at it.
type studioEnv struct {
	clock *outreach.ManualClock
	net   *simphone.Network
	srv   *twiliotest.Server
	in    *studiotest.Interpreter
	dep   *studio.Deployer
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newStudioEnv(t *testing.T, opts studiotest.InterpreterOptions) *studioEnv {
	t.Helper()
	e := &studioEnv{clock: outreach.NewManualClock(interpStart), logs: &syncBuffer{}}
	e.net = simphone.New(e.clock, 1)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e.in = studiotest.NewInterpreter(opts)
	e.srv = twiliotest.New(twiliotest.Options{Clock: e.clock, Network: e.net, Numbers: []string{sendingNumber}, Studio: e.in})
	t.Cleanup(e.srv.Close)
	dep, err := studio.NewDeployer(studio.DeployConfig{
		AccountSID: e.srv.AccountSID(), AuthToken: e.srv.AuthToken(), HTTPClient: e.srv.HTTPClient(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.dep = dep
	return e
}

// deployBuiltin deploys a built-in flow and points the sending number at it.
func (e *studioEnv) deployBuiltin(t *testing.T, name string) studio.Deployed {
	t.Helper()
	d, err := e.dep.Deploy(context.Background(), builtin(t, name), studio.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.point(t, d)
	return d
}

// deployDef deploys a definition and points the sending number at it.
func (e *studioEnv) deployDef(t *testing.T, name string, def *studio.Definition) studio.Deployed {
	t.Helper()
	d, err := e.dep.DeployDefinition(context.Background(), def, studio.DeployOptions{FriendlyName: name})
	if err != nil {
		t.Fatal(err)
	}
	e.point(t, d)
	return d
}

func (e *studioEnv) point(t *testing.T, d studio.Deployed) {
	t.Helper()
	if err := e.dep.PointNumber(context.Background(), sendingNumber, d.WebhookURL); err != nil {
		t.Fatal(err)
	}
}

// start creates an execution through the Studio v2 API.
func (e *studioEnv) start(t *testing.T, flowSID, to string, params map[string]any) *studioapi.StudioV2Execution {
	t.Helper()
	p := &studioapi.CreateExecutionParams{}
	p.SetTo(to).SetFrom(sendingNumber)
	if params != nil {
		p.SetParameters(params)
	}
	x, err := e.srv.Client().StudioV2.CreateExecution(flowSID, p)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// drain moves the clock to each due time and steps until nothing is due.
func (e *studioEnv) drain(t *testing.T) {
	t.Helper()
	for at, ok := e.srv.Next(); ok; at, ok = e.srv.Next() {
		e.clock.Set(at)
		if err := e.srv.Step(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
}

// exec returns the execution as the fake holds it.
func (e *studioEnv) exec(t *testing.T, sid string) twiliotest.Execution {
	t.Helper()
	x, ok := e.srv.Execution(sid)
	if !ok {
		t.Fatalf("no execution %s", sid)
	}
	return x
}

// path renders an execution's steps as "from -event-> to" lines.
func (e *studioEnv) path(sid string) []string {
	var out []string
	for _, st := range e.srv.ExecutionSteps(sid) {
		out = append(out, st.TransitionedFrom+" -"+st.Name+"-> "+st.TransitionedTo)
	}
	return out
}

// lookup reads a dotted path ("widgets.ask_pain.inbound.Body") in a
// context.
func lookup(ctx map[string]any, path string) any {
	var v any = ctx
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// inbox returns the bodies a phone received from the sending number.
func (e *studioEnv) inbox(phone string) []string {
	var out []string
	for _, m := range e.net.Phone(phone).Inbox() {
		out = append(out, m.Body)
	}
	return out
}

func hasAll(have []string, want ...string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

const ann = "+14155550100"

// answerAll answers every message holding a question mark with the next
// of replies, in order (simphone's Scripted skips messages it does not
// read as questions, such as "What is your BMI? For example, 24.5").
func answerAll(replies ...string) simphone.Responder {
	var mu sync.Mutex
	return simphone.ResponderFunc(func(body string, _ *rand.Rand) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(body, "?") || len(replies) == 0 {
			return "", false
		}
		r := replies[0]
		replies = replies[1:]
		return r, true
	})
}

func TestInterpreterBuiltinFlows(t *testing.T) {
	for _, tc := range []struct {
		flow    string
		replies []string
		outcome string
		path    []string // in order, not necessarily adjacent
		answers map[string]string
		texts   int // messages the phone receives
	}{
		{flow: "payor", outcome: "completed", texts: 4, path: []string{
			"Trigger -incomingRequest-> welcome", "welcome -sent-> member_card", "goodbye_outcome -next-> Ended"}},
		{flow: "provider", replies: []string{"3", "YES"}, outcome: "followup_scheduled", texts: 5,
			answers: map[string]string{"ask_pain": "3", "ask_followup": "YES"},
			path: []string{
				"Trigger -incomingRequest-> greeting", "greeting -sent-> ask_pain",
				"ask_pain -incomingMessage-> ask_pain_split", "ask_pain_split -match-> pain_ok",
				"ask_followup_split -match-> done_scheduled", "done_scheduled -sent-> done_scheduled_outcome",
				"done_scheduled_outcome -next-> Ended"}},
		// A reply out of range is re-asked; the answer to the re-ask counts.
		{flow: "provider", replies: []string{"11", " 3 ", "yes"}, outcome: "followup_scheduled", texts: 6,
			answers: map[string]string{"ask_pain_reask1": " 3 ", "ask_followup": "yes"},
			path:    []string{"ask_pain_split -noMatch-> ask_pain_reask1", "ask_pain_reask1_split -match-> pain_ok"}},
		{flow: "provider", replies: []string{"8", "Yeah", "no", "Y"}, outcome: "call_requested", texts: 7,
			path: []string{"ask_pain_split -match-> ask_talk", "ask_talk_split -match-> talk_yes",
				"ask_followup_split -match-> ask_call", "ask_call_split -match-> done_call"}},
		// Never a valid answer: re-asked once, then needs_review.
		{flow: "provider", replies: []string{"abc", "??"}, outcome: "needs_review", texts: 4,
			path: []string{"ask_pain_split -noMatch-> ask_pain_reask1", "ask_pain_reask1_split -noMatch-> end_no_answer"}},
		{flow: "pharma", replies: []string{"YES", "30", "24.5", "800", "150", "no"}, outcome: "eligible", texts: 8,
			answers: map[string]string{"ask_age": "30", "ask_bmi": "24.5", "ask_weight": "800", "ask_weight_reask1": "150"},
			path:    []string{"ask_weight_split -noMatch-> ask_weight_reask1", "ask_smoker_split -match-> eligible"}},
		{flow: "pharma", replies: []string{"yes", "60"}, outcome: "not_eligible", texts: 4,
			path: []string{"ask_age_split -match-> not_eligible"}},
	} {
		t.Run(tc.flow+"/"+strings.Join(tc.replies, ","), func(t *testing.T) {
			e := newStudioEnv(t, studiotest.InterpreterOptions{})
			e.net.Add(ann, simphone.Persona{Responder: answerAll(tc.replies...)})
			d := e.deployBuiltin(t, tc.flow)
			x := e.start(t, d.SID, ann, map[string]any{"patient_first_name": "Ann", "patient_id": "p-1"})
			if *x.Status != "active" && len(tc.replies) > 0 {
				t.Fatalf("created %s, want active while it waits", *x.Status)
			}
			e.drain(t)

			got := e.exec(t, *x.Sid)
			if got.Status != "ended" || got.RunError != "" {
				t.Fatalf("execution %s, run error %q", got.Status, got.RunError)
			}
			if o := lookup(got.Context, "flow.variables.outcome"); o != tc.outcome {
				t.Errorf("outcome %v, want %s; path %q", o, tc.outcome, e.path(*x.Sid))
			}
			for w, want := range tc.answers {
				if b := lookup(got.Context, "widgets."+w+".inbound.Body"); b != want {
					t.Errorf("widgets.%s.inbound.Body = %v, want %q", w, b, want)
				}
			}
			if path := e.path(*x.Sid); !hasAll(path, tc.path...) || !strings.HasSuffix(path[len(path)-1], "-> Ended") {
				t.Errorf("path %q\nwant in order %q, then Ended", path, tc.path)
			}
			inbox := e.inbox(ann)
			if len(inbox) != tc.texts || !strings.HasPrefix(inbox[0], "Hi Ann,") {
				t.Errorf("phone received %d texts, want %d: %q", len(inbox), tc.texts, inbox)
			}
			if e.in.Running() != 0 || e.srv.Timers() != 0 {
				t.Errorf("%d executions still held, %d timers pending", e.in.Running(), e.srv.Timers())
			}
			// No PHI in the logs: no bodies, no unmasked phone number.
			logs := e.logs.String()
			if strings.Contains(logs, ann) || strings.Contains(logs, "Ann") || strings.Contains(logs, "scale of") ||
				strings.Contains(logs, "twelve") {
				t.Errorf("logs hold PHI:\n%s", logs)
			}
		})
	}
}

// Steps are served by the REST API with names, widgets, types and the
// widget's variables as context.
func TestInterpreterStepsThroughAPI(t *testing.T) {
	e := newStudioEnv(t, studiotest.InterpreterOptions{})
	e.net.Add(ann, simphone.Persona{Responder: simphone.Scripted("4", "YES")})
	d := e.deployBuiltin(t, "provider")
	x := e.start(t, d.SID, ann, map[string]any{"patient_first_name": "Ann"})
	e.drain(t)
	c := e.srv.Client().StudioV2
	steps, err := c.ListExecutionStep(d.SID, *x.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 8 {
		t.Fatalf("%d steps", len(steps))
	}
	var sawReply bool
	for _, st := range steps {
		if *st.Name == "incomingMessage" && *st.TransitionedFrom == "ask_pain" {
			sawReply = true
			if *st.TransitionedTo != "ask_pain_split" || st.Type == nil || *st.Type != studio.TypeSendAndWait {
				t.Errorf("reply step %+v", st)
			}
			ctx := (*st.Context).(map[string]any)
			if lookup(ctx, "inbound.Body") != "4" || lookup(ctx, "outbound.Body") == nil || lookup(ctx, "inbound.From") != ann {
				t.Errorf("reply step context %v", ctx)
			}
		}
	}
	if !sawReply {
		t.Error("no incomingMessage step")
	}
	first := steps[0] // the API lists steps in order
	if *first.Name != "incomingRequest" || *first.TransitionedFrom != "Trigger" || *first.Type != "trigger" {
		t.Errorf("first step %s %s -> %s (%v)", *first.Name, *first.TransitionedFrom, *first.TransitionedTo, first.Type)
	}
	ctx, err := c.FetchExecutionContext(d.SID, *x.Sid)
	if err != nil {
		t.Fatal(err)
	}
	m := (*ctx.Context).(map[string]any)
	if lookup(m, "widgets.greeting.Status") != "queued" || lookup(m, "widgets.greeting.To") != ann ||
		!strings.HasPrefix(fmt.Sprint(lookup(m, "widgets.greeting.MessageSid")), "SM") {
		t.Errorf("widgets.greeting = %v", lookup(m, "widgets.greeting"))
	}
}

// With no reply, the send-and-wait-for-reply's timeout fires on the fake's
// clock, at its time (6 minutes for provider's ask_pain).
func TestInterpreterTimeout(t *testing.T) {
	e := newStudioEnv(t, studiotest.InterpreterOptions{})
	e.net.Add(ann, simphone.Persona{Silent: true})
	d := e.deployBuiltin(t, "provider")
	x := e.start(t, d.SID, ann, map[string]any{"patient_first_name": "Ann"})
	if e.srv.Timers() != 1 {
		t.Fatalf("%d timers pending, want 1", e.srv.Timers())
	}
	e.drain(t)
	got := e.exec(t, *x.Sid)
	if got.Status != "ended" || lookup(got.Context, "flow.variables.outcome") != "timeout" {
		t.Fatalf("execution %s, outcome %v", got.Status, lookup(got.Context, "flow.variables.outcome"))
	}
	var at time.Time
	for _, st := range e.srv.ExecutionSteps(*x.Sid) {
		if st.Name == "timeout" {
			if st.TransitionedFrom != "ask_pain" || st.TransitionedTo != "end_timeout" {
				t.Errorf("timeout step %+v", st)
			}
			at = st.DateCreated
		}
	}
	if want := interpStart.Add(6 * time.Minute); !at.Equal(want) {
		t.Errorf("timeout at %v, want %v", at, want)
	}
	if inbox := e.inbox(ann); len(inbox) != 3 || !strings.HasPrefix(inbox[2], "We didn't hear back") {
		t.Errorf("inbox %q", inbox)
	}
}

// A reply and a timeout due at the same instant: only one wins (the
// reply: the fake delivers texts before timers of the same instant), and
// a reply when the execution waits for none is ignored.
func TestInterpreterReplyRacesTimeout(t *testing.T) {
	e := newStudioEnv(t, studiotest.InterpreterOptions{})
	e.net.Add(ann, simphone.Persona{Responder: simphone.Scripted("yes"), Delay: 60 * time.Second})
	def := askDef(60)
	d := e.deployDef(t, "race", def)
	x := e.start(t, d.SID, ann, nil)
	e.drain(t)
	got := e.exec(t, *x.Sid)
	if o := lookup(got.Context, "flow.variables.outcome"); o != "replied" {
		t.Fatalf("outcome %v, path %q", o, e.path(*x.Sid))
	}
	n := 0
	for _, st := range e.srv.ExecutionSteps(*x.Sid) {
		if st.Name == "timeout" || st.Name == "incomingMessage" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d reply or timeout steps, want 1: %q", n, e.path(*x.Sid))
	}
	before := len(e.srv.ExecutionSteps(*x.Sid))
	err := e.in.ExecutionReply(context.Background(), e.srv, got, twiliotest.Message{SID: "SMx", Body: "late", From: ann, To: sendingNumber})
	if err != nil || len(e.srv.ExecutionSteps(*x.Sid)) != before {
		t.Fatalf("a reply to an ended execution: %v", err)
	}

	// One minute late: the timeout wins, the reply is only recorded.
	e.net.Add("+14155550102", simphone.Persona{Responder: simphone.Scripted("yes"), Delay: 61 * time.Second})
	x = e.start(t, d.SID, "+14155550102", nil)
	e.drain(t)
	if o := lookup(e.exec(t, *x.Sid).Context, "flow.variables.outcome"); o != "timed_out" {
		t.Fatalf("outcome %v", o)
	}

	// Ended through the API while it waits: forgotten when the timeout
	// falls due, with no step.
	e.net.Add("+14155550105", simphone.Persona{Silent: true})
	x = e.start(t, d.SID, "+14155550105", nil)
	if _, err := e.srv.Client().StudioV2.UpdateExecution(d.SID, *x.Sid, (&studioapi.UpdateExecutionParams{}).SetStatus("ended")); err != nil {
		t.Fatal(err)
	}
	steps := len(e.srv.ExecutionSteps(*x.Sid))
	e.drain(t)
	if e.in.Running() != 0 || len(e.srv.ExecutionSteps(*x.Sid)) != steps {
		t.Fatalf("%d executions held, steps %q", e.in.Running(), e.path(*x.Sid))
	}
}

// askDef is a flow that asks a question (timeout seconds) and records
// whether it was answered, or could not be sent.
func askDef(timeout int) *studio.Definition {
	return defOf(
		trigger("ask"),
		widget("ask", studio.TypeSendAndWait, map[string]any{"body": "Ready? Reply YES or NO", "timeout": fmt.Sprint(timeout)},
			tr("incomingMessage", "replied"), tr("timeout", "timed_out"), tr("deliveryFailure", "undeliverable")),
		outcome("replied"), outcome("timed_out"), outcome("undeliverable"),
	)
}

func defOf(states ...studio.State) *studio.Definition {
	return &studio.Definition{Description: "test", InitialState: "Trigger", States: states}
}

func trigger(next string) studio.State {
	return widget("Trigger", studio.TypeTrigger, map[string]any{},
		tr("incomingMessage", ""), tr("incomingCall", ""), tr("incomingRequest", next))
}

func widget(name, typ string, props map[string]any, trs ...studio.Transition) studio.State {
	return studio.State{Name: name, Type: typ, Properties: mustMarshal(props), Transitions: append([]studio.Transition{}, trs...)}
}

func tr(event, next string, conds ...studio.Condition) studio.Transition {
	return studio.Transition{Event: event, Next: next, Conditions: conds}
}

// outcome is a set-variables widget that sets outcome to its name and
// ends the flow.
func outcome(name string) studio.State {
	return widget(name, studio.TypeSetVariables, map[string]any{
		"variables": []any{map[string]any{"key": "outcome", "value": name}},
	}, tr("next", ""))
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Refusals: an opted-out phone makes a send-message fail (21610), an
// unreachable one a send-and-wait-for-reply's deliveryFailure (21612).
func TestInterpreterDeliveryFailures(t *testing.T) {
	e := newStudioEnv(t, studiotest.InterpreterOptions{})
	const stopped, gone = "+14155550103", "+14155550104"
	e.net.Add(stopped, simphone.Persona{})
	e.net.Add(gone, simphone.Persona{Unreachable: true})
	e.net.Phone(stopped).Text(sendingNumber, "STOP")
	e.drain(t)

	d := e.deployBuiltin(t, "provider")
	x := e.start(t, d.SID, stopped, map[string]any{"patient_first_name": "Bo"})
	got := e.exec(t, *x.Sid)
	if *x.Status != "ended" || got.RunError != "" {
		t.Fatalf("created %s, run error %q", *x.Status, got.RunError)
	}
	if path := e.path(*x.Sid); len(path) != 2 || path[1] != "greeting -failed-> Ended" {
		t.Fatalf("path %q", path)
	}
	if c := lookup(got.Context, "widgets.greeting.ErrorCode"); c != float64(21610) {
		t.Fatalf("widgets.greeting = %v", lookup(got.Context, "widgets.greeting"))
	}

	d = e.deployDef(t, "ask", askDef(0))
	x = e.start(t, d.SID, gone, nil)
	got = e.exec(t, *x.Sid)
	if got.Status != "ended" || lookup(got.Context, "flow.variables.outcome") != "undeliverable" ||
		lookup(got.Context, "widgets.ask.outbound.ErrorCode") != float64(21612) {
		t.Fatalf("execution %s, context %v", got.Status, got.Context)
	}
	if !hasAll(e.path(*x.Sid), "ask -deliveryFailure-> undeliverable") {
		t.Fatalf("path %q", e.path(*x.Sid))
	}
	// The only message the opted-out phone has is Twilio's confirmation.
	if in := e.net.Phone(stopped).Inbox(); len(in) != 1 || in[0].Body != twiliotest.OptOutConfirmation || e.srv.Timers() != 0 {
		t.Fatal("a refused message was delivered, or a timer left")
	}
}

// The default timeout is Studio's 3600 seconds.
func TestInterpreterDefaultTimeout(t *testing.T) {
	e := newStudioEnv(t, studiotest.InterpreterOptions{})
	e.net.Add(ann, simphone.Persona{Silent: true})
	d := e.deployDef(t, "ask", askDef(0))
	x := e.start(t, d.SID, ann, nil)
	at, ok := e.srv.Next()
	for ok && at.Before(interpStart.Add(time.Hour)) {
		e.clock.Set(at)
		if err := e.srv.Step(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		at, ok = e.srv.Next()
	}
	if !ok || !at.Equal(interpStart.Add(studio.DefaultReplyTimeout)) || e.exec(t, *x.Sid).Status != "active" {
		t.Fatalf("next due %v, %v; want the timeout at one hour", at, ok)
	}
	e.drain(t)
	if o := lookup(e.exec(t, *x.Sid).Context, "flow.variables.outcome"); o != "timed_out" {
		t.Fatalf("outcome %v", o)
	}
}

// Widget types the interpreter does not run end the execution visibly:
// its RunError and its last step name the widget and its type.
func TestInterpreterUnsupportedWidget(t *testing.T) {
	for _, typ := range []string{"send-to-flex", "say-play", "gather-input-on-call", "make-outgoing-call-v2", "connect-call-to", "run-subflow", "send-to-auto-pilot"} {
		t.Run(typ, func(t *testing.T) {
			e := newStudioEnv(t, studiotest.InterpreterOptions{})
			e.net.Add(ann, simphone.Persona{})
			def := defOf(
				trigger("hello"),
				widget("hello", studio.TypeSendMessage, map[string]any{"body": "Hello"}, tr("sent", "handoff"), tr("failed", "")),
				widget("handoff", typ, map[string]any{"workflow": "WW00000000000000000000000000000000"}, tr("callComplete", ""), tr("failedToEnqueue", "")),
			)
			d := e.deployDef(t, "unsupported "+typ, def)
			x := e.start(t, d.SID, ann, nil)
			got := e.exec(t, *x.Sid)
			if *x.Status != "ended" || got.Status != "ended" || !strings.Contains(got.RunError, `"handoff"`) || !strings.Contains(got.RunError, typ) {
				t.Fatalf("created %s, now %s, run error %q", *x.Status, got.Status, got.RunError)
			}
			steps := e.srv.ExecutionSteps(*x.Sid)
			last := steps[len(steps)-1]
			if last.Name != studio.StepUnsupported || last.TransitionedFrom != "handoff" || last.TransitionedTo != "Ended" || last.Type != typ {
				t.Fatalf("last step %+v; path %q", last, e.path(*x.Sid))
			}
			if len(e.inbox(ann)) != 1 || e.in.Running() != 0 {
				t.Fatal("the message before the widget was not sent, or the execution is still held")
			}

			// StartExecution returns the *StateError itself.
			e.srv.SetExecutionRunner(nil)
			x = e.start(t, d.SID, ann, nil)
			err := e.in.StartExecution(context.Background(), e.srv, e.exec(t, *x.Sid))
			var se *studio.StateError
			if !errors.As(err, &se) || se.State != "handoff" || se.Type != typ || !errors.Is(err, studiotest.ErrUnsupportedWidget) {
				t.Fatalf("StartExecution: %v", err)
			}
		})
	}
}

// A widget that runs again and again ends the execution at its 11th run
// in a row (Studio's warning 81001), even when each run waits for a reply
// in between; steps are capped at 1,000 (warning 81000).
func TestInterpreterLimits(t *testing.T) {
	t.Run("same widget in a row", func(t *testing.T) {
		e := newStudioEnv(t, studiotest.InterpreterOptions{})
		def := defOf(
			trigger("spin"),
			widget("spin", studio.TypeSetVariables, map[string]any{
				"variables": []any{map[string]any{"key": "n", "value": "{{flow.variables.n | plus: 1}}"}},
			}, tr("next", "spin")),
		)
		d := e.deployDef(t, "loop", def)
		x := e.start(t, d.SID, ann, nil)
		got := e.exec(t, *x.Sid)
		if got.Status != "ended" || !strings.Contains(got.RunError, "81001") || !strings.Contains(got.RunError, `"spin"`) {
			t.Fatalf("execution %s, run error %q", got.Status, got.RunError)
		}
		if n := lookup(got.Context, "flow.variables.n"); n != "10" {
			t.Errorf("flow.variables.n = %v, want 10 runs", n)
		}
		err := e.in.StartExecution(context.Background(), e.srv, e.exec(t, *e.start(t, d.SID, ann, nil).Sid))
		if !errors.Is(err, studiotest.ErrWidgetLoop) {
			t.Errorf("StartExecution: %v", err)
		}
	})
	t.Run("a reminder that waits each time", func(t *testing.T) {
		e := newStudioEnv(t, studiotest.InterpreterOptions{})
		e.net.Add(ann, simphone.Persona{Silent: true})
		def := defOf(
			trigger("remind"),
			widget("remind", studio.TypeSendAndWait, map[string]any{"body": "Are you there?", "timeout": "60"},
				tr("incomingMessage", ""), tr("timeout", "remind"), tr("deliveryFailure", "")),
		)
		d := e.deployDef(t, "remind", def)
		x := e.start(t, d.SID, ann, nil)
		e.drain(t)
		got := e.exec(t, *x.Sid)
		if got.Status != "ended" || !strings.Contains(got.RunError, "81001") || len(e.inbox(ann)) != 10 {
			t.Fatalf("execution %s, run error %q, %d messages; want 10 then the end", got.Status, got.RunError, len(e.inbox(ann)))
		}
	})
	t.Run("steps", func(t *testing.T) {
		for _, tc := range []struct {
			opts  studiotest.InterpreterOptions
			steps int
		}{{studiotest.InterpreterOptions{}, studiotest.DefaultMaxSteps}, {studiotest.InterpreterOptions{MaxSteps: 25}, 25}} {
			e := newStudioEnv(t, tc.opts)
			def := defOf(
				trigger("tick"),
				widget("tick", studio.TypeSetVariables, map[string]any{
					"variables": []any{map[string]any{"key": "n", "value": "{{flow.variables.n | plus: 1}}"}},
				}, tr("next", "tock")),
				widget("tock", studio.TypeSetVariables, map[string]any{}, tr("next", "tick")),
			)
			d := e.deployDef(t, "ticktock", def)
			x := e.start(t, d.SID, ann, nil)
			got := e.exec(t, *x.Sid)
			if got.Status != "ended" || !strings.Contains(got.RunError, "81000") {
				t.Fatalf("execution %s, run error %q", got.Status, got.RunError)
			}
			if n := len(e.srv.ExecutionSteps(*x.Sid)); n != tc.steps {
				t.Errorf("%d steps, want %d", n, tc.steps)
			}
		}
	})
}

// make-http-request and run-function run with the interpreter's Calls:
// Liquid over the execution context first, the answer in widgets.NAME
// (and the step), success or failed/fail.
func TestInterpreterCalls(t *testing.T) {
	var (
		mu    sync.Mutex
		posts []string
	)
	ehr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		mu.Unlock()
		if r.URL.Path == "/down" {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"date":"Dec 7","patient":%q}`, r.URL.Query().Get("patient"))
	}))
	t.Cleanup(ehr.Close)
	var fnParams map[string]string
	calls := &studio.Calls{
		AllowHosts: []string{ehr.Listener.Addr().String()},
		Functions: map[string]studio.Function{
			"save-answer": func(_ context.Context, params map[string]string) (studio.FunctionResult, error) {
				fnParams = params
				return studio.JSONResult(map[string]any{"saved": "yes"})
			},
		},
	}
	flow := func(url, fnURL string) *studio.Definition {
		return defOf(
			trigger("get-appt"),
			widget("get-appt", studio.TypeHTTPRequest, map[string]any{
				"method": "POST", "content_type": "application/json;charset=utf-8",
				"url":  url + "?patient={{flow.data.patient_id}}",
				"body": `{"patient_id":"{{flow.data.patient_id}}"}`,
			}, tr("success", "save"), tr("failed", "http_failed")),
			widget("save", studio.TypeRunFunction, map[string]any{
				"url": fnURL, "function_sid": "YOUR_FUNCTION_SID", "service_sid": "YOUR_SERVICE_SID", "environment_sid": "YOUR_ENVIRONMENT_SID",
				"parameters": []any{
					map[string]any{"key": "date", "value": "{{widgets.get-appt.parsed.date}}"},
					map[string]any{"key": "to", "value": "{{contact.channel.address}}"},
				},
			}, tr("success", "check"), tr("fail", "fn_failed")),
			widget("check", studio.TypeSplit, map[string]any{"input": "{{widgets.save.parsed.saved}}"},
				tr("noMatch", "fn_failed"), tr("match", "tell", studio.Condition{FriendlyName: "yes", Type: "equal_to", Value: "yes", Arguments: []string{"{{widgets.save.parsed.saved}}"}})),
			widget("tell", studio.TypeSendMessage, map[string]any{"body": "Your appointment: {{widgets.get-appt.parsed.date}}"}, tr("sent", "done"), tr("failed", "")),
			outcome("done"), outcome("http_failed"), outcome("fn_failed"),
		)
	}
	for _, tc := range []struct {
		name, url, fnURL string
		outcome          string
		path             []string
		errHas           string // in the failed widget's error variable
	}{
		{"both succeed", "/appt", "https://outreach-1234.twil.io/save-answer", "done",
			[]string{"Trigger -incomingRequest-> get-appt", "get-appt -success-> save", "save -success-> check", "check -match-> tell", "tell -sent-> done", "done -next-> Ended"}, ""},
		{"http status 503", "/down", "https://outreach-1234.twil.io/save-answer", "http_failed",
			[]string{"Trigger -incomingRequest-> get-appt", "get-appt -failed-> http_failed", "http_failed -next-> Ended"}, "status 503"},
		{"host not allowed", "https://ehr.example.com/appt", "", "http_failed",
			[]string{"Trigger -incomingRequest-> get-appt", "get-appt -failed-> http_failed", "http_failed -next-> Ended"}, "ehr.example.com is not on the allowlist"},
		{"function not registered", "/appt", "https://outreach-1234.twil.io/other", "fn_failed",
			[]string{"Trigger -incomingRequest-> get-appt", "get-appt -success-> save", "save -fail-> fn_failed", "fn_failed -next-> Ended"}, "no function registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStudioEnv(t, studiotest.InterpreterOptions{Calls: calls})
			e.net.Add(ann, simphone.Persona{})
			url := tc.url
			if strings.HasPrefix(url, "/") {
				url = ehr.URL + url
			}
			d := e.deployDef(t, tc.name, flow(url, tc.fnURL))
			x := e.start(t, d.SID, ann, map[string]any{"patient_id": "P-7"})
			e.drain(t)
			got := e.exec(t, *x.Sid)
			if o := lookup(got.Context, "flow.variables.outcome"); o != tc.outcome || got.RunError != "" || got.Status != "ended" {
				t.Fatalf("outcome %v, run error %q, status %s; path %q", o, got.RunError, got.Status, e.path(*x.Sid))
			}
			if p := e.path(*x.Sid); strings.Join(p, "\n") != strings.Join(tc.path, "\n") {
				t.Errorf("path %q\nwant %q", p, tc.path)
			}
			if tc.errHas != "" {
				w := "widgets.get-appt.error"
				if tc.outcome == "fn_failed" {
					w = "widgets.save.error"
				}
				if msg, _ := lookup(got.Context, w).(string); !strings.Contains(msg, tc.errHas) {
					t.Errorf("%s = %q, want it to hold %q", w, msg, tc.errHas)
				}
			}
			if tc.outcome != "done" {
				return
			}
			if lookup(got.Context, "widgets.get-appt.status_code") != float64(200) || lookup(got.Context, "widgets.get-appt.parsed.patient") != "P-7" {
				t.Errorf("widgets.get-appt = %v", lookup(got.Context, "widgets.get-appt"))
			}
			if want := map[string]string{"date": "Dec 7", "to": ann}; fmt.Sprint(fnParams) != fmt.Sprint(want) {
				t.Errorf("the function got %v, want %v", fnParams, want)
			}
			if in := e.inbox(ann); len(in) != 1 || in[0] != "Your appointment: Dec 7" {
				t.Errorf("inbox %q", in)
			}
			var stepCtx map[string]any
			for _, st := range e.srv.ExecutionSteps(*x.Sid) {
				if st.TransitionedFrom == "get-appt" {
					stepCtx = st.Context
					if st.Type != studio.TypeHTTPRequest {
						t.Errorf("step type %q", st.Type)
					}
				}
			}
			if lookup(stepCtx, "parsed.date") != "Dec 7" {
				t.Errorf("the step's context %v", stepCtx)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := "POST /appt?patient=P-7 {\"patient_id\":\"P-7\"}"; posts[len(posts)-1] != want {
				t.Errorf("the EHR got %q, want %q", posts[len(posts)-1], want)
			}
			if strings.Contains(e.logs.String(), "P-7") || strings.Contains(e.logs.String(), "Dec 7") {
				t.Errorf("the log shows request or response data:\n%s", e.logs.String())
			}
		})
	}
}

// Split conditions through the interpreter, with Liquid filters in the
// input and in condition values.
func TestInterpreterSplit(t *testing.T) {
	e := newStudioEnv(t, studiotest.InterpreterOptions{})
	cond := func(typ, value string) studio.Condition {
		return studio.Condition{FriendlyName: typ, Type: typ, Value: value, Arguments: []string{"{{flow.data.answer}}"}}
	}
	for i, tc := range []struct {
		input  string
		conds  []studio.Condition
		answer string
		want   string
	}{
		{"{{flow.data.answer | strip | downcase}}", []studio.Condition{cond("equal_to", "yes")}, "  YES ", "hit"},
		{"{{flow.data.answer | upcase}}", []studio.Condition{cond("matches_any_of", "Y,YES, YEAH")}, "yeah", "hit"},
		{"{{flow.data.answer}}", []studio.Condition{cond("equal_to", "{{flow.data.expected | downcase}}")}, "ok", "hit"},
		{"{{flow.data.answer | plus: 1}}", []studio.Condition{cond("is_greater_than", "10")}, "10", "hit"},
		{"{{flow.data.answer | plus: 0}}", []studio.Condition{cond("is_greater_than", "10")}, "10", "miss"},
		{"{{flow.data.answer | default: 'none'}}", []studio.Condition{cond("equal_to", "none")}, "", "hit"},
		{"{{flow.data.answer}}", []studio.Condition{cond("regex", `^\d+$`), cond("is_between", "1-5")}, "7", "miss"},
		{"{{flow.data.answer}}", []studio.Condition{cond("regex", `^\d+$`), cond("is_between", "1-5")}, "5", "hit"},
		{"{{flow.data.answer | truncate: 3, ''}}", []studio.Condition{cond("starts_with", "abc")}, "abcdef", "hit"},
	} {
		def := defOf(
			trigger("split"),
			widget("split", studio.TypeSplit, map[string]any{"input": tc.input},
				tr("noMatch", "miss"), tr("match", "hit", tc.conds...)),
			outcome("hit"), outcome("miss"),
		)
		d := e.deployDef(t, fmt.Sprintf("split %d", i), def)
		x := e.start(t, d.SID, ann, map[string]any{"answer": tc.answer, "expected": "OK"})
		got := e.exec(t, *x.Sid)
		if o := lookup(got.Context, "flow.variables.outcome"); o != tc.want || got.RunError != "" {
			t.Errorf("%d: %s on %q: outcome %v (run error %q), want %s", i, tc.input, tc.answer, o, got.RunError, tc.want)
		}
	}
	// A bad condition ends the execution with an error naming the widget.
	def := defOf(trigger("split"),
		widget("split", studio.TypeSplit, map[string]any{"input": "5"}, tr("match", "", cond("is_between", "five to ten"))))
	d := e.deployDef(t, "bad split", def)
	x := e.start(t, d.SID, ann, nil)
	if got := e.exec(t, *x.Sid); !strings.Contains(got.RunError, `"split"`) || !strings.Contains(got.RunError, "bad condition") {
		t.Fatalf("run error %q", got.RunError)
	}
}

// Many executions run at once, replies and timeouts interleaved.
func TestInterpreterConcurrentExecutions(t *testing.T) {
	e := newStudioEnv(t, studiotest.InterpreterOptions{})
	d := e.deployBuiltin(t, "provider")
	const n = 24
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1415555%04d", 2000+i)
		p := simphone.Persona{Responder: simphone.Scripted("2", "NO", "N")}
		if i%4 == 3 {
			p = simphone.Persona{Silent: true}
		}
		e.net.Add(phones[i], p)
	}
	sids := make([]string, n)
	var wg sync.WaitGroup
	for i, ph := range phones {
		wg.Go(func() {
			sids[i] = *e.start(t, d.SID, ph, map[string]any{"patient_first_name": "P"}).Sid
		})
	}
	wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for e.in.Running() > 0 && time.Now().Before(deadline) {
		if at, ok := e.srv.Next(); ok {
			e.clock.Set(at)
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	<-done
	for i, sid := range sids {
		got := e.exec(t, sid)
		want := "no_call_wanted"
		if i%4 == 3 {
			want = "timeout"
		}
		if o := lookup(got.Context, "flow.variables.outcome"); got.Status != "ended" || o != want {
			t.Errorf("%d: %s, outcome %v, want %s; path %q", i, got.Status, o, want, e.path(sid))
		}
	}
}

func ExampleInterpreter() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC))
	net := simphone.New(clock, 1)
	net.Add("+14155550100", simphone.Persona{Responder: simphone.Scripted("2", "YES")})
	in := studiotest.NewInterpreter(studiotest.InterpreterOptions{})
	srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{"+15005550006"}, Studio: in})
	defer srv.Close()

	dep, err := studio.NewDeployer(studio.DeployConfig{AccountSID: srv.AccountSID(), AuthToken: srv.AuthToken(), HTTPClient: srv.HTTPClient()})
	if err != nil {
		panic(err)
	}
	flow, err := flows.Builtin("provider")
	if err != nil {
		panic(err)
	}
	deployed, err := dep.Deploy(ctx, flow, studio.DeployOptions{})
	if err != nil {
		panic(err)
	}
	// Replies reach the flow only through its webhook.
	if err := dep.PointNumber(ctx, "+15005550006", deployed.WebhookURL); err != nil {
		panic(err)
	}
	p := &studioapi.CreateExecutionParams{}
	p.SetTo("+14155550100").SetFrom("+15005550006").SetParameters(map[string]any{"patient_first_name": "Ana"})
	x, err := srv.Client().StudioV2.CreateExecution(deployed.SID, p)
	if err != nil {
		panic(err)
	}
	for at, ok := srv.Next(); ok; at, ok = srv.Next() {
		clock.Set(at)
		if err := srv.Step(ctx, at); err != nil {
			panic(err)
		}
	}
	for _, m := range net.Phone("+14155550100").Inbox() {
		fmt.Println(">", m.Body)
	}
	got, _ := srv.Execution(*x.Sid)
	fmt.Println(got.Status, got.Context["flow"].(map[string]any)["variables"])
	// Output:
	// > Hi Ana, this is your care team checking in after your procedure. Reply STOP at any time to opt out.
	// > On a scale of 0-10, how is your pain today?
	// > We're glad to hear that.
	// > Have you scheduled your follow-up with the specialist? Reply YES or NO
	// > Great, thank you! We look forward to seeing you at your follow-up. Take care.
	// ended map[outcome:followup_scheduled]
}

func builtin(t *testing.T, name string) *outreach.Flow {
	t.Helper()
	f, err := flows.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A real export (Twilio's PCP follow-up template, studio/testdata/exports)
// whose every reply goes through a run-function widget, and whose splits
// read the function's body, runs with a Go port of that function.
func TestInterpreterRealExportWithFunctions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "exports", "pcp-followup.json"))
	if err != nil {
		t.Fatal(err)
	}
	def, err := studio.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		saved []string
	)
	calls := &studio.Calls{Functions: map[string]studio.Function{
		// The template's save-response function, ported: it records the
		// answer and gives it back normalised for the split.
		"save-response": func(_ context.Context, p map[string]string) (studio.FunctionResult, error) {
			answer := strings.ToUpper(strings.TrimSpace(p["response"]))
			mu.Lock()
			saved = append(saved, p["question_id"]+"="+answer)
			mu.Unlock()
			return studio.FunctionResult{Body: []byte(answer)}, nil
		},
	}}
	e := newStudioEnv(t, studiotest.InterpreterOptions{Calls: calls})
	e.net.Add(ann, simphone.Persona{Responder: answerAll("no", " yes", "No")})
	d := e.deployDef(t, "pcp", def)
	x := e.start(t, d.SID, ann, map[string]any{"patient_first_name": "Ann"})
	e.drain(t)
	got := e.exec(t, *x.Sid)
	if got.Status != "ended" || got.RunError != "" {
		t.Fatalf("execution %s, run error %q; path %q", got.Status, got.RunError, e.path(*x.Sid))
	}
	if want := []string{"Outreach=NO", "PCPAppt=YES", "RequestPN=NO"}; fmt.Sprint(saved) != fmt.Sprint(want) {
		t.Errorf("saved %v, want %v", saved, want)
	}
	in := e.inbox(ann)
	if len(in) != 4 || !strings.Contains(in[2], "Is "+ann+" the best number") || !strings.HasPrefix(in[3], "Please text the 10-digit phone number") {
		t.Errorf("inbox %q", in)
	}
}
