package simphone_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

func Example() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC))
	net := simphone.New(clock, 1)
	net.Add("+14155550100", simphone.Persona{Responder: simphone.Scripted("7", "STOP")})
	sender := simphone.NewSender(net) // an outreach.Sender

	for _, body := range []string{
		"Hi Ann, thanks for visiting the clinic.",
		"On a scale of 0-10, how is your pain?",
		"Would you like to speak to someone about your pain? YES/NO",
	} {
		m := outreach.OutboundMessage{From: "+15005550006", To: "+14155550100", Body: body}
		if _, err := sender.Send(ctx, m); err != nil {
			fmt.Println(err)
		}
	}

	// Jump the clock from reply to reply, as a simulation does.
	for {
		at, ok := net.NextDue()
		if !ok {
			break
		}
		clock.Set(at)
		for _, in := range net.Due(clock.Now()) {
			fmt.Println(in.ReceivedAt.Format("15:04"), in.Body)
		}
	}

	_, err := sender.Send(ctx, outreach.OutboundMessage{From: "+15005550006", To: "+14155550100", Body: "Goodbye"})
	fmt.Println(err)
	// Output:
	// 10:01 7
	// 10:01 STOP
	// send permanent (code 21610): the recipient has opted out of messages from this sender (STOP)
}

// A whole campaign on simulated phones and a simulated clock, as a test
// of your own flows would run it.
func ExampleNewSimulation() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC))
	sim := simphone.NewSimulation(memstore.New(), clock, 1, outreach.RunnerOptions{
		From: "+15005550006", Window: outreach.AnyHour, NoThrottle: true, Logger: slog.New(slog.DiscardHandler),
	})
	sim.Network.Add("+14155550100", simphone.Persona{Responder: simphone.Scripted("it's a 7")})
	zero, ten := 0.0, 10.0
	flow := &outreach.Flow{ID: "pain", Steps: []outreach.Step{
		{ID: "ask_pain", Kind: outreach.StepAsk, Body: "How is your pain from 0 to 10? Reply STOP to opt out.",
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten}, Next: "bye"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "answered"},
	}}
	c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "pain", Flow: flow}, []outreach.Recipient{{ID: "p-1", Phone: "+14155550100"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	rs, _ := sim.Store.Responses(ctx, c.ID, outreach.ResponsePage{})
	for _, r := range rs {
		fmt.Printf("%s: %q read as %s\n", r.QuestionID, r.Raw, r.Answer)
	}
	// Output:
	// ask_pain: "it's a 7" read as 7
}
