package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// TestSimulation runs a whole campaign through the runner on this store,
// with simulated phones on a simulated clock: every patient answers, and
// the one who texts STOP is opted out.
func TestSimulation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.Open(t)
	sim := simphone.NewSimulation(s, clocktest.Manual(t), 1, outreach.RunnerOptions{
		From: "+15005550006", Window: outreach.AnyHour, NoThrottle: true, Logger: slog.New(slog.DiscardHandler),
	})
	const n = 12
	var recipients []outreach.Recipient
	for i := range n {
		phone := fmt.Sprintf("+1415555%04d", i)
		reply := fmt.Sprintf("it's a %d", i%10)
		if i == 0 {
			reply = "STOP"
		}
		sim.Network.Add(phone, simphone.Persona{Responder: simphone.Scripted(reply)})
		recipients = append(recipients, outreach.Recipient{ID: fmt.Sprint("p-", i), Phone: phone})
	}
	zero, ten := 0.0, 10.0
	flow := &outreach.Flow{ID: "pain", Steps: []outreach.Step{
		{ID: "ask_pain", Kind: outreach.StepAsk, Body: "How is your pain from 0 to 10? Reply STOP to opt out.",
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten}, Next: "bye"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "answered"},
	}}
	c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "pain", Flow: flow}, recipients)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Progress(ctx, c.ID, clocktest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != n || p.Done != n || p.Outcomes["answered"] != n-1 {
		t.Fatalf("progress = %+v; want %d done, %d answered", p, n, n-1)
	}
	rs, err := s.Responses(ctx, c.ID, outreach.ResponsePage{})
	if err != nil || len(rs) != n-1 {
		t.Fatalf("%d responses, %v; want %d", len(rs), err, n-1)
	}
	out, err := s.OptedOut(ctx, []string{recipients[0].Phone, recipients[1].Phone})
	if err != nil || !out[recipients[0].Phone] || out[recipients[1].Phone] {
		t.Fatalf("OptedOut = %v, %v; want only the first patient", out, err)
	}
}
