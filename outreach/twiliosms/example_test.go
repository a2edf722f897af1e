package twiliosms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// Send through Twilio (here the fake Twilio of twiliotest), and answer a
// signed inbound webhook with TwiML.
func Example() {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2026, 3, 4, 17, 0, 0, 0, time.UTC))
	phones := simphone.New(clock, 1)
	phones.Add("+14406443709", simphone.Persona{})
	phones.Add("+14406443710", simphone.Persona{}).Text("+15005550006", "STOP")
	fake := twiliotest.New(twiliotest.Options{Clock: clock, Network: phones, Numbers: []string{"+15005550006"}})
	defer fake.Close()

	sender, err := twiliosms.NewSender(twiliosms.Config{
		AccountSID: fake.AccountSID(), AuthToken: fake.AuthToken(), From: "+15005550006",
		HTTPClient: fake.HTTPClient(), // omit to reach the real Twilio
		Clock:      clock,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sid, err := sender.Send(ctx, outreach.OutboundMessage{To: "+14406443709", Body: "Your visit is tomorrow at 9."})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := fake.Message(sid)
	fmt.Println("sent:", m.Status)

	_, err = sender.Send(ctx, outreach.OutboundMessage{To: "+14406443710", Body: "Your visit is tomorrow at 9."})
	var se *outreach.SendError
	if errors.As(err, &se) {
		fmt.Println("refused:", se.Kind, se.Code, "opted out:", se.OptedOut)
	}

	// The inbound webhook, in front of a runner.
	runner := outreach.NewRunner(memstore.New(), sender, outreach.RunnerOptions{
		Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HelpReply: "Care team texts. Reply STOP to opt out. Msg&data rates may apply.",
	})
	const publicURL = "https://outreach.example.org/twilio/sms"
	inbound, err := twiliosms.InboundHandler(runner, twiliosms.WebhookConfig{AuthToken: fake.AuthToken(), PublicURL: publicURL})
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := twiliotest.NewWebhookRequest(ctx, fake.AuthToken(), publicURL, url.Values{
		"MessageSid": {"SM00000000000000000000000000000001"}, "From": {"+14406443709"}, "To": {"+15005550006"}, "Body": {"help"},
	})
	w := httptest.NewRecorder()
	inbound.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// sent: queued
	// refused: permanent 21610 opted out: true
	// 200 <?xml version="1.0" encoding="UTF-8"?>
	// <Response><Message>Care team texts. Reply STOP to opt out. Msg&amp;data rates may apply.</Message></Response>
}
