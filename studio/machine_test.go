package studio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

// machineConv is the conversation of the machine's table tests.
var machineConv = outreach.Conversation{
	ID: 7, CampaignID: 1, From: "+15005550006",
	Recipient: outreach.Recipient{ID: "p1", FirstName: "Ana", Phone: "+12125550001", Attrs: map[string]string{"clinic": "north"}},
}

// sourceFlow returns a flow whose Source is the definition with the
// given widgets after a trigger that starts on incomingRequest at the
// first of them.
func sourceFlow(t testing.TB, widgets string) *outreach.Flow {
	t.Helper()
	var states []json.RawMessage
	if err := json.Unmarshal([]byte("["+widgets+"]"), &states); err != nil {
		t.Fatalf("widgets: %v", err)
	}
	var first struct{ Name string }
	_ = json.Unmarshal(states[0], &first)
	trig := fmt.Sprintf(`{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage"},{"event":"incomingRequest","next":%q}],"properties":{}}`, first.Name)
	def := `{"description":"test","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},"states":[` + trig + "," + widgets + "]}"
	d, err := studio.Decode([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := studio.Import(d)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	f.ID = "t"
	f.Source = &outreach.Source{Format: studio.SourceFormat, Data: json.RawMessage(def)}
	return f
}

// step is one event given to the machine and the actions wanted, each
// written as describe writes it.
type machineStep struct {
	ev   outreach.Event
	want []string
}

func describe(acts []outreach.Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case outreach.Send:
			out = append(out, fmt.Sprintf("send %s/%d %s", a.Key.Step, a.Key.Attempt, a.Body))
		case outreach.ScheduleTimeout:
			out = append(out, fmt.Sprintf("wait %s/%d %v", a.Key.Step, a.Key.Attempt, a.After))
		case outreach.RecordAnswer:
			out = append(out, fmt.Sprintf("answer %s %q %q %s", a.Step, a.Raw, a.Answer, a.Doubt))
		case outreach.Finish:
			out = append(out, "finish "+a.Outcome)
		default:
			out = append(out, fmt.Sprintf("%T", a))
		}
	}
	return out
}

var (
	start = outreach.Event{Type: outreach.EventStart}
	// timedOut and failed apply to the question awaited (their key is
	// filled in by runMachine).
	timedOut = outreach.Event{Type: outreach.EventTimedOut}
	failed   = outreach.Event{Type: outreach.EventDeliveryFailure}
)

func reply(body string) outreach.Event {
	return outreach.Event{Type: outreach.EventReplied, Body: body, At: rtNoon}
}

// runMachine applies the steps in turn, the state stored as JSON between
// them as the stores keep it, and returns the last state.
func runMachine(t *testing.T, m *studio.Machine, f *outreach.Flow, steps []machineStep) outreach.State {
	t.Helper()
	conv := machineConv
	for i, s := range steps {
		ev := s.ev
		if (ev.Type == outreach.EventTimedOut || ev.Type == outreach.EventDeliveryFailure) && ev.Key.IsZero() {
			ev.Key = conv.State.Wait
		}
		st, acts, err := m.Advance(context.Background(), f, conv, ev)
		if err != nil {
			t.Logf("event %d (%s): %v", i, ev.Type, err)
		}
		if got := describe(acts); strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Fatalf("event %d (%s):\n got %q\nwant %q", i, ev.Type, got, s.want)
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		conv.State = outreach.State{}
		if err := json.Unmarshal(b, &conv.State); err != nil {
			t.Fatal(err)
		}
	}
	return conv.State
}

const (
	hello = `{"name":"hello","type":"send-message","transitions":[{"event":"sent","next":"ask"},{"event":"failed"}],
		"properties":{"from":"{{flow.channel.address}}","to":"{{contact.channel.address}}","body":"Hi {{flow.data.patient_first_name | upcase}} of {{flow.data.clinic}}"}}`
	ask = `{"name":"ask","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"split"},{"event":"timeout","next":"late"},{"event":"deliveryFailure","next":"undelivered"}],
		"properties":{"from":"{{flow.channel.address}}","body":"Feeling better? YES or NO","timeout":"600"}}`
	split = `{"name":"split","type":"split-based-on","transitions":[{"event":"noMatch"},{"event":"match","next":"yes","conditions":[{"friendly_name":"yes","arguments":["{{widgets.ask.inbound.Body}}"],"type":"matches_any_of","value":"yes, y"}]},{"event":"match","next":"no","conditions":[{"friendly_name":"no","arguments":["{{widgets.ask.inbound.Body}}"],"type":"equal_to","value":"no"}]}],
		"properties":{"input":"{{widgets.ask.inbound.Body}}"}}`
	yes         = `{"name":"yes","type":"set-variables","transitions":[{"event":"next","next":"bye"}],"properties":{"variables":[{"key":"outcome","value":"better"}]}}`
	no          = `{"name":"no","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"Sorry, {{widgets.ask.inbound.Body}} noted."}}`
	bye         = `{"name":"bye","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"Bye ({{flow.variables.outcome}})"}}`
	late        = `{"name":"late","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"We did not hear back."}}`
	undelivered = `{"name":"undelivered","type":"set-variables","transitions":[{"event":"next"}],"properties":{"variables":[{"key":"outcome","value":"unreachable"}]}}`
)

var checkIn = strings.Join([]string{hello, ask, split, yes, no, bye, late, undelivered}, ",")

// TestMachineWidgets runs each widget type and each event on hand-written
// definitions.
func TestMachineWidgets(t *testing.T) {
	t.Parallel()
	started := []string{"send hello/1 Hi ANA of north", "send ask/1 Feeling better? YES or NO", "wait ask/1 10m0s"}
	cases := []struct {
		name    string
		widgets string
		steps   []machineStep
		outcome string
	}{
		{"match and set-variables outcome", checkIn, []machineStep{
			{start, started},
			{reply(" Y "), []string{`answer ask " Y " " Y " `, "send bye/1 Bye (better)", "finish better"}},
		}, "better"},
		{"second match, reply as received in a body", checkIn, []machineStep{
			{start, started},
			{reply("NO"), []string{`answer ask "NO" "NO" `, "send no/1 Sorry, NO noted.", "finish completed"}},
		}, "completed"},
		{"noMatch with no transition ends needs_review", checkIn, []machineStep{
			{start, started},
			{reply("maybe"), []string{`answer ask "maybe" "maybe" `, "finish needs_review"}},
		}, "needs_review"},
		{"timeout transition", checkIn, []machineStep{
			{start, started},
			{timedOut, []string{"send late/1 We did not hear back.", "finish completed"}},
		}, "completed"},
		{"delivery failure transition", checkIn, []machineStep{
			{start, started},
			{failed, []string{"finish unreachable"}},
		}, "unreachable"},
		{"stale events change nothing", checkIn, []machineStep{
			{start, started},
			{outreach.Event{Type: outreach.EventTimedOut, Key: outreach.SendKey{Conversation: 7, Step: "ask", Attempt: 9}}, nil},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 7, Step: "hello", Attempt: 1}}, nil},
			{start, nil},
			{reply("no"), []string{`answer ask "no" "no" `, "send no/1 Sorry, no noted.", "finish completed"}},
			{reply("late"), nil},
		}, "completed"},
		{"opted out", checkIn, []machineStep{
			{start, started},
			{outreach.Event{Type: outreach.EventOptedOut}, []string{"finish opted_out"}},
		}, "opted_out"},
		{"HELP moves the flow on but is no answer", checkIn, []machineStep{
			{start, started},
			{reply("HELP"), []string{"finish needs_review"}},
		}, "needs_review"},
		{"no timeout transition ends timeout; default timeout", `{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage"},{"event":"timeout"},{"event":"deliveryFailure"}],"properties":{"body":"Q?"}}`, []machineStep{
			{start, []string{"send q/1 Q?", "wait q/1 1h0m0s"}},
			{timedOut, []string{"finish timeout"}},
		}, "timeout"},
		{"delivery failure with no transition", `{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage"}],"properties":{"body":"Q?"}}`, []machineStep{
			{start, []string{"send q/1 Q?", "wait q/1 1h0m0s"}},
			{failed, []string{"finish delivery_failed"}},
		}, "delivery_failed"},
		{"revisits are new attempts; re-ask widgets answer their question; hyphenated names", `
			{"name":"q-1","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"s"}],"properties":{"body":"Q?"}},
			{"name":"s","type":"split-based-on","transitions":[{"event":"noMatch","next":"q-1_reask1"},{"event":"match","conditions":[{"friendly_name":"ok","arguments":[""],"type":"equal_to","value":"ok"}]}],"properties":{"input":"{{widgets.q-1.inbound.Body}}{{widgets.q-1_reask1.inbound.Body}}"}},
			{"name":"q-1_reask1","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"q-1"}],"properties":{"body":"Again: Q?"}}`, []machineStep{
			{start, []string{"send q_1/1 Q?", "wait q_1/1 1h0m0s"}},
			{reply("a"), []string{`answer q_1 "a" "a" `, "send q_1_reask1/1 Again: Q?", "wait q_1_reask1/1 1h0m0s"}},
			{reply("b"), []string{`answer q_1 "b" "b" `, "send q_1/2 Q?", "wait q_1/2 1h0m0s"}},
		}, ""},
		{"Liquid: tags, filters, condition values, trigger and contact", `
			{"name":"v","type":"set-variables","transitions":[{"event":"next","next":"s"}],"properties":{"variables":[{"key":"n","value":"{% if flow.data.clinic == 'north' %}{{ 2 | plus: 1 }}{% else %}0{% endif %}"}]}},
			{"name":"s","type":"split-based-on","transitions":[{"event":"noMatch"},{"event":"match","next":"m","conditions":[{"friendly_name":"n","arguments":[""],"type":"equal_to","value":"{{flow.data.clinic}}-3"}]}],"properties":{"input":"{{flow.data.clinic}}-{{flow.variables.n}}"}},
			{"name":"m","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"{{contact.channel.address}} {{trigger.request.to}} {{trigger.request.parameters.patient_id}} {{flow.data.outreach_conversation}} [{{flow.data.missing}}]"}}`, []machineStep{
			{start, []string{"send m/1 +12125550001 +15005550006 p1 7 []", "finish completed"}},
		}, "completed"},
		{"unsupported widget type", `{"name":"call","type":"say-play","transitions":[{"event":"audioComplete"}],"properties":{"say":"hi"}}`, []machineStep{
			{start, []string{"finish unsupported: say-play"}},
		}, "unsupported: say-play"},
		{"message to another address", `{"name":"m","type":"send-message","transitions":[{"event":"sent"}],"properties":{"to":"+12125559999","body":"hi"}}`, []machineStep{
			{start, []string{"finish unsupported: send-message to or from another address"}},
		}, "unsupported: send-message to or from another address"},
		// Errors end the execution, with the outcome the Runtime collects
		// from it: here the flow's outcome variable, else by the last
		// transition taken.
		{"refusals of an empty body or address", `{"name":"m","type":"send-message","transitions":[{"event":"sent"},{"event":"failed","next":"q"}],"properties":{"body":"{{flow.data.nothing}}"}},
			{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"deliveryFailure","next":"r"}],"properties":{"to":"{{trigger.message.From}}","body":"Q? {{widgets.m.ErrorCode}}"}},
			{"name":"r","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"{{widgets.q.outbound.ErrorCode}} {{widgets.q.outbound.Status}}"}}`, []machineStep{
			{start, []string{"send r/1 21604 failed", "finish completed"}},
		}, "completed"},
		{"a widget running an 11th time in a row stops the execution (81001)", `{"name":"v","type":"set-variables","transitions":[{"event":"next","next":"v"}],"properties":{"variables":[{"key":"outcome","value":"{{flow.variables.outcome | append: 'x'}}"}]}}`, []machineStep{
			{start, []string{"finish xxxxxxxxxx"}},
		}, "xxxxxxxxxx"},
		{"a template that does not render ends the execution", `{"name":"m","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"{% if %}"}}`, []machineStep{
			{start, []string{"finish completed"}},
		}, "completed"},
		{"a bad condition ends the execution", `{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"s"},{"event":"timeout","next":"s"}],"properties":{"body":"Q?"}},
			{"name":"s","type":"split-based-on","transitions":[{"event":"noMatch"},{"event":"match","conditions":[{"friendly_name":"x","arguments":[""],"type":"is_between","value":"x"}]}],"properties":{"input":"1"}}`, []machineStep{
			{start, []string{"send q/1 Q?", "wait q/1 1h0m0s"}},
			{timedOut, []string{"finish timeout"}},
		}, "timeout"},
		{"calls with no Calls fail", `{"name":"f","type":"run-function","transitions":[{"event":"success"},{"event":"fail","next":"m"}],"properties":{"url":"https://x.twil.io/f"}},
			{"name":"m","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"{{widgets.f.error}}"}}`, []machineStep{
			{start, []string{"send m/1 no function registered for this Twilio Function (f): register a Go port of it in Calls.Functions", "finish completed"}},
		}, "completed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := runMachine(t, &studio.Machine{}, sourceFlow(t, c.widgets), c.steps)
			if st.Outcome != c.outcome {
				t.Errorf("outcome %q, want %q", st.Outcome, c.outcome)
			}
		})
	}
}

// TestMachineCalls runs make-http-request and run-function widgets
// through Calls, with the state stored between a call and the split that
// reads its answer.
func TestMachineCalls(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"slot":"%s 9:00","n":3}`, r.URL.Query().Get("day"))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	calls := &studio.Calls{AllowHosts: []string{u.Host}, Functions: map[string]studio.Function{
		"save": func(ctx context.Context, p map[string]string) (studio.FunctionResult, error) {
			if p["answer"] == "boom" {
				return studio.FunctionResult{}, errors.New("boom")
			}
			return studio.JSONResult(map[string]any{"saved": p["answer"], "count": 2})
		},
	}}
	widgets := fmt.Sprintf(`
		{"name":"get","type":"make-http-request","transitions":[{"event":"success","next":"q"},{"event":"failed"}],"properties":{"method":"GET","url":"%s/slots","parameters":[{"key":"day","value":"{{flow.data.clinic}}"}]}},
		{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"save"}],"properties":{"body":"Slot {{widgets.get.parsed.slot}} (n={{widgets.get.parsed.n}})?"}},
		{"name":"save","type":"run-function","transitions":[{"event":"success","next":"s"},{"event":"fail","next":"err"}],"properties":{"url":"https://x.twil.io/save","parameters":[{"key":"answer","value":"{{widgets.q.inbound.Body}}"}]}},
		{"name":"s","type":"split-based-on","transitions":[{"event":"noMatch"},{"event":"match","next":"ok","conditions":[{"friendly_name":"n","arguments":[""],"type":"equal_to","value":"{{widgets.get.parsed.n | minus: 1}}"}]}],"properties":{"input":"{{widgets.save.parsed.count}}"}},
		{"name":"ok","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"Saved {{widgets.save.parsed.saved}} ({{widgets.save.status_code}})"}},
		{"name":"err","type":"send-message","transitions":[{"event":"sent"}],"properties":{"body":"Failed {{widgets.save.status_code}}"}}`, srv.URL)
	f := sourceFlow(t, widgets)
	m := &studio.Machine{Calls: calls}
	runMachine(t, m, f, []machineStep{
		{start, []string{"send q/1 Slot north 9:00 (n=3)?", "wait q/1 1h0m0s"}},
		{reply("yes"), []string{`answer q "yes" "yes" `, "send ok/1 Saved yes (200)", "finish completed"}},
	})
	runMachine(t, m, f, []machineStep{
		{start, []string{"send q/1 Slot north 9:00 (n=3)?", "wait q/1 1h0m0s"}},
		{reply("boom"), []string{`answer q "boom" "boom" `, "send err/1 Failed 500", "finish completed"}},
	})
}

// TestMachineMaxSteps stops an execution at MaxSteps steps (Studio's
// warning 81000), waits for replies included.
func TestMachineMaxSteps(t *testing.T) {
	t.Parallel()
	f := sourceFlow(t, `{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"v"}],"properties":{"body":"Q?"}},
		{"name":"v","type":"set-variables","transitions":[{"event":"next","next":"q"}],"properties":{"variables":[{"key":"n","value":"{{flow.variables.n | plus: 1}}"}]}}`)
	// Steps: trigger->q (1); each reply: q->v, v->q (2 more).
	st := runMachine(t, &studio.Machine{MaxSteps: 5}, f, []machineStep{
		{start, []string{"send q/1 Q?", "wait q/1 1h0m0s"}},
		{reply("a"), []string{`answer q "a" "a" `, "send q/2 Q?", "wait q/2 1h0m0s"}},
		{reply("b"), []string{`answer q "b" "b" `, "finish completed"}},
	})
	if !st.Done {
		t.Errorf("state %+v", st)
	}
}

// TestMachineNotStudio refuses a flow with no Studio source.
func TestMachineNotStudio(t *testing.T) {
	t.Parallel()
	m := &studio.Machine{}
	for _, f := range []*outreach.Flow{{ID: "a"}, {ID: "b", Source: &outreach.Source{Format: "other", Data: json.RawMessage(`{}`)}}} {
		st, acts, err := m.Advance(t.Context(), f, machineConv, start)
		if err == nil || !st.Done || st.Outcome != outreach.OutcomeFailed || len(acts) != 1 {
			t.Errorf("flow %s: %v, %+v, %v", f.ID, err, st, acts)
		}
	}
}

// TestMachineSecondsTimeout reads a send-and-wait-for-reply timeout given
// as a number.
func TestMachineSecondsTimeout(t *testing.T) {
	t.Parallel()
	f := sourceFlow(t, `{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage"}],"properties":{"body":"Q?","timeout":90}}`)
	st := runMachine(t, &studio.Machine{}, f, []machineStep{{start, []string{"send q/1 Q?", "wait q/1 1m30s"}}})
	if !st.Waiting || time.Duration(st.Timeout) != 90*time.Second || st.Step != "q" {
		t.Errorf("state %+v", st)
	}
}
