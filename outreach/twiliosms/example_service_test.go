package twiliosms_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// Embedding the library in a service of your own: an SQLite store, the
// Twilio sender, the two Twilio webhooks on your mux, and the runner in
// the background. A fake Twilio with one simulated patient stands in for
// Twilio here; with a real account, leave HTTPClient out and set the
// number's incoming-message URL to PUBLIC_URL/twilio/sms in the console.
func Example_service() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// Your service leaves every Clock out: the system clock. The example
	// runs at real speed from a fixed instant instead, so that it gives the
	// same result whenever it runs.
	clock := outreach.NewOffsetClock(time.Date(2026, 3, 10, 19, 0, 0, 0, time.UTC))
	fake := twiliotest.New(twiliotest.Options{Clock: clock, Numbers: []string{"+15005550006"}})
	defer fake.Close()
	fake.Network().Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("3", "yes"), Delay: -1})
	go fake.Run(ctx)

	dir, _ := os.MkdirTemp("", "outreach")
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "outreach.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux) // your server, at PUBLIC_URL
	defer srv.Close()
	publicURL := srv.URL

	sender, err := twiliosms.NewSender(twiliosms.Config{
		AccountSID: fake.AccountSID(), AuthToken: fake.AuthToken(), From: "+15005550006",
		StatusCallbackURL: publicURL + "/twilio/status",
		HTTPClient:        fake.HTTPClient(), // leave out to reach Twilio
		Clock:             clock,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	runner := outreach.NewRunner(store, sender, outreach.RunnerOptions{
		From:   "+15005550006",
		Window: outreach.AnyHour, // quiet hours off: leave out for 08:00-21:00
		Clock:  clock,
		Logger: slog.New(slog.DiscardHandler),
	})
	inbound, err := twiliosms.InboundHandler(runner, twiliosms.WebhookConfig{AuthToken: fake.AuthToken(), PublicURL: publicURL + "/twilio/sms"})
	if err != nil {
		fmt.Println(err)
		return
	}
	status, err := twiliosms.StatusHandler(runner, twiliosms.WebhookConfig{AuthToken: fake.AuthToken(), PublicURL: publicURL + "/twilio/status"})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux.Handle("POST /twilio/sms", inbound)
	mux.Handle("POST /twilio/status", status)
	fake.SetSmsURL("+15005550006", publicURL+"/twilio/sms") // the console setting
	go runner.Run(ctx)

	flow, _ := flows.Builtin("provider")
	recipients := []outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: "+14406443709"}}
	c, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, recipients)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := runner.StartCampaign(ctx, c.ID); err != nil {
		fmt.Println(err)
		return
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, _ := store.Campaign(ctx, c.ID); c.Status == outreach.CampaignDone {
			break
		}
	}
	resp, _ := runner.Responses(ctx, c.ID, outreach.ResponsePage{})
	for _, r := range resp {
		fmt.Printf("%s %s: %s\n", r.PatientID, r.QuestionID, r.Answer)
	}
	p, _ := runner.Progress(ctx, c.ID)
	fmt.Println(p.Outcomes)
	// Output:
	// p-1 ask_pain: 3
	// p-1 ask_followup: YES
	// map[followup_scheduled:1]
}
