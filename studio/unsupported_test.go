package studio_test

import (
	"encoding/json"
	"testing"

	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

// TestStudioUnsupportedOutcome: a campaign whose flow was edited in the
// console to hand the conversation to a widget the local interpreter
// does not run (send-to-flex) ends that conversation with the outcome
// "unsupported: send-to-flex", counted in the campaign's progress.
func TestStudioUnsupportedOutcome(t *testing.T) {
	t.Parallel()
	r := newStudioRig(t, rigOptions{noThrottle: true})
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "flex", Flow: flow}, recipients(2, r.net, [][]string{{"3", "yes"}}))
	if err != nil {
		t.Fatal(err)
	}
	// The console edit: the trigger now goes to a send-to-flex widget.
	def, err := studio.FromFlow(flow)
	if err != nil {
		t.Fatal(err)
	}
	def.States = append(def.States, studio.State{
		Name: "handoff", Type: "send-to-flex",
		Properties:  json.RawMessage(`{"workflow":"WW00000000000000000000000000000000","channel":"TC00000000000000000000000000000000","attributes":"{}"}`),
		Transitions: []studio.Transition{{Event: "callComplete"}, {Event: "failedToEnqueue"}, {Event: "callFailure"}},
	})
	for i := range def.States {
		if s := &def.States[i]; s.Type == studio.TypeTrigger {
			for j := range s.Transitions {
				if s.Transitions[j].Event == studio.EventIncomingRequest {
					s.Transitions[j].Next = "handoff"
				}
			}
		}
	}
	b, err := def.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var defJSON any
	if err := json.Unmarshal(b, &defJSON); err != nil {
		t.Fatal(err)
	}
	p := &studioapi.UpdateFlowParams{}
	p.SetStatus("published").SetDefinition(defJSON)
	if _, err := r.srv.Client().StudioV2.UpdateFlow(c.RuntimeRef, p); err != nil {
		t.Fatal(err)
	}

	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r.drive(c.ID)
	prog, err := r.rt.Progress(r.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := prog.Outcomes[outreach.UnsupportedOutcome("send-to-flex")]; got != 2 || len(prog.Outcomes) != 1 {
		t.Fatalf("outcomes %v; want both conversations %q", prog.Outcomes, "unsupported: send-to-flex")
	}
}
