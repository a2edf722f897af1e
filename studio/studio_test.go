package studio_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestBuiltinRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range flows.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			f, err := flows.Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			d, err := studio.FromFlow(f)
			if err != nil {
				t.Fatal(err)
			}
			// Through JSON, as a deploy would send it.
			data, err := d.Encode()
			if err != nil {
				t.Fatal(err)
			}
			d2, err := studio.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := studio.ToFlow(d2)
			if err != nil {
				t.Fatal(err)
			}
			got.ID, got.Name = f.ID, f.Name // they travel as the Studio flow's friendly name
			got.Source = nil                // what the import keeps of the definition (see TestCorpusRoundTrip)
			if want, got := f.Clone(), got.Clone(); !reflect.DeepEqual(want, got) {
				t.Errorf("round trip changed the flow:\nwant %+v\ngot  %+v", want, got)
			}
			golden(t, filepath.Join("testdata", name+".golden.json"), data)
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the export (run go test -update after checking the change)", path)
	}
}

func loadDef(t *testing.T, path string) *studio.Definition {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := studio.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// strip keeps only what outreach reads of each widget.
func strip(d *studio.Definition) map[string]studio.CanonicalState {
	m := map[string]studio.CanonicalState{}
	for _, s := range d.States {
		m[s.Name] = studio.Canonical(s)
	}
	return m
}

func TestConsoleExportRoundTrip(t *testing.T) {
	t.Parallel()
	orig := loadDef(t, "testdata/console.json")
	f, err := studio.ToFlow(orig)
	if err != nil {
		t.Fatal(err)
	}
	f.ID = "console"
	f.Source = nil // export the steps again, not the definition they came from
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	again, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	want, got := strip(orig), strip(again)
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("widget %q is lost", name)
			continue
		}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("widget %q changed:\nwant %+v\ngot  %+v", name, w, g)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("widget %q was added", name)
		}
	}
	// What the import read.
	mood := f.StepByID("split_mood")
	if mood.Kind != outreach.StepBranch || mood.Var != "answers.ask_mood" || len(mood.Routes) != 3 || mood.Next != "ask_help" {
		t.Errorf("split_mood = %+v", mood)
	}
	if hello := f.StepByID("hello"); hello.Body != "Hi {{recipient.first_name}}, your clinic {{data.clinic}} here." {
		t.Errorf("hello body = %q", hello.Body)
	}
	if good := f.StepByID("good"); good.Kind != outreach.StepEnd || good.Outcome != "feeling_good" {
		t.Errorf("good = %+v", good)
	}
	if f.StepByID("good_outcome") != nil {
		t.Error("good_outcome should be part of the end step good")
	}
}

// edit decodes the console export, lets fn change it as a user would in
// the console, and imports it.
func edit(t *testing.T, fn func(d *studio.Definition)) error {
	t.Helper()
	d := loadDef(t, "testdata/console.json")
	fn(d)
	_, err := studio.ToFlow(d)
	return err
}

func setBody(d *studio.Definition, state, body string) {
	s := d.StateByName(state)
	s.Properties = []byte(`{"from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}", "body": ` + quote(body) + `, "timeout": "600"}`)
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// TestImportProblems: what the embedded engine cannot run imports with a
// Warning naming the widget and its type, as an end step whose outcome
// says what it stands for; a conversation that reaches it ends there.
func TestImportProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		edit    func(d *studio.Definition)
		widget  string
		outcome string   // of the widget's step; empty: no step check
		want    []string // substrings of the widget's warning
	}{
		{"unsupported widget", func(d *studio.Definition) {
			s := d.StateByName("good")
			s.Type = "make-http-request"
			s.Properties = []byte(`{"method": "POST", "url": "https://example.com"}`)
		}, "good", "unsupported: make-http-request", []string{"cannot run make-http-request", "ends there", "Studio runs it"}},
		{"run-function", func(d *studio.Definition) {
			d.StateByName("call_requested").Type = "run-function"
		}, "call_requested", "unsupported: run-function", []string{"run-function"}},
		{"send-to-flex", func(d *studio.Definition) {
			s := d.StateByName("call_requested")
			s.Type, s.Properties = "send-to-flex", []byte(`{"workflow": "WW1", "channel": "TC1"}`)
		}, "call_requested", "unsupported: send-to-flex", []string{"send-to-flex"}},
		{"contains", func(d *studio.Definition) {
			d.StateByName("split_help").Transitions[1].Conditions[0].Type = "contains"
		}, "split_help", "unsupported: condition", []string{"contains"}},
		{"starts_with", func(d *studio.Definition) {
			moodCondition(d, "matches_any_of").Type = "starts_with"
		}, "split_mood", "unsupported: condition", []string{"starts_with"}},
		{"regex", func(d *studio.Definition) {
			c := moodCondition(d, "equal_to")
			c.Type, c.Value = "regex", "^o"
		}, "split_mood", "unsupported: condition", []string{"regex"}},
		{"strict bound on text", func(d *studio.Definition) {
			// A bound without the transition that takes the bound itself.
			s := d.StateByName("split_mood")
			s.Transitions = slices.DeleteFunc(s.Transitions, func(t studio.Transition) bool {
				return len(t.Conditions) == 1 && t.Conditions[0].Type == "regex"
			})
		}, "split_mood", "unsupported: condition", []string{"greater_than", "strict", "inclusive"}},
		{"strict bound, other value", func(d *studio.Definition) {
			moodCondition(d, "greater_than").Value = "7"
		}, "split_mood", "unsupported: condition", []string{"greater_than", "strict"}},
		{"three conditions", func(d *studio.Definition) {
			s := d.StateByName("split_mood")
			for i, t := range s.Transitions {
				if len(t.Conditions) == 2 {
					s.Transitions[i].Conditions = append(t.Conditions, *moodCondition(d, "equal_to"))
				}
			}
		}, "split_mood", "unsupported: condition", []string{"greater_than, less_than, equal_to"}},
		{"is_between", func(d *studio.Definition) {
			c := moodCondition(d, "equal_to")
			c.Type, c.Value = "is_between", "oops"
		}, "split_mood", "unsupported: condition", []string{"is_between"}},
		{"time", func(d *studio.Definition) {
			c := moodCondition(d, "equal_to")
			c.Type, c.Value = "is_before_time", "17:00"
		}, "split_mood", "unsupported: condition", []string{"is_before_time", "no equivalent"}},
		{"filter", func(d *studio.Definition) {
			setBody(d, "ask_help", "Hi {{flow.data.patient_first_name | upcase}}")
		}, "ask_help", "unsupported: template", []string{"filter"}},
		{"trigger message", func(d *studio.Definition) {
			setBody(d, "ask_help", "You said {{trigger.message.Body}}")
		}, "ask_help", "unsupported: template", []string{"trigger"}},
		{"parsed", func(d *studio.Definition) {
			setBody(d, "ask_help", "See you on {{widgets.get-datetime-parts.parsed.date}}")
		}, "ask_help", "unsupported: template", []string{"widgets.get-datetime-parts.parsed.date"}},
		{"parse error", func(d *studio.Definition) {
			setBody(d, "ask_help", "Hi {{ flow.data.patient_first_name | }}")
		}, "ask_help", "unsupported: template", []string{"does not parse"}},
		{"tag", func(d *studio.Definition) {
			setBody(d, "ask_help", "{% if flow.data.x %}hi{% endif %}")
		}, "ask_help", "unsupported: template", []string{"tags"}},
		{"sending number", func(d *studio.Definition) {
			setBody(d, "ask_help", "Text {{flow.channel.address}}")
		}, "ask_help", "unsupported: template", []string{"sending number"}},
		{"other recipient", func(d *studio.Definition) {
			d.StateByName("hello").Properties = []byte(`{"from": "{{flow.channel.address}}", "to": "+15555550100", "body": "Hi"}`)
		}, "hello", "unsupported: template", []string{"+15555550100", "only to the recipient"}},
		{"other variable", func(d *studio.Definition) {
			d.StateByName("call_requested").Properties = []byte(`{"variables": [{"key": "x", "value": "1"}]}`)
		}, "call_requested", "unsupported: set-variables", []string{`"outcome"`}},
		{"missing widget", func(d *studio.Definition) {
			d.StateByName("hello").Transitions[0].Next = "nowhere"
		}, "hello", "", []string{`"nowhere"`, "not a widget"}},
		{"sender name", func(d *studio.Definition) {
			d.StateByName("hello").Properties = []byte(`{"from": "Owl Health", "to": "{{contact.channel.address}}", "body": "Hi"}`)
		}, "hello", "", []string{`"Owl Health"`, "campaign's number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := loadDef(t, "testdata/console.json")
			tc.edit(d)
			f, problems, err := studio.Import(d)
			if err != nil {
				t.Fatal(err)
			}
			typ := d.StateByName(tc.widget).Type
			found := false
			for _, p := range problems {
				if p.Severity != studio.Warning {
					t.Errorf("%v", p)
				}
				if p.Widget != tc.widget || p.Type != typ {
					continue
				}
				ok := true
				for _, w := range tc.want {
					ok = ok && strings.Contains(p.Message, w)
				}
				found = found || ok
			}
			if !found {
				t.Errorf("no warning on %q (%s) saying %q: %v", tc.widget, typ, tc.want, problems)
			}
			if tc.outcome == "" {
				return
			}
			st := f.StepByID(tc.widget)
			if st == nil || st.Kind != outreach.StepEnd || st.Outcome != tc.outcome || st.Body != "" || !studio.Unsupported(st) {
				t.Errorf("step %q = %+v, want an end step with outcome %q", tc.widget, st, tc.outcome)
			}
		})
	}
}

// TestImportBlocking: problems that leave no flow to run are Errors, all
// of them listed in an *ImportError, which errors.As finds as the
// *StateError of the first widget.
func TestImportBlocking(t *testing.T) {
	t.Parallel()
	d := loadDef(t, "testdata/console.json")
	d.States = append(d.States, *d.StateByName("hello"))
	d.StateByName("ask_help").Properties = []byte(`{"body": 5}`)
	f, problems, err := studio.Import(d)
	if f != nil || err == nil {
		t.Fatalf("imported: %v", err)
	}
	var ie *studio.ImportError
	if !errors.As(err, &ie) || !reflect.DeepEqual(ie.Problems, problems) {
		t.Fatalf("%v: not an *ImportError with the problems", err)
	}
	var se *studio.StateError
	if !errors.As(err, &se) {
		t.Errorf("%v: no *StateError", err)
	}
	var errs []string
	for _, p := range problems {
		if p.Severity == studio.Error {
			errs = append(errs, p.Widget)
		}
	}
	if !slices.Contains(errs, "hello") || !slices.Contains(errs, "ask_help") {
		t.Errorf("errors on %q, want hello (a second widget of that name) and ask_help (bad properties)", errs)
	}
	for _, w := range []string{`"hello"`, "same name", `"ask_help"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), `"studio"`) {
		t.Errorf("error %q names a placeholder flow", err)
	}
	// No trigger at all.
	d = loadDef(t, "testdata/console.json")
	d.States = d.States[1:]
	if _, _, err := studio.Import(d); err == nil || !strings.Contains(err.Error(), "no trigger") {
		t.Errorf("no trigger: %v", err)
	}
}

// TestImportTrigger: a flow that starts on incomingMessage imports with a
// Warning and starts at that transition's target; with incomingRequest
// wired too, it starts there, with no warning.
func TestImportTrigger(t *testing.T) {
	t.Parallel()
	d := loadDef(t, "testdata/console.json")
	trig := d.StateByName("Trigger")
	start, _ := trig.Next(studio.EventIncomingRequest)
	for i := range trig.Transitions {
		if trig.Transitions[i].Event == studio.EventIncomingMessage {
			trig.Transitions[i].Next = "ask_mood"
		}
	}
	f, problems, err := studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	if f.StartStep() != start || len(problems) != 0 {
		t.Errorf("both wired: start %q, problems %v; want %q and none", f.StartStep(), problems, start)
	}
	for i := range trig.Transitions {
		if trig.Transitions[i].Event == studio.EventIncomingRequest {
			trig.Transitions[i].Next = ""
		}
	}
	f, problems, err = studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	if f.StartStep() != "ask_mood" {
		t.Errorf("start %q, want ask_mood", f.StartStep())
	}
	if len(problems) == 0 || problems[0].Widget != "Trigger" || problems[0].Severity != studio.Warning || !strings.Contains(problems[0].Message, "texts in") {
		t.Errorf("problems %v, want a warning on the trigger", problems)
	}
}

// TestImportUnreachable: a widget nothing leads to is kept by Studio; the
// flow leaves it out with a Warning, instead of refusing the definition.
func TestImportUnreachable(t *testing.T) {
	t.Parallel()
	d := loadDef(t, "testdata/console.json")
	d.States = append(d.States, studio.State{Name: "orphan", Type: studio.TypeSendMessage,
		Transitions: []studio.Transition{{Event: "sent"}, {Event: "failed"}},
		Properties:  []byte(`{"body": "never sent", "to": "{{contact.channel.address}}"}`)})
	f, problems, err := studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	if f.StepByID("orphan") != nil {
		t.Error("the unreachable widget is a step")
	}
	if len(problems) != 1 || problems[0].Widget != "orphan" || problems[0].Type != studio.TypeSendMessage || !strings.Contains(problems[0].Message, "unreachable") {
		t.Errorf("problems %v", problems)
	}
}

// TestImportWidgetNames: names with characters other than letters, digits
// and '_' become step ids with '_' in their place, unique, and Liquid
// that names the widgets follows; {{widgets.X.outbound.To}} is the
// recipient's phone.
func TestImportWidgetNames(t *testing.T) {
	t.Parallel()
	in := `{"description":"","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},"states":[
	{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingRequest","next":"ask-name"}],"properties":{}},
	{"name":"ask-name","type":"send-and-wait-for-reply","transitions":[{"event":"incomingMessage","next":"ask_name"},{"event":"timeout"},{"event":"deliveryFailure"}],"properties":{"body":"Your name? Reply STOP to opt out.","timeout":"600"}},
	{"name":"ask_name","type":"send-message","transitions":[{"event":"sent","next":"ask.name"},{"event":"failed"}],"properties":{"body":"Thanks {{widgets.ask-name.inbound.Body}}, we have {{widgets.ask-name.outbound.To}}.","to":"{{widgets.ask-name.outbound.To}}"}},
	{"name":"ask.name","type":"send-message","transitions":[{"event":"sent"},{"event":"failed"}],"properties":{"body":"Bye"}}]}`
	d, err := studio.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	ids := studio.StepIDs(d)
	want := map[string]string{"Trigger": "Trigger", "ask-name": "ask_name_2", "ask_name": "ask_name", "ask.name": "ask_name_3"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("StepIDs = %v, want %v", ids, want)
	}
	f, problems, err := studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 {
		t.Errorf("problems: %v", problems)
	}
	if f.StartStep() != "ask_name_2" || f.StepByID("ask_name_2").Next != "ask_name" || f.StepByID("ask_name").Next != "ask_name_3" {
		t.Errorf("steps %+v", f.Steps)
	}
	if got := f.StepByID("ask_name").Body; got != "Thanks {{answers.ask_name_2}}, we have {{recipient.phone}}." {
		t.Errorf("body %q", got)
	}
	// And back: the names as they were.
	f.ID = "x"
	back, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := back.Encode()
	if got, want := normalJSON(t, out), normalJSON(t, []byte(in)); got != want {
		t.Errorf("round trip:\n got %s\nwant %s", got, want)
	}
	// An edited step keeps its widget's name; references follow.
	f.StepByID("ask_name").Body = "Thanks {{answers.ask_name_2}}."
	if back, err = studio.FromFlow(f); err != nil {
		t.Fatal(err)
	}
	s := back.StateByName("ask_name")
	var p studio.MessageProperties
	if err := s.DecodeProperties(&p); err != nil {
		t.Fatal(err)
	}
	if p.Body != "Thanks {{widgets.ask-name.inbound.Body}}." || p.To != "{{widgets.ask-name.outbound.To}}" {
		t.Errorf("edited widget: %+v", p)
	}
	if next, _ := s.Next("sent"); next != "ask.name" {
		t.Errorf("edited widget goes to %q", next)
	}
}

func TestImportConditions(t *testing.T) {
	t.Parallel()
	err := edit(t, func(d *studio.Definition) {
		// A list with no spaces after the commas.
		d.StateByName("split_help").Transitions[1].Conditions[0].Value = "yes,y,sure"
	})
	if err != nil {
		t.Fatal(err)
	}
	d := loadDef(t, "testdata/console.json")
	d.StateByName("split_help").Transitions[1].Conditions[0].Value = "yes,y ,  sure"
	f, err := studio.ToFlow(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.StepByID("split_help").Routes[0].When.AnyOf; !reflect.DeepEqual(got, []string{"yes", "y", "sure"}) {
		t.Errorf("any_of = %q", got)
	}
}

func TestUnknownWidgetsKeptVerbatim(t *testing.T) {
	t.Parallel()
	in := `{"description":"d","states":[{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingRequest","next":"http"}],"properties":{"offset":{"x":1,"y":2}}},{"name":"http","type":"make-http-request","transitions":[{"event":"success"},{"event":"failed"}],"properties":{"method":"POST","url":"https://example.com/x","body":"{\"a\":1}","offset":{"x":3,"y":4},"parameters":[{"key":"k","value":"{{flow.data.x | upcase}}"}]}}],"initial_state":"Trigger","flags":{"allow_concurrent_calls":true}}`
	d, err := studio.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := compact(&a, []byte(in)); err != nil {
		t.Fatal(err)
	}
	if err := compact(&b, out); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("re-encoded definition differs:\n%s\n%s", a.String(), b.String())
	}
	f, problems, err := studio.Import(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Widget != "http" || problems[0].Type != "make-http-request" || problems[0].Severity != studio.Warning {
		t.Errorf("problems %v", problems)
	}
	if st := f.StepByID("http"); st == nil || st.Outcome != "unsupported: make-http-request" {
		t.Errorf("step http = %+v", st)
	}
}

func TestExportErrors(t *testing.T) {
	t.Parallel()
	f, err := flows.Builtin("payor")
	if err != nil {
		t.Fatal(err)
	}
	f.Steps[1].ID = "member-card"
	f.Steps[0].Next = "member-card"
	if _, err := studio.FromFlow(f); err == nil || !strings.Contains(err.Error(), `"member-card"`) {
		t.Errorf("dash: error = %v", err)
	}
	f.Steps[1].ID = "2card"
	f.Steps[0].Next = "2card"
	if _, err := studio.FromFlow(f); err == nil || !strings.Contains(err.Error(), `"2card"`) {
		t.Errorf("leading digit: error = %v", err)
	}
	// A step whose helper widget name is taken by another step.
	g, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	i := g.StepByID("pain_ok")
	i.ID = "ask_pain_split"
	g.StepByID("ask_pain").Routes[0].Next = "ask_pain_split"
	if _, err := studio.FromFlow(g); err == nil || !strings.Contains(err.Error(), `"ask_pain_split"`) {
		t.Errorf("collision: error = %v", err)
	}
}

// moodCondition returns the first condition of type typ in the console
// export's split_mood.
func moodCondition(d *studio.Definition, typ string) *studio.Condition {
	s := d.StateByName("split_mood")
	for i := range s.Transitions {
		for j := range s.Transitions[i].Conditions {
			if c := &s.Transitions[i].Conditions[j]; c.Type == typ {
				return c
			}
		}
	}
	panic("no " + typ + " condition in split_mood")
}

func TestRenderFilters(t *testing.T) {
	t.Parallel()
	vars := map[string]any{
		"flow": map[string]any{"data": map[string]any{"patient_first_name": "  ana  ", "visit": "2026-03-02"}},
	}
	cases := map[string]string{
		"{{flow.data.patient_first_name | strip | upcase}}":      "ANA",
		"{{flow.data.patient_first_name | strip | capitalize}}":  "Ana",
		"{{ 'HELLO' | downcase }}":                               "hello",
		"{{flow.data.missing | default: 'there'}}":               "there",
		"{{flow.data.visit | date: '%b %d'}}":                    "Mar 02",
		"{{ 'a long message body' | truncate: 9 }}":              "a long...",
		"Hi {{flow.data.nobody}}!":                               "Hi !",
		"{% if flow.data.visit %}visit{% else %}none{% endif %}": "visit",
	}
	for tmpl, want := range cases {
		got, err := studio.Render(tmpl, vars)
		if err != nil {
			t.Errorf("%s: %v", tmpl, err)
			continue
		}
		if got != want {
			t.Errorf("%s = %q, want %q", tmpl, got, want)
		}
	}
	if _, err := studio.Render("{% if x %}unclosed", nil); err == nil {
		t.Error("a template that does not parse rendered")
	}
}

func TestRenderConcurrent(t *testing.T) {
	t.Parallel()
	done := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := studio.Render("{{ a | upcase }}", map[string]any{"a": "x"})
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestOptOutFooterRoundTrip checks that FromFlow appends the opt-out footer
// to the first message of a two-way flow as the engine does, and that
// ToFlow reads it back as the flow's setting, never into the body, so that
// exporting again does not double it.
func TestOptOutFooterRoundTrip(t *testing.T) {
	t.Parallel()
	yesNo := &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "YES"}, {Value: "NO"}}}
	twoWay := func(first outreach.Step) *outreach.Flow {
		steps := []outreach.Step{first}
		if first.Kind != outreach.StepAsk {
			steps = append(steps, outreach.Step{ID: "q", Kind: outreach.StepAsk, Body: "Ready? Reply YES or NO", Answer: yesNo, Hint: "Sorry.", Next: "bye", Timeout: outreach.Duration(6 * time.Minute)})
		}
		steps = append(steps, outreach.Step{ID: "bye", Kind: outreach.StepEnd, Body: "Thanks.", Outcome: "done"})
		return &outreach.Flow{ID: "t", Start: first.ID, Steps: steps}
	}
	hello := outreach.Step{ID: "hello", Kind: outreach.StepSend, Body: "Hi {{recipient.first_name}}.", Next: "q"}
	ask := outreach.Step{ID: "q", Kind: outreach.StepAsk, Body: "Hi {{recipient.first_name}}, ready? Reply YES or NO", Answer: yesNo, Hint: "Sorry.", Next: "bye", Timeout: outreach.Duration(6 * time.Minute)}
	tests := []struct {
		name   string
		flow   *outreach.Flow
		widget string // the first message's widget
		body   string // its body in Studio
		reask  string // the body of widget_reask1, if any
	}{
		{name: "default footer on a send step", flow: twoWay(hello),
			widget: "hello", body: "Hi {{flow.data.patient_first_name}}. Reply STOP to opt out."},
		{name: "default footer on a first question, not on its re-asks", flow: twoWay(ask),
			widget: "q", body: "Hi {{flow.data.patient_first_name}}, ready? Reply YES or NO Reply STOP to opt out.",
			reask: "Sorry. Hi {{flow.data.patient_first_name}}, ready? Reply YES or NO"},
		{name: "custom footer on a first question", flow: func() *outreach.Flow {
			f := twoWay(ask)
			f.OptOutFooter = " Text STOP to end."
			return f
		}(), widget: "q", body: "Hi {{flow.data.patient_first_name}}, ready? Reply YES or NO Text STOP to end."},
		{name: "footer off", flow: func() *outreach.Flow {
			f := twoWay(hello)
			f.NoOptOutFooter = true
			return f
		}(), widget: "hello", body: "Hi {{flow.data.patient_first_name}}."},
		{name: "first message mentions STOP already", flow: func() *outreach.Flow {
			f := twoWay(hello)
			f.Steps[0].Body = "Hi {{recipient.first_name}}. Reply STOP anytime."
			return f
		}(), widget: "hello", body: "Hi {{flow.data.patient_first_name}}. Reply STOP anytime."},
		{name: "one-way flow", flow: &outreach.Flow{ID: "t", Start: "hello", Steps: []outreach.Step{
			{ID: "hello", Kind: outreach.StepSend, Body: "Hi.", Next: "bye"},
			{ID: "bye", Kind: outreach.StepEnd, Body: "Thanks.", Outcome: "done"}}},
			widget: "hello", body: "Hi."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.flow.Validate(); err != nil {
				t.Fatal(err)
			}
			d, err := studio.FromFlow(tt.flow)
			if err != nil {
				t.Fatal(err)
			}
			bodyOf := func(d *studio.Definition, name string) string {
				for _, s := range d.States {
					if s.Name == name {
						var p studio.MessageProperties
						if err := s.DecodeProperties(&p); err != nil {
							t.Fatal(err)
						}
						return p.Body
					}
				}
				t.Fatalf("no widget %q", name)
				return ""
			}
			if got := bodyOf(d, tt.widget); got != tt.body {
				t.Errorf("widget %s body %q, want %q", tt.widget, got, tt.body)
			}
			if tt.reask != "" {
				if got := bodyOf(d, tt.widget+"_reask1"); got != tt.reask {
					t.Errorf("re-ask body %q, want %q", got, tt.reask)
				}
			}
			data, err := d.Encode()
			if err != nil {
				t.Fatal(err)
			}
			d2, err := studio.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := studio.ToFlow(d2)
			if err != nil {
				t.Fatal(err)
			}
			got.ID = tt.flow.ID
			got.Source = nil // export the steps again, not the definition they came from
			if want := tt.flow.Clone(); !reflect.DeepEqual(want, got.Clone()) {
				t.Errorf("round trip changed the flow:\nwant %+v\ngot  %+v", want, got)
			}
			if again := bodyOf(d2, tt.widget); again != tt.body {
				t.Errorf("ToFlow changed its input: body %q", again)
			}
			d3, err := studio.FromFlow(got)
			if err != nil {
				t.Fatal(err)
			}
			data3, err := d3.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, data3) {
				t.Errorf("exporting the imported flow changed the definition:\n%s\nwant\n%s", data3, data)
			}
		})
	}
}
