package outreach_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

func checkIn() *outreach.Flow {
	zero, ten := 0.0, 10.0
	return &outreach.Flow{
		ID: "check-in",
		Steps: []outreach.Step{
			{ID: "ask_pain", Kind: outreach.StepAsk, Body: "Hi {{recipient.first_name}}, how is your pain from 0 to 10? Reply with a number.",
				Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten},
				Routes: []outreach.Route{{When: outreach.Condition{Min: &ten}, Next: "call"}},
				Next:   "thanks"},
			{ID: "call", Kind: outreach.StepEnd, Body: "A nurse will call you today.", Outcome: "call"},
			{ID: "thanks", Kind: outreach.StepEnd, Body: "Thank you, {{recipient.first_name}}. You said {{answers.ask_pain}}.", Outcome: "ok"},
		},
	}
}

// A campaign on the embedded runtime: a memory store, simulated phones and
// a manual clock, driven until every conversation has ended.
func ExampleRunner() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC))
	phones := simphone.New(clock, 1)
	phones.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("about a 3"), Delay: 2 * time.Minute})
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(phones), outreach.RunnerOptions{
		From: "+15005550006", Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})

	recipients := []outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: "+14406443709"}}
	c, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: checkIn()}, recipients)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := runner.StartCampaign(ctx, c.ID); err != nil {
		fmt.Println(err)
		return
	}
	// In a service: go runner.Run(ctx), and HandleInbound from the SMS webhook.
	sim := &simphone.Simulation{Runner: runner, Store: store, Network: phones, Clock: clock}
	if _, err := sim.Run(ctx, c.ID); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range phones.Phone("+14406443709").Inbox() {
		fmt.Println(m.Body)
	}
	resp, _ := store.Responses(ctx, c.ID, outreach.ResponsePage{})
	fmt.Printf("%s: %q -> %s\n", resp[0].QuestionID, resp[0].Raw, resp[0].Answer)
	// Output:
	// Hi Ana, how is your pain from 0 to 10? Reply with a number. Reply STOP to opt out.
	// Thank you, Ana. You said 3.
	// ask_pain: "about a 3" -> 3
}

// The engine is pure: state and event in, state and actions out. The first
// message of a two-way flow ends with the opt-out footer.
func ExampleAdvance() {
	f := checkIn()
	ana := outreach.Recipient{ID: "p-1", FirstName: "Ana", Phone: "+14406443709"}
	show := func(acts []outreach.Action) {
		for _, a := range acts {
			fmt.Printf("%T %v\n", a, a)
		}
	}
	s, acts, _ := outreach.Advance(f, 1, ana, outreach.State{}, outreach.Event{Type: outreach.EventStart})
	show(acts)
	at := time.Date(2026, 3, 2, 15, 4, 0, 0, time.UTC)
	_, acts, _ = outreach.Advance(f, 1, ana, s, outreach.Event{Type: outreach.EventReplied, Body: "10", At: at})
	show(acts)
	// Output:
	// outreach.Send {1/ask_pain/1 Hi Ana, how is your pain from 0 to 10? Reply with a number. Reply STOP to opt out.}
	// outreach.ScheduleTimeout {1/ask_pain/1 6m0s}
	// outreach.RecordAnswer {ask_pain 10 10  2026-03-02 15:04:00 +0000 UTC}
	// outreach.Send {1/call/1 A nurse will call you today.}
	// outreach.Finish {call}
}

func ExamplePreview() {
	msgs, err := outreach.Preview(checkIn(), outreach.Recipient{FirstName: "Ana"})
	fmt.Println(msgs, err)
	// Output: [Hi Ana, how is your pain from 0 to 10? Reply with a number. Reply STOP to opt out.] <nil>
}

// The first message of a two-way flow tells the patient how to opt out,
// unless it already says so.
func ExampleFlow_WithOptOut() {
	f := checkIn()
	fmt.Println(f.WithOptOut("Hi Ana, how is your pain?"))
	fmt.Println(f.WithOptOut("Hi Ana. Text STOP to end."))
	f.OptOutFooter = " Text STOP to end these messages."
	fmt.Println(f.WithOptOut("Hi Ana, how is your pain?"))
	f.NoOptOutFooter, f.OptOutFooter = true, ""
	fmt.Println(f.WithOptOut("Hi Ana, how is your pain?"))
	// Output:
	// Hi Ana, how is your pain? Reply STOP to opt out.
	// Hi Ana. Text STOP to end.
	// Hi Ana, how is your pain? Text STOP to end these messages.
	// Hi Ana, how is your pain?
}

// A flow that patients start by texting a keyword to the campaign's
// number: the campaign starts with no recipients, and each text of JOIN
// that reaches no conversation starts one.
func ExampleTrigger() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC))
	phones := simphone.New(clock, 1)
	phones.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("no thanks"), Delay: time.Minute})
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(phones), outreach.RunnerOptions{
		From: "+15005550006", Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	// No {{recipient.first_name}}: who texts in is known by number only.
	flow := &outreach.Flow{
		ID:      "flu-shot",
		Trigger: &outreach.Trigger{Keywords: []string{"JOIN", "UNETE"}},
		Steps: []outreach.Step{
			{ID: "ask_shot", Kind: outreach.StepAsk, Body: "Thanks for texting. Would you like a flu shot appointment? Reply YES or NO",
				Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "yes"}, {Value: "no"}}},
				Routes: []outreach.Route{{When: outreach.Condition{Equals: "yes"}, Next: "book"}},
				Next:   "bye"},
			{ID: "book", Kind: outreach.StepEnd, Body: "We will call you to book it.", Outcome: "book"},
			{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you. Text JOIN any time.", Outcome: "declined"},
		},
	}
	c, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "text JOIN", Flow: flow}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := runner.StartCampaign(ctx, c.ID); err != nil {
		fmt.Println(err)
		return
	}
	// The patient texts first; the simulation hands the text to
	// HandleInbound, as the webhook would.
	phones.Phone("+14406443709").Text("+15005550006", "join")
	sim := simphone.Simulation{Runner: runner, Store: store, Network: phones, Clock: clock}
	if _, err := sim.Run(ctx, c.ID); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range phones.Phone("+14406443709").Inbox() {
		fmt.Println(m.Body)
	}
	// Output:
	// Thanks for texting. Would you like a flu shot appointment? Reply YES or NO Reply STOP to opt out.
	// Thank you. Text JOIN any time.
}

// A campaign from a recipients file of any size: csvio reads it a row at
// a time, and CreateCampaignFrom stores its valid rows in batches as they
// are read, so memory does not grow with the file. (Read the file once
// before, with csvio.ReadAll or a RecipientReader, to report its errors.)
func ExampleCreateCampaignFrom() {
	ctx := context.Background()
	file := strings.NewReader("patient_id,patient_first_name,patient_phone\n" +
		"p-1,Ana,(440) 644-3709\n" +
		"p-2,Ben,not a phone\n" +
		"p-3,Chen,+1 808 941 2275\n")
	clock := outreach.NewManualClock(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC))
	runner := outreach.NewRunner(memstore.New(), simphone.NewSender(simphone.New(clock, 1)), outreach.RunnerOptions{From: "+15005550006", Clock: clock})

	rows, err := csvio.NewRecipientReader(file, csvio.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, added, err := outreach.CreateCampaignFrom(ctx, runner, outreach.NewCampaign{Name: "check-in", Flow: checkIn()}, csvio.Recipients(ctx, rows))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Status, added, "recipients")
	// Output:
	// draft 2 recipients
}
