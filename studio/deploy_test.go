package studio_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
)

const (
	sendingNumber = "+15005550006"
	otherNumber   = "+15005550007"
)

// newDeployer starts a fake Twilio and a Deployer pointed at it.
func newDeployer(t *testing.T, timeout time.Duration) (*twiliotest.Server, *studio.Deployer) {
	t.Helper()
	srv := twiliotest.New(twiliotest.Options{
		Clock:   outreach.NewManualClock(time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC)),
		Numbers: []string{sendingNumber, otherNumber},
	})
	t.Cleanup(srv.Close)
	d, err := studio.NewDeployer(studio.DeployConfig{
		AccountSID: srv.AccountSID(), AuthToken: srv.AuthToken(),
		HTTPClient: srv.HTTPClient(), Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, d
}

func builtin(t *testing.T, name string) *outreach.Flow {
	t.Helper()
	f, err := flows.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func TestNewDeployerChecksConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []studio.DeployConfig{
		{},
		{AccountSID: "AC1"},
		{AccountSID: "AC-1", AuthToken: "tok"},
		{AccountSID: "AC1", AuthToken: "tok", Timeout: -time.Second},
	} {
		if _, err := studio.NewDeployer(cfg); err == nil {
			t.Errorf("NewDeployer(%+v): no error", cfg)
		}
	}
}

func TestDeployCreatesThenUpdates(t *testing.T) {
	t.Parallel()
	srv, d := newDeployer(t, 0)
	ctx := context.Background()
	f := builtin(t, "payor")

	first, err := d.Deploy(ctx, f, studio.DeployOptions{CommitMessage: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.SID, "FW") || first.FriendlyName != f.Name || first.Revision != 1 || first.Status != "published" {
		t.Errorf("first deploy = %+v", first)
	}
	if first.ConsoleURL != studio.ConsoleFlowURL+first.SID {
		t.Errorf("ConsoleURL = %q", first.ConsoleURL)
	}
	if !strings.HasSuffix(first.WebhookURL, "/Flows/"+first.SID) || !strings.HasPrefix(first.WebhookURL, "https://") {
		t.Errorf("WebhookURL = %q", first.WebhookURL)
	}
	def, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := def.Encode()
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := srv.Flow(first.SID)
	if !ok || !sameJSON(t, stored.Definition, want) || stored.CommitMessage != "first" {
		t.Errorf("stored flow %+v: want FromFlow's definition and commit message", stored)
	}

	second, err := d.Deploy(ctx, f, studio.DeployOptions{CommitMessage: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if second.SID != first.SID || second.Revision != 2 || second.Status != "published" {
		t.Errorf("second deploy = %+v, want %s revision 2", second, first.SID)
	}
	if all := srv.Flows(); len(all) != 1 || all[0].Revision != 2 || all[0].CommitMessage != "second" {
		t.Errorf("fake holds %+v, want one flow at revision 2", all)
	}
	if n := srv.Requests(twiliotest.CreateFlow); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	if n := srv.Requests(twiliotest.ValidateFlow); n != 2 {
		t.Errorf("%d validations, want 2 (one per deploy)", n)
	}

	// A draft revision, under the ID when the flow has no name.
	g := builtin(t, "pharma")
	g.Name = ""
	draft, err := d.Deploy(ctx, g, studio.DeployOptions{Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	if draft.FriendlyName != g.ID || draft.Status != "draft" || draft.Revision != 1 {
		t.Errorf("draft deploy = %+v", draft)
	}
}

// invalidDefinition has a transition to a widget that does not exist.
func invalidDefinition() *studio.Definition {
	return &studio.Definition{
		InitialState: "Trigger",
		States: []studio.State{
			{Name: "Trigger", Type: studio.TypeTrigger, Properties: json.RawMessage(`{"offset":{"x":0,"y":0}}`),
				Transitions: []studio.Transition{{Event: "incomingRequest", Next: "nowhere"}}},
		},
	}
}

func TestDeployInvalidDefinition(t *testing.T) {
	t.Parallel()
	srv, d := newDeployer(t, 0)
	_, err := d.DeployDefinition(context.Background(), invalidDefinition(), studio.DeployOptions{FriendlyName: "broken"})
	var ve *studio.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *studio.ValidationError", err)
	}
	if ve.FriendlyName != "broken" || ve.Code != 81022 || len(ve.Problems) == 0 {
		t.Fatalf("ValidationError = %+v", ve)
	}
	p := ve.Problems[0]
	if !strings.Contains(p.PropertyPath, "transitions") || !strings.Contains(p.Message, "nowhere") {
		t.Errorf("problem = %+v, want the bad transition", p)
	}
	if !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("error %q does not list Twilio's failure", err)
	}
	if len(srv.Flows()) != 0 || srv.Requests(twiliotest.CreateFlow) != 0 || srv.Requests(twiliotest.ListFlows) != 0 {
		t.Error("an invalid definition went further than FlowValidate")
	}
	if err := d.Validate(context.Background(), "broken", invalidDefinition()); !errors.As(err, &ve) {
		t.Errorf("Validate: %v", err)
	}
	if _, err := d.DeployDefinition(context.Background(), invalidDefinition(), studio.DeployOptions{}); err == nil {
		t.Error("no friendly name: no error")
	}
}

func TestFindListDelete(t *testing.T) {
	t.Parallel()
	srv, d := newDeployer(t, 0)
	ctx := context.Background()
	var sids []string
	for _, name := range flows.BuiltinNames() {
		dep, err := d.Deploy(ctx, builtin(t, name), studio.DeployOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, dep.SID)
	}
	list, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(sids) {
		t.Fatalf("List = %+v, want %d flows", list, len(sids))
	}
	for i, dep := range list {
		if dep.SID != sids[i] || dep.Revision != 1 || dep.ConsoleURL == "" {
			t.Errorf("List[%d] = %+v", i, dep)
		}
	}

	payor := builtin(t, "payor")
	found, ok, err := d.Find(ctx, payor.Name)
	if err != nil || !ok || found.FriendlyName != payor.Name {
		t.Fatalf("Find(%q) = %+v, %v, %v", payor.Name, found, ok, err)
	}
	if _, ok, err := d.Find(ctx, "no such flow"); ok || err != nil {
		t.Errorf("Find(unknown) = %v, %v", ok, err)
	}

	// By friendly name, then by SID.
	if err := d.Delete(ctx, payor.Name); err != nil {
		t.Fatal(err)
	}
	other := list[len(list)-1]
	if other.SID == found.SID {
		other = list[0]
	}
	if err := d.Delete(ctx, other.SID); err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{found.SID, other.SID} {
		_, err := srv.Client().StudioV2.FetchFlow(sid)
		var te *client.TwilioRestError
		if !errors.As(err, &te) || te.Status != http.StatusNotFound {
			t.Errorf("fetch %s after delete: %v, want 404", sid, err)
		}
	}
	if _, ok, _ := d.Find(ctx, payor.Name); ok {
		t.Error("Find after delete: found")
	}
	if err := d.Delete(ctx, payor.Name); !errors.Is(err, studio.ErrNotFound) {
		t.Errorf("delete again by name: %v, want ErrNotFound", err)
	}
	if err := d.Delete(ctx, other.SID); !errors.Is(err, studio.ErrNotFound) {
		t.Errorf("delete again by SID: %v, want ErrNotFound", err)
	}
	if list, err := d.List(ctx); err != nil || len(list) != len(sids)-2 {
		t.Errorf("List after deletes = %d flows, %v", len(list), err)
	}
}

// createFlow creates a flow directly through the fake, as the console would.
func createFlow(t *testing.T, srv *twiliotest.Server, name string) {
	t.Helper()
	createFlowOf(t, srv, name, builtin(t, "provider"))
}

// createFlowOf creates a published flow named name with f's definition.
func createFlowOf(t *testing.T, srv *twiliotest.Server, name string, f *outreach.Flow) {
	t.Helper()
	def, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	p := &studioapi.CreateFlowParams{}
	p.SetFriendlyName(name).SetStatus("published").SetDefinition(def)
	if _, err := srv.Client().StudioV2.CreateFlow(p); err != nil {
		t.Fatal(err)
	}
}

func TestDeployFindsFlowOnLaterPage(t *testing.T) {
	t.Parallel()
	srv, d := newDeployer(t, 0)
	// The 119 other flows only fill the first pages: a one-step flow each
	// (the fake validates, stores and lists every definition, and a
	// provider flow's is large); the one deployed to is a provider flow.
	filler := &outreach.Flow{ID: "filler", Name: "Filler", Steps: []outreach.Step{{ID: "bye", Kind: outreach.StepEnd, Body: "Thanks.", Outcome: "done"}}}
	for i := range 119 {
		createFlowOf(t, srv, "flow "+strconv.Itoa(i), filler)
	}
	createFlow(t, srv, "flow 119")
	f := builtin(t, "provider")
	dep, err := d.Deploy(context.Background(), f, studio.DeployOptions{FriendlyName: "flow 119"})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Revision != 2 || len(srv.Flows()) != 120 {
		t.Errorf("deploy = %+v with %d flows, want revision 2 of an existing flow", dep, len(srv.Flows()))
	}
	if n := srv.Requests(twiliotest.ListFlows); n < 3 {
		t.Errorf("%d list requests, want the three pages", n)
	}
	list, err := d.List(context.Background())
	if err != nil || len(list) != 120 {
		t.Errorf("List = %d flows, %v", len(list), err)
	}
}

func TestDeployRefusesAmbiguousName(t *testing.T) {
	t.Parallel()
	srv, d := newDeployer(t, 0)
	createFlow(t, srv, "twin")
	createFlow(t, srv, "twin")
	_, err := d.Deploy(context.Background(), builtin(t, "provider"), studio.DeployOptions{FriendlyName: "twin"})
	if err == nil || !strings.Contains(err.Error(), "2 flows") {
		t.Fatalf("err = %v, want an ambiguous name", err)
	}
	if len(srv.Flows()) != 2 || srv.Requests(twiliotest.UpdateFlow) != 0 {
		t.Error("an ambiguous deploy changed the flows")
	}
}

func smsURL(t *testing.T, srv *twiliotest.Server, phone string) string {
	t.Helper()
	p := &api.ListIncomingPhoneNumberParams{}
	p.SetPhoneNumber(phone)
	ns, err := srv.Client().Api.ListIncomingPhoneNumber(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.PhoneNumber != nil && *n.PhoneNumber == phone {
			if n.SmsUrl == nil {
				return ""
			}
			return *n.SmsUrl
		}
	}
	t.Fatalf("no number %s", phone)
	return ""
}

func TestPointNumber(t *testing.T) {
	t.Parallel()
	srv, d := newDeployer(t, 0)
	ctx := context.Background()
	srv.SetSmsURL(otherNumber, "https://example.org/sms")
	dep, err := d.Deploy(ctx, builtin(t, "provider"), studio.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PointNumber(ctx, sendingNumber, dep.WebhookURL); err != nil {
		t.Fatal(err)
	}
	if got := smsURL(t, srv, sendingNumber); got != dep.WebhookURL {
		t.Errorf("SmsUrl = %q, want %q", got, dep.WebhookURL)
	}
	if got := smsURL(t, srv, otherNumber); got != "https://example.org/sms" {
		t.Errorf("the other number's SmsUrl changed to %q", got)
	}
	// "+1500555000" is a prefix of both numbers: only an exact match counts.
	for _, phone := range []string{"+15005550999", "+1500555000"} {
		if err := d.PointNumber(ctx, phone, dep.WebhookURL); !errors.Is(err, studio.ErrNotFound) {
			t.Errorf("PointNumber(%s) = %v, want ErrNotFound", phone, err)
		}
	}
	if err := d.PointNumber(ctx, "5005550006", dep.WebhookURL); err == nil {
		t.Error("not E.164: no error")
	}
	if err := d.PointNumber(ctx, sendingNumber, "/relative"); err == nil {
		t.Error("relative URL: no error")
	}
}

// TestCancelMidCall stalls each endpoint the deployer uses and checks that
// cancelling the context, or the per-call timeout, ends the call promptly
// and leaves no request running at the fake (Close waits for requests).
func TestCancelMidCall(t *testing.T) {
	f := builtin(t, "provider")
	calls := map[twiliotest.Endpoint]func(context.Context, *twiliotest.Server, *studio.Deployer) error{
		twiliotest.ValidateFlow: func(ctx context.Context, _ *twiliotest.Server, d *studio.Deployer) error {
			_, err := d.Deploy(ctx, f, studio.DeployOptions{})
			return err
		},
		twiliotest.CreateFlow: func(ctx context.Context, _ *twiliotest.Server, d *studio.Deployer) error {
			_, err := d.Deploy(ctx, f, studio.DeployOptions{})
			return err
		},
		twiliotest.ListFlows: func(ctx context.Context, _ *twiliotest.Server, d *studio.Deployer) error {
			_, err := d.List(ctx)
			return err
		},
		twiliotest.ListNumbers: func(ctx context.Context, _ *twiliotest.Server, d *studio.Deployer) error {
			return d.PointNumber(ctx, sendingNumber, "https://example.org/flow")
		},
		twiliotest.UpdateNumber: func(ctx context.Context, _ *twiliotest.Server, d *studio.Deployer) error {
			return d.PointNumber(ctx, sendingNumber, "https://example.org/flow")
		},
		twiliotest.UpdateMessagingService: func(ctx context.Context, srv *twiliotest.Server, d *studio.Deployer) error {
			return d.PointMessagingService(ctx, srv.AddMessagingService(poolNumber), "https://example.org/flow")
		},
	}
	for ep, call := range calls {
		t.Run(string(ep), func(t *testing.T) {
			// Each endpoint waits out a 1 s call timeout: side by side.
			t.Parallel()
			for _, timeout := range []bool{false, true} {
				var (
					srv *twiliotest.Server
					d   *studio.Deployer
				)
				ctx, cancel := context.WithCancel(context.Background())
				want := context.Canceled
				if timeout {
					// Each call gets 1 s: the calls before the stalled one
					// must finish within it, and under -race on a busy
					// machine Deploy's validate or list took more than
					// 200 ms, so the call timed out before create.
					srv, d = newDeployer(t, time.Second)
					want = context.DeadlineExceeded
				} else {
					srv, d = newDeployer(t, 0)
				}
				srv.SetFault(ep, twiliotest.Fault{Latency: time.Minute})
				if !timeout {
					// Cancel once the request stalls at ep (the fake counts
					// it on arrival), not after a fixed time that a busy
					// machine can spend before the call gets there.
					go func() {
						for ctx.Err() == nil && srv.Requests(ep) == 0 {
							time.Sleep(time.Millisecond)
						}
						cancel()
					}()
				}
				start := time.Now()
				err := call(ctx, srv, d)
				cancel()
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("timeout=%v: returned after %v", timeout, took)
				}
				if !errors.Is(err, want) {
					t.Errorf("timeout=%v: err = %v, want %v", timeout, err, want)
				}
				if n := srv.Requests(ep); n != 1 {
					t.Errorf("timeout=%v: %d requests to %s, want 1", timeout, n, ep)
				}
				start = time.Now()
				srv.Close()
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("timeout=%v: a request was still running: Close took %v", timeout, took)
				}
			}
		})
	}
}
