package studio_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

// normalJSON unmarshals b into any and marshals it again: the form in
// which two definitions are compared byte for byte.
func normalJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func readExport(t *testing.T, path string) ([]byte, *studio.Definition) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := studio.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, d
}

// warned returns "widget: first words of the message" for each warning.
func warned(ps []studio.Problem) map[string][]string {
	out := map[string][]string{}
	for _, p := range ps {
		out[p.Widget] = append(out[p.Widget], p.Message)
	}
	return out
}

// TestCorpusImports imports every real export of testdata/exports: none
// has a blocking problem, and each has the warnings listed here (by
// widget name, a substring of the message).
func TestCorpusImports(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file     string
		warnings int // how many, all of them warnings
		steps    int
		start    string
		want     map[string]string // widget -> substring of one of its warnings
		none     bool              // no warning at all
	}{
		{file: "blueprint-provider.json", warnings: 0, steps: 14, start: "Hello", none: true},
		{file: "blueprint-payor.json", warnings: 0, steps: 3, start: "Hello", none: true},
		{file: "blueprint-research.json", warnings: 0, steps: 11, start: "Hello", none: true},
		{file: "blueprint-post-discharge.json", warnings: 1, steps: 16, start: "PCPAppt", want: map[string]string{
			"MedAdherence_3": "unreachable",
		}},
		{file: "blueprint-webchat-bot.json", warnings: 10, steps: 1, start: "loop_1", want: map[string]string{
			"Trigger":            "starts on incomingMessage",
			"loop_1":             `"unsupported: set-variables"`,
			"send_to_flex_agent": "not reached",
		}},
		{file: "pcp-followup.json", warnings: 19, steps: 2, start: "Outreach", want: map[string]string{
			"save_Outreach": `"unsupported: run-function"`,
		}},
		{file: "patient-appointment-management.json", warnings: 24, steps: 1, start: "set_global_variables", want: map[string]string{
			"set_global_variables": `"unsupported: set-variables"`,
			"get-datetime-parts":   "not reached",
		}},
		{file: "vaccine-standby-list.json", warnings: 2, steps: 15, start: "Welcome", want: map[string]string{
			"Trigger": "starts on incomingMessage",
			"Goodbye": `"SaveToAirtable", which is not a widget`,
		}},
		{file: "volunteer-chatbot-autopilot.json", warnings: 8, steps: 1, start: "autopilot_1", want: map[string]string{
			"Trigger":        "starts on incomingMessage",
			"autopilot_1":    `"unsupported: send-to-auto-pilot"`,
			"send_to_flex_2": "unreachable",
		}},
		{file: "saraalert-assessment.json", warnings: 50, steps: 1, start: "initialize_retry_count", want: map[string]string{
			"initialize_retry_count": `"unsupported: set-variables"`,
		}},
		{file: "frontline-airtable-bot.json", warnings: 18, steps: 1, start: "set_variables_1", want: map[string]string{
			"Trigger":         "starts on incomingConversationMessage",
			"set_variables_1": `"unsupported: set-variables"`,
		}},
		{file: "hls-webchat-conversations.json", warnings: 13, steps: 1, start: "loop_1", want: map[string]string{
			"Trigger":      "starts on incomingConversationMessage",
			"loop_checker": "unreachable",
		}},
		{file: "ivr-webinar.json", warnings: 5, steps: 1, start: "gather_input", want: map[string]string{
			"Trigger":      "starts on incomingCall",
			"gather_input": `"unsupported: gather-input-on-call"`,
		}},
		{file: "appointment-confirmations.json", warnings: 16, steps: 1, start: "check_channel", want: map[string]string{
			"check_channel": `"unsupported: template"`,
		}},
		{file: "order-lookup-ivr.json", warnings: 8, steps: 1, start: "allow_list", want: map[string]string{
			"Trigger":    "starts on incomingCall",
			"allow_list": `"unsupported: run-function"`,
		}},
	}
	files, _ := filepath.Glob("testdata/exports/*.json")
	if len(files) != len(cases) {
		t.Errorf("%d export files, %d cases", len(files), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			_, d := readExport(t, filepath.Join("testdata/exports", tc.file))
			f, problems, err := studio.Import(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				if p.Severity != studio.Warning {
					t.Errorf("%v", p)
				}
				if p.Widget == "" || p.Type == "" {
					t.Errorf("problem names no widget: %v", p)
				}
			}
			if tc.none && len(problems) > 0 {
				t.Errorf("warnings: %v", problems)
			}
			if len(problems) != tc.warnings {
				t.Errorf("%d warnings, want %d: %v", len(problems), tc.warnings, problems)
			}
			if tc.steps != 0 && len(f.Steps) != tc.steps {
				t.Errorf("%d steps, want %d", len(f.Steps), tc.steps)
			}
			if f.StartStep() != tc.start {
				t.Errorf("start %q, want %q", f.StartStep(), tc.start)
			}
			w := warned(problems)
			for widget, sub := range tc.want {
				if !slices.ContainsFunc(w[widget], func(m string) bool { return strings.Contains(m, sub) }) {
					t.Errorf("no warning on %q saying %q; got %q", widget, sub, w[widget])
				}
			}
			// Whatever the embedded engine cannot run ends the
			// conversation: no message holds raw Liquid.
			for _, st := range f.Steps {
				if strings.Contains(st.Body, "{%") || strings.Contains(st.Body, "widgets.") || strings.Contains(st.Body, "trigger.") {
					t.Errorf("step %s body %q", st.ID, st.Body)
				}
			}
			fc := f.Clone()
			fc.ID = "x"
			if err := fc.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCorpusRoundTrip: exporting an imported definition gives it back,
// byte for byte after JSON normalisation.
func TestCorpusRoundTrip(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/exports/*.json")
	files = append(files, "testdata/console.json")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, d := readExport(t, file)
			f, _, err := studio.Import(d)
			if err != nil {
				t.Fatal(err)
			}
			// Through the stores' form: JSON.
			f = f.Clone()
			f.ID = "x"
			back, err := studio.FromFlow(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := back.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := normalJSON(t, out), normalJSON(t, data); got != want {
				t.Errorf("round trip differs:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestDecodeKeepsUnknownMembers: top-level and per-widget members this
// package does not model survive Decode and Encode.
func TestDecodeKeepsUnknownMembers(t *testing.T) {
	t.Parallel()
	in := `{"description":"d","states":[{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingRequest","next":"m"}],"properties":{"offset":{"x":1,"y":2}},"note":"mine"},{"name":"m","type":"send-message","transitions":[{"event":"sent"},{"event":"failed"}],"properties":{"body":"hi","service":"{{trigger.message.InstanceSid}}","channel":"{{trigger.message.ChannelSid}}","offset":{"x":5,"y":6}}}],"initial_state":"Trigger","flags":{"allow_concurrent_calls":false},"version":3}`
	d, err := studio.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := normalJSON(t, out), normalJSON(t, []byte(in)); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// And through an import and export.
	f, _, err := studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	f.ID = "x"
	back, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	if out, err = back.Encode(); err != nil {
		t.Fatal(err)
	}
	if got, want := normalJSON(t, out), normalJSON(t, []byte(in)); got != want {
		t.Errorf("round trip: got %s\nwant %s", got, want)
	}
}

// TestEditAfterImport: changing one step's body changes only its widget,
// which keeps its offset, service, channel and the absence of "to".
func TestEditAfterImport(t *testing.T) {
	t.Parallel()
	_, d := readExport(t, "testdata/exports/blueprint-provider.json")
	f, _, err := studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	f.ID = "x"
	st := f.StepByID("FollowUp_Call")
	st.Body = "Shall we call you to schedule it? Reply YES or NO"
	back, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.States) != len(d.States) {
		t.Fatalf("%d widgets, want %d", len(back.States), len(d.States))
	}
	for i, s := range back.States {
		orig := d.States[i]
		a, _ := json.Marshal(s)
		b, _ := json.Marshal(orig)
		if s.Name != "FollowUp_Call" {
			if normalJSON(t, a) != normalJSON(t, b) {
				t.Errorf("widget %s changed:\n got %s\nwant %s", s.Name, a, b)
			}
			continue
		}
		var got, was map[string]any
		_ = json.Unmarshal(s.Properties, &got)
		_ = json.Unmarshal(orig.Properties, &was)
		if got["body"] != st.Body {
			t.Errorf("body %q", got["body"])
		}
		for _, k := range []string{"offset", "service", "channel", "from", "timeout"} {
			if !reflect.DeepEqual(got[k], was[k]) {
				t.Errorf("%s = %v, want %v", k, got[k], was[k])
			}
		}
		if _, ok := got["to"]; ok {
			t.Errorf("a to property was added: %v", got["to"])
		}
		if !reflect.DeepEqual(s.Transitions, orig.Transitions) {
			t.Errorf("transitions %+v, want %+v", s.Transitions, orig.Transitions)
		}
	}
	// Flags come back as they were, not as FromFlow writes them.
	d.Flags.AllowConcurrentCalls = false
	f, _, err = studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	f.ID = "x"
	if back, err = studio.FromFlow(f); err != nil {
		t.Fatal(err)
	}
	if back.Flags.AllowConcurrentCalls {
		t.Error("allow_concurrent_calls false came back true")
	}
}

// TestImportWidgetTypes: every widget type the embedded engine cannot run
// imports as an end step "unsupported: TYPE", with a warning naming it.
func TestImportWidgetTypes(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"run-function", "make-http-request", "say-play", "send-to-flex", "gather-input-on-call",
		"make-outgoing-call-v2", "connect-call-to", "send-to-auto-pilot", "run-subflow", "record-voicemail", "enqueue-call"} {
		t.Run(typ, func(t *testing.T) {
			_, d := readExport(t, "testdata/console.json")
			s := d.StateByName("good")
			s.Type, s.Properties = typ, []byte(`{"offset": {"x": 1, "y": 2}}`)
			f, problems, err := studio.Import(d)
			if err != nil {
				t.Fatal(err)
			}
			if st := f.StepByID("good"); st == nil || !studio.Unsupported(st) || st.Outcome != "unsupported: "+typ {
				t.Errorf("step good = %+v", st)
			}
			// and the end step's outcome widget, which it no longer reaches.
			if len(problems) != 2 || problems[0].Widget != "good" || problems[0].Type != typ || problems[0].Severity != studio.Warning ||
				problems[1].Widget != "good_outcome" {
				t.Errorf("problems %v", problems)
			}
			// The widget comes back as it was.
			f.ID = "x"
			back, err := studio.FromFlow(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := back.StateByName("good"); got == nil || got.Type != typ || normalJSON(t, got.Properties) != `{"offset":{"x":1,"y":2}}` {
				t.Errorf("exported widget %+v", got)
			}
		})
	}
}

// TestEditAfterImportNameClash: a step exported again whose helper widget
// would take the name of another widget of the source is refused with an
// error naming it, never a definition with two widgets of one name.
func TestEditAfterImportNameClash(t *testing.T) {
	t.Parallel()
	in := `{"description":"","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},"states":[
	{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingRequest","next":"q"}],"properties":{}},
	{"name":"q","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"q_split"},{"event":"timeout"},{"event":"deliveryFailure"}],"properties":{"body":"Ready? Reply YES or NO. Reply STOP to opt out.","timeout":"600"}},
	{"name":"q_split","type":"split-based-on","transitions":[{"event":"noMatch"},{"event":"match","next":"bye","conditions":[{"friendly_name":"yes","arguments":["{{widgets.q.inbound.Body}}"],"type":"equal_to","value":"YES"}]}],"properties":{"input":"{{widgets.q.inbound.Body}}"}},
	{"name":"bye","type":"send-message","transitions":[{"event":"sent"},{"event":"failed"}],"properties":{"body":"Bye"}}]}`
	d, err := studio.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	f.ID = "x"
	// q becomes a choice question: its export writes q_split, taken by
	// the branch step q_split.
	q := f.StepByID("q")
	q.Answer = &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "YES"}, {Value: "NO"}}}
	if _, err := studio.FromFlow(f); err == nil || !strings.Contains(err.Error(), `"q_split"`) {
		t.Errorf("FromFlow error = %v", err)
	}
}
