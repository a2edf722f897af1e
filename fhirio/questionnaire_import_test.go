package fhirio_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/fhirio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// TestQuestionnaireRoundTrip: every built-in flow's Questionnaire imports
// as a flow with the same questions, kinds and choices.
func TestQuestionnaireRoundTrip(t *testing.T) {
	for _, name := range flows.BuiltinNames() {
		f, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := fhirio.MarshalQuestionnaire(fhirio.Questionnaire(f, "https://clinic.example.org/fhir/Questionnaire/"+f.ID))
		if err != nil {
			t.Fatal(err)
		}
		g, err := fhirio.FlowFromQuestionnaire(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want, got []string
		for _, st := range f.Steps {
			if st.Kind == outreach.StepAsk {
				want = append(want, describeAsk(st))
			}
		}
		for _, st := range g.Steps {
			if st.Kind == outreach.StepAsk {
				got = append(got, describeAsk(st))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: questions\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func describeAsk(st outreach.Step) string {
	s := st.ID + " " + st.Body
	if st.Answer != nil {
		s += " " + string(st.Answer.Kind)
		for _, c := range st.Answer.Choices {
			s += " " + c.Value
		}
	}
	return s
}

const screening = `{"resourceType":"Questionnaire","name":"flu-screening","title":"Flu screening","status":"active","item":[
 {"linkId":"intro","type":"display","text":"A few questions about the flu shot."},
 {"linkId":"had","type":"choice","text":"Have you had a flu shot this year? Reply YES or NO","answerOption":[{"valueCoding":{"code":"yes"}},{"valueCoding":{"code":"no"}}]},
 {"linkId":"group","type":"group","item":[
  {"linkId":"why","type":"string","text":"Why not?","enableWhen":[{"question":"had","operator":"=","answerCoding":{"code":"no"}}]},
  {"linkId":"age","type":"integer","text":"How old are you?"},
  {"linkId":"risk","type":"choice","text":"Do you have asthma or diabetes? Reply YES or NO","answerOption":[{"valueString":"yes"},{"valueString":"no"}],
   "enableBehavior":"any","enableWhen":[{"question":"age","operator":">","answerInteger":64},{"question":"had","operator":"!=","answerCoding":{"code":"yes"}}]}]}]}`

// TestQuestionnaireBranches runs an imported Questionnaire whose items
// depend on earlier answers: each patient is asked exactly what its
// enableWhen allows.
func TestQuestionnaireBranches(t *testing.T) {
	f, err := fhirio.FlowFromQuestionnaire([]byte(screening))
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "flu-screening" || f.Name != "Flu screening" {
		t.Errorf("flow %q %q", f.ID, f.Name)
	}
	for _, tc := range []struct {
		replies []string
		asked   []string
	}{
		{[]string{"yes", "40"}, []string{"had", "age"}},               // had one, young: nothing more
		{[]string{"yes", "70", "no"}, []string{"had", "age", "risk"}}, // over 64
		{[]string{"no", "not needed", "30", "yes"}, []string{"had", "why", "age", "risk"}},
	} {
		ctx := context.Background()
		clock := outreach.NewManualClock(now)
		phones := simphone.New(clock, 1)
		phones.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted(tc.replies...), Delay: time.Minute})
		store := memstore.New()
		runner := outreach.NewRunner(store, simphone.NewSender(phones), outreach.RunnerOptions{From: "+15005550006", Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		sim := simphone.Simulation{Runner: runner, Store: store, Network: phones, Clock: clock}
		c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "q", Flow: f}, []outreach.Recipient{{ID: "p1", Phone: "+14406443709"}})
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := store.Responses(ctx, c.ID, outreach.ResponsePage{})
		var asked []string
		for _, r := range resp {
			asked = append(asked, r.QuestionID)
		}
		if !slices.Equal(asked, tc.asked) {
			t.Errorf("replies %q: answered %q, want %q", tc.replies, asked, tc.asked)
		}
	}
}

func TestQuestionnaireRefused(t *testing.T) {
	for _, tc := range []struct{ q, want string }{
		{`{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"d","type":"date","text":"When?"}]}`, "Questionnaire.item[0]: items of type date"},
		{`{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"string","text":"A?","enableWhen":[{"question":"b","operator":"=","answerString":"x"}]},{"linkId":"b","type":"string","text":"B?"}]}`, "not an earlier question"},
		{`{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"decimal","text":"A?"},{"linkId":"b","type":"string","text":"B?","enableWhen":[{"question":"a","operator":">","answerDecimal":1.5}]}]}`, "on integers only"},
		{`{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"string","text":"A?"},{"linkId":"b","type":"string","text":"B?","enableWhen":[{"question":"a","operator":"exists","answerBoolean":true}]}]}`, "answerBoolean is not supported"},
		{`{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"choice","text":"A?","answerValueSet":"http://x"}]}`, "answerValueSet"},
		{`{"resourceType":"Questionnaire","status":"draft2"}`, "not one of"},
	} {
		_, err := fhirio.FlowFromQuestionnaire([]byte(tc.q))
		if !errors.Is(err, fhirio.ErrQuestionnaire) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.q, err, tc.want)
		}
	}
}
