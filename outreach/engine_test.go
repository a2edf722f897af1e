package outreach_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func ptr[T any](v T) *T { return &v }

// loopFlow asks a yes/no question and asks it again on "no": the same step
// is visited several times, so attempts must keep counting.
func loopFlow() *outreach.Flow {
	return &outreach.Flow{
		ID: "loop",
		Steps: []outreach.Step{
			{ID: "hello", Kind: outreach.StepSend, Body: "Hi {{recipient.first_name}}", Next: "q"},
			{ID: "q", Kind: outreach.StepAsk, Body: "Ready? Reply YES or NO",
				Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
					{Value: "yes", Synonyms: []string{"y", "yeah"}}, {Value: "no", Synonyms: []string{"n"}}}},
				Routes:    []outreach.Route{{When: outreach.Condition{Equals: "no"}, Next: "q"}},
				Next:      "pain",
				MaxReasks: ptr(1), NoAnswer: "bye", OnTimeout: "bye", OnFailure: "bye"},
			{ID: "pain", Kind: outreach.StepAsk, Body: "Pain 0-10?", Timeout: outreach.Duration(10 * time.Minute),
				Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: ptr(0.0), Max: ptr(10.0)},
				Routes: []outreach.Route{{When: outreach.Condition{Min: ptr(6.0)}, Next: "high"}},
				Next:   "low"},
			{ID: "high", Kind: outreach.StepEnd, Body: "We will call, {{recipient.first_name}}. You said {{answers.pain}}.", Outcome: "call"},
			{ID: "low", Kind: outreach.StepEnd, Body: "Glad to hear.", Outcome: "ok"},
			{ID: "bye", Kind: outreach.StepEnd, Outcome: "gave_up"},
		},
	}
}

type step struct {
	ev   outreach.Event
	want []string // actions, formatted by describe
}

func describe(acts []outreach.Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case outreach.Send:
			out = append(out, "send "+a.Key.Step+"#"+itoa(a.Key.Attempt)+": "+a.Body)
		case outreach.ScheduleTimeout:
			out = append(out, "timeout "+a.Key.Step+"#"+itoa(a.Key.Attempt)+" "+a.After.String())
		case outreach.RecordAnswer:
			out = append(out, "answer "+a.Step+" "+a.Raw+" => "+a.Answer)
		case outreach.Finish:
			out = append(out, "finish "+a.Outcome)
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestAdvance(t *testing.T) {
	reply := func(body string) outreach.Event { return outreach.Event{Type: outreach.EventReplied, Body: body} }
	start := outreach.Event{Type: outreach.EventStart}
	tests := []struct {
		name  string
		steps []step
	}{
		{"happy path low pain", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{reply(" Yeah! "), []string{"answer q  Yeah!  => yes", "send pain#1: Pain 0-10?", "timeout pain#1 10m0s"}},
			{reply("3"), []string{"answer pain 3 => 3", "send low#1: Glad to hear.", "finish ok"}},
		}},
		{"revisit counts attempts, answers fill templates", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{reply("n"), []string{"answer q n => no", "send q#2: Ready? Reply YES or NO", "timeout q#2 1h0m0s"}},
			{reply("y"), []string{"answer q y => yes", "send pain#1: Pain 0-10?", "timeout pain#1 10m0s"}},
			{reply("8/10"), []string{"answer pain 8/10 => 8", "send high#1: We will call, Ana. You said 8.", "finish call"}},
		}},
		{"invalid reply re-asks with hint, then no-answer path", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{reply("maybe"), []string{"answer q maybe => ", "send q#2: Sorry, please reply YES or NO. Ready? Reply YES or NO", "timeout q#2 6m0s"}},
			{reply("dunno"), []string{"answer q dunno => ", "finish gave_up"}},
			{reply("yes"), nil},
		}},
		{"timeout with the current key takes the timeout path; stale key does nothing", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{outreach.Event{Type: outreach.EventTimedOut, Key: outreach.SendKey{Conversation: 7, Step: "q", Attempt: 9}}, nil},
			{outreach.Event{Type: outreach.EventTimedOut, Key: outreach.SendKey{Conversation: 7, Step: "q", Attempt: 1}}, []string{"finish gave_up"}},
		}},
		{"opt-out mid-flow ends it and nothing follows", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{outreach.Event{Type: outreach.EventOptedOut}, []string{"finish opted_out"}},
			{reply("yes"), nil},
			{start, nil},
		}},
		{"delivery failure takes the step's failure path", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 7, Step: "q", Attempt: 1}}, []string{"finish gave_up"}},
		}},
		{"delivery failure of a key never sent changes nothing", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 7, Step: "q", Attempt: 2}}, nil},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 7, Step: "pain", Attempt: 1}}, nil},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 8, Step: "q", Attempt: 1}}, nil},
		}},
		{"delivery failure of the question awaited with no path ends delivery_failed; an earlier message's does nothing", []step{
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{reply("yes"), []string{"answer q yes => yes", "send pain#1: Pain 0-10?", "timeout pain#1 10m0s"}},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 7, Step: "hello", Attempt: 1}}, nil},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 7, Step: "q", Attempt: 1}}, nil},
			{outreach.Event{Type: outreach.EventDeliveryFailure, Key: outreach.SendKey{Conversation: 7, Step: "pain", Attempt: 1}}, []string{"finish delivery_failed"}},
		}},
		{"reply before start and a second start are ignored", []step{
			{reply("yes"), nil},
			{start, []string{"send hello#1: Hi Ana Reply STOP to opt out.", "send q#1: Ready? Reply YES or NO", "timeout q#1 6m0s"}},
			{start, nil},
		}},
	}
	rec := outreach.Recipient{ID: "p1", FirstName: "Ana", Phone: "+14406443709"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := loopFlow()
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			var s outreach.State
			for i, st := range tc.steps {
				next, acts, err := outreach.Advance(f, 7, rec, s, st.ev)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if got := describe(acts); !reflect.DeepEqual(got, st.want) {
					t.Fatalf("event %d (%s):\n got %q\nwant %q", i, st.ev.Type, got, st.want)
				}
				s = next
			}
		})
	}
}

func TestAdvanceDoesNotMutateInput(t *testing.T) {
	f := loopFlow()
	rec := outreach.Recipient{FirstName: "Ana"}
	s, _, _ := outreach.Advance(f, 1, rec, outreach.State{}, outreach.Event{Type: outreach.EventStart})
	before := s.Attempts["q"]
	_, _, _ = outreach.Advance(f, 1, rec, s, outreach.Event{Type: outreach.EventReplied, Body: "no"})
	if s.Attempts["q"] != before {
		t.Fatalf("Advance changed its input state: attempts %d -> %d", before, s.Attempts["q"])
	}
}

func TestAdvanceBrokenFlowFails(t *testing.T) {
	f := &outreach.Flow{ID: "broken", Steps: []outreach.Step{{ID: "a", Kind: outreach.StepSend, Body: "x", Next: "missing"}}}
	s, acts, err := outreach.Advance(f, 1, outreach.Recipient{}, outreach.State{}, outreach.Event{Type: outreach.EventStart})
	if err == nil || !s.Done || s.Outcome != outreach.OutcomeFailed {
		t.Fatalf("got err=%v state=%+v, want an error and a failed state", err, s)
	}
	if got := describe(acts); got[len(got)-1] != "finish failed" {
		t.Fatalf("last action %q, want finish failed", got[len(got)-1])
	}
}

// TestAdvanceOptOutFooter checks that the first message of a two-way flow's
// conversation, and only it, ends with the opt-out footer.
func TestAdvanceOptOutFooter(t *testing.T) {
	start := outreach.Event{Type: outreach.EventStart}
	rec := outreach.Recipient{ID: "p1", FirstName: "Ana", Phone: "+14406443709"}
	yesNo := &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "yes"}, {Value: "no"}}}
	tests := []struct {
		name  string
		edit  func(f *outreach.Flow)
		flow  *outreach.Flow // instead of loopFlow with edit
		reply string         // a reply after the start, if any
		want  []string       // bodies sent, in order
	}{
		{name: "default footer on the first message only", reply: "n",
			want: []string{"Hi Ana Reply STOP to opt out.", "Ready? Reply YES or NO", "Ready? Reply YES or NO"}},
		{name: "re-ask of a first question gets no footer", reply: "what?",
			flow: &outreach.Flow{ID: "q", Steps: []outreach.Step{{ID: "q", Kind: outreach.StepAsk, Body: "Ready?", Answer: yesNo, Hint: "Yes or no."}}},
			want: []string{"Ready? Reply STOP to opt out.", "Yes or no. Ready?"}},
		{name: "custom footer", edit: func(f *outreach.Flow) { f.OptOutFooter = " Text STOP to end." },
			want: []string{"Hi Ana Text STOP to end.", "Ready? Reply YES or NO"}},
		{name: "footer turned off", edit: func(f *outreach.Flow) { f.NoOptOutFooter = true },
			want: []string{"Hi Ana", "Ready? Reply YES or NO"}},
		{name: "first message already mentions STOP", edit: func(f *outreach.Flow) { f.Steps[0].Body = "Hi {{recipient.first_name}}. Text stop to quit." },
			want: []string{"Hi Ana. Text stop to quit.", "Ready? Reply YES or NO"}},
		{name: "a word containing stop is no opt-out instruction", edit: func(f *outreach.Flow) { f.Steps[0].Body = "Hi {{recipient.first_name}}, nonstop care." },
			want: []string{"Hi Ana, nonstop care. Reply STOP to opt out.", "Ready? Reply YES or NO"}},
		{name: "one-way flow gets no footer",
			flow: &outreach.Flow{ID: "info", Steps: []outreach.Step{
				{ID: "a", Kind: outreach.StepSend, Body: "Your card is on its way.", Next: "b"},
				{ID: "b", Kind: outreach.StepEnd, Body: "Welcome!"}}},
			want: []string{"Your card is on its way.", "Welcome!"}},
		{name: "first message after a branch",
			flow: &outreach.Flow{ID: "br", Steps: []outreach.Step{
				{ID: "b", Kind: outreach.StepBranch, Var: "data.lang", Routes: []outreach.Route{{When: outreach.Condition{Equals: "es"}, Next: "es"}}, Next: "en"},
				{ID: "en", Kind: outreach.StepAsk, Body: "Ready?", Answer: yesNo},
				{ID: "es", Kind: outreach.StepAsk, Body: "¿Listo?", Answer: yesNo}}},
			want: []string{"Ready? Reply STOP to opt out."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.flow
			if f == nil {
				f = loopFlow()
			}
			if tc.edit != nil {
				tc.edit(f)
			}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			s, acts, err := outreach.Advance(f, 7, rec, outreach.State{}, start)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reply != "" {
				var more []outreach.Action
				_, more, err = outreach.Advance(f, 7, rec, s, outreach.Event{Type: outreach.EventReplied, Body: tc.reply})
				if err != nil {
					t.Fatal(err)
				}
				acts = append(acts, more...)
			}
			var got []string
			for _, a := range acts {
				if send, ok := a.(outreach.Send); ok {
					got = append(got, send.Body)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("sent %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestMentionsStop(t *testing.T) {
	for s, want := range map[string]bool{
		"Reply STOP to opt out.": true, "reply stop": true, "(Stop)": true, "STOP!": true,
		"nonstop": false, "stopped": false, "": false, "S T O P": false, "Reply END": false,
	} {
		if got := outreach.MentionsStop(s); got != want {
			t.Errorf("MentionsStop(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", outreach.MaxBodyLen+1)
	tests := []struct {
		name string
		edit func(f *outreach.Flow)
		want []string // "step: substring"
	}{
		{"valid", func(f *outreach.Flow) {}, nil},
		{"missing target", func(f *outreach.Flow) { f.Steps[0].Next = "nowhere" }, []string{`hello: no step "nowhere"`, "q: cannot be reached"}},
		{"unreachable", func(f *outreach.Flow) {
			f.Steps = append(f.Steps, outreach.Step{ID: "orphan", Kind: outreach.StepEnd})
		}, []string{"orphan: cannot be reached"}},
		{"loop with no wait", func(f *outreach.Flow) {
			f.Steps[0].Next = "again"
			f.Steps = append(f.Steps, outreach.Step{ID: "again", Kind: outreach.StepSend, Body: "x", Next: "hello"})
		}, []string{"loop with no wait", "q: cannot be reached"}},
		{"unknown variable", func(f *outreach.Flow) { f.Steps[0].Body = "Hi {{patient.name}}" }, []string{`hello: unknown variable "patient.name"`}},
		{"answer of a non-ask step", func(f *outreach.Flow) { f.Steps[0].Body = "Hi {{answers.hello}}" }, []string{`names no ask step`}},
		{"bad template", func(f *outreach.Flow) { f.Steps[0].Body = "Hi {{recipient.first_name" }, []string{"hello: body: template"}},
		{"empty body", func(f *outreach.Flow) { f.Steps[0].Body = "  " }, []string{"hello: body: the message is empty"}},
		{"long body", func(f *outreach.Flow) { f.Steps[0].Body = long }, []string{"1601 characters"}},
		{"duplicate id", func(f *outreach.Flow) { f.Steps[5].ID = "low" }, []string{"low: id: another step"}},
		{"route to a value that is no choice", func(f *outreach.Flow) { f.Steps[1].Routes[0].When.Equals = "maybe" }, []string{`"maybe" is not one of`}},
		{"unknown kind", func(f *outreach.Flow) { f.Steps[4].Kind = "wait" }, []string{`low: kind: unknown kind "wait"`}},
		{"end step with a failure path", func(f *outreach.Flow) { f.Steps[4].OnFailure = "bye" }, []string{"low: on_failure: not a field of end steps"}},
		{"first message too long with the footer", func(f *outreach.Flow) {
			f.Steps[0].Body = strings.Repeat("x", outreach.MaxBodyLen-10)
		}, []string{"hello: body: the first message with the opt-out footer is 1613 characters"}},
		{"first message at the limit with the footer", func(f *outreach.Flow) {
			f.Steps[0].Body = strings.Repeat("x", outreach.MaxBodyLen-len(outreach.DefaultOptOutFooter))
		}, nil},
		{"long first message that mentions STOP gets no footer", func(f *outreach.Flow) {
			f.Steps[0].Body = strings.Repeat("x", outreach.MaxBodyLen-20) + " Text STOP to quit"
		}, nil},
		{"long first message with the footer off", func(f *outreach.Flow) {
			f.Steps[0].Body = strings.Repeat("x", outreach.MaxBodyLen)
			f.NoOptOutFooter = true
		}, nil},
		{"later message is not the first", func(f *outreach.Flow) { f.Steps[4].Body = strings.Repeat("x", outreach.MaxBodyLen) }, nil},
		{"footer without STOP", func(f *outreach.Flow) { f.OptOutFooter = " Reply END to quit." }, []string{"opt_out_footer: the footer must tell how to opt out"}},
		{"footer with a variable", func(f *outreach.Flow) { f.OptOutFooter = " {{recipient.first_name}}, reply STOP." }, []string{"opt_out_footer: the footer is plain text"}},
		{"blank footer", func(f *outreach.Flow) { f.OptOutFooter = "  " }, []string{"opt_out_footer: the footer is blank"}},
		{"footer set and turned off", func(f *outreach.Flow) {
			f.OptOutFooter = " Reply STOP to quit."
			f.NoOptOutFooter = true
		}, []string{"opt_out_footer: no_opt_out_footer turns the footer off"}},
		{"footer too long", func(f *outreach.Flow) { f.OptOutFooter = " STOP" + strings.Repeat("!", 160) }, []string{"opt_out_footer: the footer is 165 characters"}},
		{"custom footer counts in the first message", func(f *outreach.Flow) {
			f.OptOutFooter = " Text STOP to end these messages."
			f.Steps[0].Body = strings.Repeat("x", outreach.MaxBodyLen-30)
		}, []string{"hello: body: the first message with the opt-out footer is 1603 characters"}},
		{"re-ask too long", func(f *outreach.Flow) {
			f.Steps[1].Body = strings.Repeat("q", 900)
			f.Steps[1].Hint = strings.Repeat("h", 900)
		}, []string{"q: hint: the re-ask"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := loopFlow()
			tc.edit(f)
			err := f.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *outreach.FlowError
			if !errors.As(err, &fe) || !errors.Is(err, outreach.ErrInvalidFlow) {
				t.Fatalf("Validate = %v, want a *FlowError", err)
			}
			for _, w := range tc.want {
				stepID, sub, ok := strings.Cut(w, ": ")
				found := false
				for _, p := range fe.Problems {
					if ok && p.Step == stepID && strings.Contains(p.String(), sub) || strings.Contains(p.String(), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem %q in %v", w, fe.Problems)
				}
			}
		})
	}
}

func TestMatchAnswer(t *testing.T) {
	yn := &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
		{Value: "yes", Synonyms: []string{"y", "yeah", "yep"}}, {Value: "no", Synonyms: []string{"n", "nope"}}}}
	pain := &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: ptr(0.0), Max: ptr(10.0)}
	bmi := &outreach.AnswerSpec{Kind: outreach.AnswerNumber, Min: ptr(10.0), Max: ptr(80.0)}
	tests := []struct {
		spec  *outreach.AnswerSpec
		reply string
		want  string
		ok    bool
	}{
		{yn, "YES", "yes", true}, {yn, " y. ", "yes", true}, {yn, "Yeah yep", "yes", true}, {yn, "Yeah sure", "", false},
		{yn, "nope!", "no", true}, {yn, "maybe", "", false}, {yn, "", "", false},
		{yn, "N/A", "", false}, {yn, "y'all know", "", false}, {yn, "Y, thanks", "yes", true},
		{pain, "7", "7", true}, {pain, "7/10", "7", true}, {pain, "about 7", "7", true},
		{pain, "11", "", false}, {pain, "3 or 4", "", false}, {pain, "7.5", "", false}, {pain, "seven", "7", true}, {pain, "I took 2 pills", "", false}, {pain, "was 2 yesterday, today it's worse", "", false},
		{bmi, "22.5", "22.5", true}, {bmi, "22,5", "", false}, {bmi, "5", "", false},
		{nil, " hello ", "hello", true}, {nil, "?!", "", false},
	}
	for _, tc := range tests {
		got, ok := outreach.MatchAnswer(tc.spec, tc.reply)
		if got != tc.want || ok != tc.ok {
			t.Errorf("MatchAnswer(%v, %q) = %q, %v; want %q, %v", tc.spec.Kind, tc.reply, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRender(t *testing.T) {
	rec := outreach.Recipient{ID: "p1", FirstName: "Ana", Phone: "+1", Attrs: map[string]string{"clinic": "North"}}
	tests := []struct{ tmpl, want, err string }{
		{"Hi {{recipient.first_name}} from {{ data.clinic }}", "Hi Ana from North", ""},
		{"{{answers.pain}}/10 {{data.missing}}.", "7/10 .", ""},
		{"Hi {{recipient.first_name", "", "not closed"},
		{"Hi }} there", "", "no \"{{\""},
		{"{{nope}}", "", "not a variable name"},
		{"{{patient.x}}", "", "unknown variable"},
	}
	for _, tc := range tests {
		got, err := outreach.Render(tc.tmpl, rec, map[string]string{"pain": "7"})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Render(%q) error %v, want %q", tc.tmpl, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func TestParseKeyword(t *testing.T) {
	tests := map[string]outreach.Keyword{
		"STOP": outreach.KeywordStop, " stop. ": outreach.KeywordStop, "Unsubscribe!": outreach.KeywordStop,
		"cancel": outreach.KeywordStop, "END": outreach.KeywordStop, "quit": outreach.KeywordStop,
		"revoke": outreach.KeywordStop, "OPTOUT": outreach.KeywordStop, "stopall": outreach.KeywordStop,
		"start": outreach.KeywordStart, "UNSTOP": outreach.KeywordStart,
		"help": outreach.KeywordHelp, "Info?": outreach.KeywordHelp,
		"please stop": outreach.KeywordStop, "yes": outreach.NoKeyword, "": outreach.NoKeyword,
	}
	for in, want := range tests {
		if got := outreach.ParseKeyword(in); got != want {
			t.Errorf("ParseKeyword(%q) = %v, want %v", in, got, want)
		}
	}
}
