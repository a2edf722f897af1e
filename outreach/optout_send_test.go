package outreach_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
)

// optedOutSender refuses every message as Twilio does a number that
// texted STOP to another of the account's numbers (error 21610).
type optedOutSender struct{}

func (optedOutSender) Send(ctx context.Context, m outreach.OutboundMessage) (string, error) {
	return "", &outreach.SendError{Kind: outreach.Permanent, Code: "21610", OptedOut: true, Reason: "attempt to send to unsubscribed recipient"}
}

func (optedOutSender) Lookup(ctx context.Context, m outreach.OutboundMessage, intentAt time.Time) (string, bool, error) {
	return "", false, nil
}

// Regression: the runner recorded the opt-out of a 21610 on send with the
// per-send context it had just cancelled ("context canceled"), so the
// patient's number was not suppressed and other campaigns texted it.
func TestRegressionOptOutOnSendIsRecorded(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	clock := clocktest.Manual(t)
	runner := outreach.NewRunner(store, optedOutSender{}, outreach.RunnerOptions{
		From: "+15005550006", Clock: clock, Window: outreach.AnyHour, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	const phone = "+14406443709"
	c, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "a", Flow: checkIn()}, []outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: phone}})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := runner.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := store.OptedOut(ctx, []string{phone})
	if err != nil {
		t.Fatal(err)
	}
	if !out[phone] {
		t.Fatal("a 21610 refusal on send did not record the number as opted out")
	}
	p, err := runner.Progress(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Outcomes[outreach.OutcomeOptedOut] != 1 {
		t.Errorf("outcomes = %v, want one %s", p.Outcomes, outreach.OutcomeOptedOut)
	}
}
