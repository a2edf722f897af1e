package fhirio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/fhirio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// surveyFlow asks a choice, an integer, a decimal and a text question.
func surveyFlow() *outreach.Flow {
	zero, ten := 0.0, 10.0
	return &outreach.Flow{ID: "post-visit", Name: "Post-visit survey", Steps: []outreach.Step{
		{ID: "ok", Kind: outreach.StepAsk, Body: "Did the visit go well? Reply YES or NO",
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "yes"}, {Value: "no"}}}, Next: "pain"},
		{ID: "pain", Kind: outreach.StepAsk, Body: "Pain from 0 to 10?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten}, Next: "temp"},
		{ID: "temp", Kind: outreach.StepAsk, Body: "Your temperature in F?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerNumber}, Next: "note"},
		{ID: "note", Kind: outreach.StepAsk, Body: "Anything else?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerText}, Next: "bye"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "answered"},
	}}
}

// runSurvey runs surveyFlow on simulated phones: Ana answers every
// question, Bo the first and then texts STOP.
func runSurvey(t *testing.T) (*memstore.Store, outreach.Campaign) {
	t.Helper()
	clock := outreach.NewManualClock(now)
	phones := simphone.New(clock, 1)
	phones.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("yes", "7", "99.5", "my knee hurts"), Delay: time.Minute})
	phones.Add("+12125550143", simphone.Persona{Responder: simphone.Scripted("no", "STOP"), Delay: time.Minute})
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(phones), outreach.RunnerOptions{
		From: "+15005550006", Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	sim := simphone.Simulation{Runner: runner, Store: store, Network: phones, Clock: clock}
	c, err := sim.RunCampaign(context.Background(), outreach.NewCampaign{Name: "survey", Flow: surveyFlow()}, []outreach.Recipient{
		{ID: "p1", FirstName: "Ana", Phone: "+14406443709"}, {ID: "p2", FirstName: "Bo", Phone: "+12125550143"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return store, c
}

// TestWriteResponses runs a campaign on simulated phones and checks the
// QuestionnaireResponses written for it: status by how each
// conversation ended, subject, authored, typed answers.
func TestWriteResponses(t *testing.T) {
	ctx := context.Background()
	store, c := runSurvey(t)
	const url = "https://clinic.example.org/fhir/Questionnaire/post-visit"
	var out bytes.Buffer
	n, err := fhirio.WriteResponses(ctx, &out, store, c, fhirio.ResponseOptions{Questionnaire: url})
	if err != nil || n != 2 {
		t.Fatalf("WriteResponses = %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var ana, bo map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ana); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &bo); err != nil {
		t.Fatal(err)
	}
	wantAna := `{"resourceType":"QuestionnaireResponse","id":"outreach-1","identifier":{"system":"urn:patient-outreach:conversation","value":"1"},` +
		`"questionnaire":"` + url + `","status":"completed","subject":{"reference":"Patient/p1"},"authored":"2026-03-02T17:04:00Z","item":[` +
		`{"linkId":"ok","answer":[{"valueCoding":{"system":"` + url + `/ok","code":"yes","display":"yes"}}]},` +
		`{"linkId":"pain","answer":[{"valueInteger":7}]},` +
		`{"linkId":"temp","answer":[{"valueDecimal":99.5}]},` +
		`{"linkId":"note","answer":[{"valueString":"my knee hurts"}]}]}`
	if got, _ := json.Marshal(ana); !jsonEqual(t, got, wantAna) {
		t.Errorf("Ana's response:\n%s\nwant\n%s", got, wantAna)
	}
	if bo["status"] != "stopped" {
		t.Errorf("Bo texted STOP: status %v, want stopped", bo["status"])
	}
	if items, _ := bo["item"].([]any); len(items) != 1 {
		t.Errorf("Bo answered one question: items %v", bo["item"])
	}
	// Communications: one per message; the text only when asked for.
	for _, payload := range []bool{false, true} {
		var comms bytes.Buffer
		k, err := fhirio.WriteCommunications(ctx, &comms, store, c, fhirio.CommunicationOptions{Payload: payload})
		if err != nil || k < 8 {
			t.Fatalf("WriteCommunications = %d, %v", k, err)
		}
		text := comms.String()
		if strings.Contains(text, "my knee hurts") != payload || strings.Contains(text, "contentAttachment") {
			t.Errorf("payload %v: %s", payload, text)
		}
		first := strings.SplitN(text, "\n", 2)[0]
		var m map[string]any
		if err := json.Unmarshal([]byte(first), &m); err != nil {
			t.Fatal(err)
		}
		if m["resourceType"] != "Communication" || m["status"] != "completed" || m["sent"] == nil || m["recipient"] == nil {
			t.Errorf("first message: %s", first)
		}
	}
	b, err := fhirio.TransactionBundle(nil)
	if err != nil || b.Type.Code() != "transaction" {
		t.Errorf("empty bundle: %+v, %v", b, err)
	}
}

func jsonEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestQuestionnaires exports every built-in flow: one item per ask step,
// typed, and each answerOption with exactly one value[x].
func TestQuestionnaires(t *testing.T) {
	for _, name := range append(flows.BuiltinNames(), "survey") {
		f := surveyFlow()
		if name != "survey" {
			var err error
			if f, err = flows.Builtin(name); err != nil {
				t.Fatal(err)
			}
		}
		data, err := fhirio.MarshalQuestionnaire(fhirio.Questionnaire(f, "https://clinic.example.org/fhir/Questionnaire/"+f.ID))
		if err != nil {
			t.Fatal(err)
		}
		var q struct {
			ResourceType, Status, Name string
			Item                       []struct {
				LinkID       string           `json:"linkId"`
				Type         string           `json:"type"`
				AnswerOption []map[string]any `json:"answerOption"`
			}
		}
		if err := json.Unmarshal(data, &q); err != nil {
			t.Fatal(err)
		}
		asks := 0
		for _, st := range f.Steps {
			if st.Kind == outreach.StepAsk {
				asks++
			}
		}
		if q.ResourceType != "Questionnaire" || q.Status != "active" || q.Name == "" || len(q.Item) != asks {
			t.Fatalf("%s: %s", name, data)
		}
		for _, it := range q.Item {
			if it.Type == "choice" && len(it.AnswerOption) == 0 {
				t.Errorf("%s: choice item %s has no options", name, it.LinkID)
			}
			for _, o := range it.AnswerOption {
				if len(o) != 1 || o["valueCoding"] == nil {
					t.Errorf("%s: item %s: answerOption %v: want one valueCoding", name, it.LinkID, o)
				}
			}
		}
	}
}

// TestQuestionnaireEnableWhen: questions asked only after certain answers
// carry enableWhen, with the one answer[x] the question's type calls
// for; the Questionnaire imports back as a flow that asks the same.
func TestQuestionnaireEnableWhen(t *testing.T) {
	seven := 7.0
	f := &outreach.Flow{ID: "visit", Steps: []outreach.Step{
		{ID: "ok", Kind: outreach.StepAsk, Body: "Did it go well? Reply YES or NO",
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "yes"}, {Value: "no"}}},
			Routes: []outreach.Route{{When: outreach.Condition{Equals: "no"}, Next: "why"}}, Next: "pain"},
		{ID: "why", Kind: outreach.StepAsk, Body: "What went wrong?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerText}, Next: "pain"},
		{ID: "pain", Kind: outreach.StepAsk, Body: "Pain from 0 to 10?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger},
			Routes: []outreach.Route{{When: outreach.Condition{Min: &seven}, Next: "call"}}, Next: "bye"},
		{ID: "call", Kind: outreach.StepAsk, Body: "Shall a nurse call? Reply YES or NO",
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "yes"}, {Value: "no"}}}, Next: "bye"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "answered"},
	}}
	data, err := fhirio.MarshalQuestionnaire(fhirio.Questionnaire(f, "https://clinic.example.org/fhir/Questionnaire/visit"))
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		Item []struct {
			LinkID         string           `json:"linkId"`
			EnableWhen     []map[string]any `json:"enableWhen"`
			EnableBehavior string           `json:"enableBehavior"`
		} `json:"item"`
	}
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range q.Item {
		b, _ := json.Marshal(it.EnableWhen)
		got[it.LinkID] = it.EnableBehavior + " " + strings.ReplaceAll(string(b), `\u003e`, ">")
	}
	want := map[string]string{
		"ok":   " null",
		"why":  `any [{"answerCoding":{"code":"no"},"operator":"=","question":"ok"}]`,
		"pain": " null",
		"call": `all [{"answerInteger":7,"operator":">=","question":"pain"}]`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("item %s: %s, want %s", k, got[k], v)
		}
	}
	g, err := fhirio.FlowFromQuestionnaire(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
}
