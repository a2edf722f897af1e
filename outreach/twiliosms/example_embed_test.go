package twiliosms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// The code blocks of README.md's "Embedding it" section are this file's
// lines between "README: ... begin" and "end" markers, word for word
// (TestReadmeGoBlocks).

// README: embed begin

// Config is what your service knows: its database and its Twilio account.
type Config struct {
	Database              string // an SQLite file
	AccountSID, AuthToken string
	From                  string       // the sending number
	PublicURL             string       // where Twilio reaches this service
	HTTPClient            *http.Client // nil: Twilio itself
}

// startOutreach puts the library in your service: a store, the Twilio
// sender, the two Twilio webhooks on your mux, and the runner in the
// background until ctx ends.
func startOutreach(ctx context.Context, mux *http.ServeMux, tw Config, opts outreach.RunnerOptions) (*outreach.Runner, outreach.Store, error) {
	store, err := sqlitestore.Open(ctx, tw.Database) // or your own outreach.Store
	if err != nil {
		return nil, nil, err
	}
	sender, err := twiliosms.NewSender(twiliosms.Config{
		AccountSID: tw.AccountSID, AuthToken: tw.AuthToken, From: tw.From,
		StatusCallbackURL: tw.PublicURL + "/twilio/status", HTTPClient: tw.HTTPClient, Clock: opts.Clock,
	})
	if err != nil {
		return nil, nil, errors.Join(err, store.Close())
	}
	opts.From = tw.From
	runner := outreach.NewRunner(store, sender, opts) // quiet hours, throttle, opt-outs, at most once
	hook := twiliosms.WebhookConfig{AuthToken: tw.AuthToken}
	hook.PublicURL = tw.PublicURL + "/twilio/sms"
	inbound, err := twiliosms.InboundHandler(runner, hook)
	if err != nil {
		return nil, nil, errors.Join(err, store.Close())
	}
	hook.PublicURL = tw.PublicURL + "/twilio/status"
	status, err := twiliosms.StatusHandler(runner, hook)
	if err != nil {
		return nil, nil, errors.Join(err, store.Close())
	}
	mux.Handle("POST /twilio/sms", inbound)
	mux.Handle("POST /twilio/status", status)
	go runner.Run(ctx)
	return runner, store, nil
}

// startCheckIn starts the provider check-in for the recipients of a CSV
// file; a file with bad rows is refused whole, each row error by line.
func startCheckIn(ctx context.Context, runner *outreach.Runner, csvFile io.Reader) (outreach.Campaign, error) {
	flow, err := flows.Builtin("provider") // or flows.LoadFile("my-flow.json")
	if err != nil {
		return outreach.Campaign{}, err
	}
	res, err := csvio.ReadAll(ctx, csvFile, csvio.Options{})
	if err != nil {
		return outreach.Campaign{}, err
	}
	if len(res.Errors) > 0 {
		return outreach.Campaign{}, fmt.Errorf("%d bad rows, the first: %v", len(res.Errors), res.Errors[0])
	}
	c, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, res.Recipients)
	if err != nil {
		return outreach.Campaign{}, err
	}
	return c, runner.StartCampaign(ctx, c.ID)
}

// exportAnswers writes the campaign's answers as CSV, safe to open in
// Excel: a row per answer, and one per recipient who gave none.
func exportAnswers(ctx context.Context, w io.Writer, store outreach.Store, runner *outreach.Runner, id int64) error {
	_, err := csvio.ExportResponses(ctx, w, csvio.RuntimeSource(store, runner), id)
	return err
}

// README: embed end

// The same service in a test: a fake Twilio on loopback with a simulated
// patient stands in for Twilio, on a clock that starts from a fixed
// instant, so the example gives the same answers at any hour.
func Example_embedding() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	dir, err := os.MkdirTemp("", "outreach")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// README: test begin
	clock := outreach.NewOffsetClock(clocktest.DefaultStart) // 15:00 in New York
	fake := twiliotest.New(twiliotest.Options{Clock: clock, Numbers: []string{"+15005550006"}})
	defer fake.Close()
	fake.Network().Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("3", "yes"), Delay: -1})
	go fake.Run(ctx)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux) // your service
	defer srv.Close()
	fake.SetSmsURL("+15005550006", srv.URL+"/twilio/sms") // the console's "A message comes in"
	tw := Config{Database: filepath.Join(dir, "outreach.db"), AccountSID: fake.AccountSID(), AuthToken: fake.AuthToken(),
		From: "+15005550006", PublicURL: srv.URL, HTTPClient: fake.HTTPClient()}
	runner, store, err := startOutreach(ctx, mux, tw, outreach.RunnerOptions{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	// README: test end
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	c, err := startCheckIn(ctx, runner, strings.NewReader("patient_id,patient_first_name,patient_phone\np-1,Ana,(440) 644-3709\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p, _ := runner.Progress(ctx, c.ID); p.Status == outreach.CampaignDone {
			break
		}
	}
	var out strings.Builder
	if err := exportAnswers(ctx, &out, store, runner, c.ID); err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		cells := strings.Split(line, ",")
		fmt.Println(cells[0], cells[3], cells[4], cells[7])
	}
	// Output:
	// p-1 ask_pain 3 followup_scheduled
	// p-1 ask_followup YES followup_scheduled
}
