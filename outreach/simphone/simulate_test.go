package simphone_test

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// TestSimulationStep runs one campaign with the clock moving from event
// to event and in steps of a minute: replies sent just before and just
// after a six-minute timeout, and one sent at once, end the same ways; in
// steps, every message goes out at the start plus whole minutes, and the
// replies keep the times the patients sent them.
func TestSimulationStep(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC)
	zero, ten := 0.0, 10.0
	flow := &outreach.Flow{ID: "pain", Steps: []outreach.Step{
		{ID: "ask_pain", Kind: outreach.StepAsk, Body: "How is your pain from 0 to 10?", Timeout: outreach.Duration(6 * time.Minute),
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten}, Next: "bye", OnTimeout: "late"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "answered"},
		{ID: "late", Kind: outreach.StepEnd, Outcome: "timeout"},
	}}
	delays := map[string]time.Duration{
		"+14155550101": 6*time.Minute - time.Second, // before the deadline
		"+14155550102": 6*time.Minute + time.Second, // after it
		"+14155550103": 17 * time.Second,
		"+14155550104": -1, // at once
	}
	run := func(step time.Duration) (map[string]string, *simphone.Simulation) {
		clock := outreach.NewManualClock(start)
		sim := simphone.NewSimulation(memstore.New(), clock, 1, outreach.RunnerOptions{
			From: "+15005550006", Window: outreach.AnyHour, NoThrottle: true, Logger: slog.New(slog.DiscardHandler),
		})
		sim.Step = step
		var recs []outreach.Recipient
		for number, d := range delays {
			sim.Network.Add(number, simphone.Persona{Responder: simphone.Scripted("7"), Delay: d})
			recs = append(recs, outreach.Recipient{ID: number, Phone: number})
		}
		c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "pain", Flow: flow}, recs)
		if err != nil {
			t.Fatalf("step %v: %v", step, err)
		}
		convs, err := sim.Store.Conversations(ctx, c.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, cv := range convs {
			out[cv.Recipient.Phone] = cv.Outcome
		}
		return out, sim
	}
	want := map[string]string{"+14155550101": "answered", "+14155550102": "timeout", "+14155550103": "answered", "+14155550104": "answered"}
	exact, _ := run(0)
	if !reflect.DeepEqual(exact, want) {
		t.Fatalf("event to event: outcomes %v, want %v", exact, want)
	}
	stepped, sim := run(time.Minute)
	if !reflect.DeepEqual(stepped, want) {
		t.Fatalf("in steps of a minute: outcomes %v, want %v", stepped, want)
	}
	for _, m := range sim.Network.Messages() {
		if d := m.At.Sub(start); d%time.Minute != 0 {
			t.Errorf("message %v sent %v after the start, not a whole number of minutes", m.Key, d)
		}
	}
	for number, d := range delays {
		replies := sim.Network.Phone(number).Replies()
		if len(replies) != 1 {
			t.Fatalf("%s sent %d replies, want 1", number, len(replies))
		}
		if got := replies[0].At.Sub(start); got != max(d, 0) {
			t.Errorf("%s replied %v after the start, want %v", number, got, max(d, 0))
		}
	}
}
