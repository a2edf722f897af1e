package outreach_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
)

func TestTriggerMatches(t *testing.T) {
	join := &outreach.Trigger{Keywords: []string{"JOIN", "unete"}}
	for _, tc := range []struct {
		t    *outreach.Trigger
		body string
		want bool
	}{
		{join, "JOIN", true},
		{join, "join", true},
		{join, "  Join!", true},
		{join, "join me please", true},
		{join, "¿Únete?", false}, // Ú is no ASCII letter: the first word is "nete"
		{join, "UNETE ya", true},
		{join, "joining", false},
		{join, "I want to join", false},
		{join, "", false},
		{join, "🙂 join", true},
		{join, "join2", false},
		{&outreach.Trigger{}, "anything at all", true},
		{&outreach.Trigger{}, "", true},
		{nil, "join", false},
	} {
		if got := tc.t.Matches(tc.body); got != tc.want {
			t.Errorf("%+v.Matches(%q) = %v, want %v", tc.t, tc.body, got, tc.want)
		}
	}
}

func TestTriggerValidate(t *testing.T) {
	for _, tc := range []struct {
		keywords []string
		problem  string // in the error; "" for none
	}{
		{[]string{"JOIN", "flu2026"}, ""},
		{nil, ""},
		{[]string{"join us"}, "one word"},
		{[]string{""}, "one word"},
		{[]string{"júntate"}, "one word"},
		{[]string{"JOIN", "join"}, "listed twice"},
		{[]string{"STOP"}, "cannot start a flow"},
		{[]string{"help"}, "cannot start a flow"},
		{[]string{"Unsubscribe"}, "cannot start a flow"},
		{[]string{"START"}, "cannot start a flow"},
	} {
		f := triggerFlow(tc.keywords...)
		err := f.Validate()
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("keywords %q: %v", tc.keywords, err)
		case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
			t.Errorf("keywords %q: error %v, want one saying %q", tc.keywords, err, tc.problem)
		}
	}
}

// triggerFlow asks one yes/no question of whoever texts a keyword.
func triggerFlow(keywords ...string) *outreach.Flow {
	return &outreach.Flow{
		ID:      "flu",
		Trigger: &outreach.Trigger{Keywords: keywords},
		Steps: []outreach.Step{
			{ID: "q", Kind: outreach.StepAsk, Body: "Flu shot this week? Reply YES or NO",
				Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "yes"}, {Value: "no"}}},
				Next:   "thanks"},
			{ID: "thanks", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "answered"},
		},
	}
}

// TestPatientStartsConversation: a keyword texted to a running campaign's
// number starts a conversation of it; the same webhook twice starts one;
// other texts, other numbers and opted-out phones start none; the
// campaign stays running for the next patient.
func TestPatientStartsConversation(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	c, _, err := r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "flu", Flow: triggerFlow("JOIN")}, nil)
	if err != nil {
		t.Fatalf("a triggered campaign with no recipients: %v", err)
	}
	if err := r.runner.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	const ana, bo, cy = "+14406443709", "+12125550143", "+13125550177"
	for _, p := range []string{ana, bo, cy} {
		r.net.Add(p, simphone.Persona{Silent: true})
	}
	text := func(from, to, body, sid string) {
		t.Helper()
		if _, err := r.runner.HandleInbound(r.ctx, outreach.InboundMessage{From: from, To: to, Body: body, ProviderID: sid}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.runner.Tick(r.ctx); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Minute)
	}
	inbox := func(phone string) []string {
		var out []string
		for _, m := range r.net.Phone(phone).Inbox() {
			out = append(out, m.Body)
		}
		return out
	}
	text(ana, sender, "Join!", "SMjoin1")
	text(ana, sender, "Join!", "SMjoin1") // the webhook again
	if got, want := inbox(ana), []string{"Flu shot this week? Reply YES or NO Reply STOP to opt out."}; !slices.Equal(got, want) {
		t.Fatalf("Ana's inbox after JOIN: %q, want %q", got, want)
	}
	text(ana, sender, "yes", "SMyes")
	text(bo, sender, "what is this?", "SMother")      // no keyword
	text(bo, "+15005550001", "JOIN", "SMothernumber") // another number
	text(cy, sender, "STOP", "SMstop")
	text(cy, sender, "JOIN", "SMjoin-optedout")
	if got := inbox(bo); len(got) != 0 {
		t.Errorf("Bo texted no keyword to the campaign's number and got %q", got)
	}
	if got := inbox(cy); len(got) != 0 {
		t.Errorf("Cy opted out and got %q", got)
	}
	convs, err := r.store.Conversations(r.ctx, c.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 {
		t.Fatalf("%d conversations, want 1 (Ana's)", len(convs))
	}
	cv := convs[0]
	if cv.Recipient.Phone != ana || cv.Recipient.ID != outreach.TriggeredRecipientID("SMjoin1") || cv.Outcome != "answered" {
		t.Errorf("conversation %+v", cv)
	}
	if tr := cv.State.Trigger; tr == nil || tr.ProviderID != "SMjoin1" || tr.Body != "" {
		t.Errorf("state's trigger %+v: want the message's id, and no body once started", tr)
	}
	if got, err := r.store.Campaign(r.ctx, c.ID); err != nil || got.Status != outreach.CampaignRunning {
		t.Errorf("campaign %v, %v: a campaign that patients start runs until cancelled", got.Status, err)
	}

	// Ana again, once her conversation is over: a second one.
	text(ana, sender, "join", "SMjoin2")
	text(ana, sender, "no", "SMno")
	convs, _ = r.store.Conversations(r.ctx, c.ID, 0, 100)
	if len(convs) != 2 || convs[1].Outcome != "answered" {
		t.Fatalf("after a second JOIN: %+v", convs)
	}
	resp, _ := r.store.Responses(r.ctx, c.ID, outreach.ResponsePage{})
	var answers []string
	for _, x := range resp {
		answers = append(answers, x.Answer)
	}
	if !slices.Equal(answers, []string{"yes", "no"}) {
		t.Errorf("answers %q", answers)
	}

	// Cancelled: texts start nothing.
	if err := r.runner.CancelCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	text(bo, sender, "JOIN", "SMlate")
	if got := inbox(bo); len(got) != 0 {
		t.Errorf("a cancelled campaign's keyword reached Bo: %q", got)
	}
}

func TestUntriggeredCampaignNeedsRecipients(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{})
	if _, _, err := r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "x", Flow: loopFlow()}, nil); !errors.Is(err, outreach.ErrNoRecipients) {
		t.Fatalf("err %v, want ErrNoRecipients", err)
	}
}
