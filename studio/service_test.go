package studio_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	messaging "github.com/twilio/twilio-go/rest/messaging/v1"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
)

// poolNumber is the sender pool of the Messaging Service tests.
const poolNumber = "+15005550009"

func fetchService(t *testing.T, srv *twiliotest.Server, sid string) *messaging.MessagingV1Service {
	t.Helper()
	sv, err := srv.Client().MessagingV1.FetchService(sid)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

func TestPointMessagingService(t *testing.T) {
	t.Parallel()
	srv, d := newDeployer(t, 0)
	ctx := context.Background()
	mg := srv.AddMessagingService(poolNumber)
	other := srv.AddMessagingService(otherNumber)
	// The service defers to its numbers' webhooks until pointed.
	p := &messaging.UpdateServiceParams{}
	p.SetInboundRequestUrl("https://example.org/old").SetInboundMethod("GET").SetUseInboundWebhookOnNumber(true)
	for _, sid := range []string{mg, other} {
		if _, err := srv.Client().MessagingV1.UpdateService(sid, p); err != nil {
			t.Fatal(err)
		}
	}
	dep, err := d.Deploy(ctx, builtin(t, "provider"), studio.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PointMessagingService(ctx, mg, dep.WebhookURL); err != nil {
		t.Fatal(err)
	}
	sv := fetchService(t, srv, mg)
	if sv.InboundRequestUrl == nil || *sv.InboundRequestUrl != dep.WebhookURL || *sv.InboundMethod != http.MethodPost || *sv.UseInboundWebhookOnNumber {
		t.Errorf("service after PointMessagingService: url %v, method %s, use number webhook %v", deref(sv.InboundRequestUrl), *sv.InboundMethod, *sv.UseInboundWebhookOnNumber)
	}
	if sv := fetchService(t, srv, other); *sv.InboundRequestUrl != "https://example.org/old" || !*sv.UseInboundWebhookOnNumber {
		t.Errorf("the other service changed: %+v", sv)
	}

	// An unknown service.
	err = d.PointMessagingService(ctx, "MG00000000000000000000000000000000", dep.WebhookURL)
	if !errors.Is(err, studio.ErrNotFound) || !strings.Contains(err.Error(), "MG00000000000000000000000000000000") {
		t.Errorf("unknown service: %v, want ErrNotFound naming it", err)
	}

	// Bad SIDs and URLs are refused before any request, and a phone
	// number given by mistake is masked.
	before := srv.Requests(twiliotest.UpdateMessagingService)
	for _, bad := range []string{"", "MG123", "mg" + strings.Repeat("0", 32), "FW" + strings.Repeat("0", 32), "MG" + strings.Repeat("g", 32), sendingNumber} {
		err := d.PointMessagingService(ctx, bad, dep.WebhookURL)
		if err == nil || errors.Is(err, studio.ErrNotFound) {
			t.Errorf("PointMessagingService(%q) = %v, want a bad SID error", bad, err)
		} else if strings.Contains(err.Error(), sendingNumber) {
			t.Errorf("error shows the phone number: %v", err)
		}
	}
	for _, bad := range []string{"", "/relative", "ftp://example.org/x", "https://"} {
		if err := d.PointMessagingService(ctx, mg, bad); err == nil {
			t.Errorf("webhook URL %q: no error", bad)
		}
	}
	if n := srv.Requests(twiliotest.UpdateMessagingService) - before; n != 0 {
		t.Errorf("%d requests for bad input, want 0", n)
	}

	// Twilio's other errors are passed on.
	srv.SetFault(twiliotest.UpdateMessagingService, twiliotest.Fault{Status: http.StatusInternalServerError, Times: 1})
	if err := d.PointMessagingService(ctx, mg, dep.WebhookURL); err == nil || errors.Is(err, studio.ErrNotFound) || !strings.Contains(err.Error(), mg) {
		t.Errorf("500: %v, want an error naming the service", err)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestPointMessagingServiceCancelledContext checks that an already
// cancelled context sends nothing that takes effect (TestCancelMidCall
// stalls the update itself).
func TestPointMessagingServiceCancelledContext(t *testing.T) {
	t.Parallel()
	// An already cancelled context sends nothing that takes effect.
	srv, d := newDeployer(t, 0)
	mg := srv.AddMessagingService(poolNumber)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.PointMessagingService(ctx, mg, "https://example.org/flow"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if sv := fetchService(t, srv, mg); sv.InboundRequestUrl != nil {
		t.Errorf("cancelled call set the URL to %s", *sv.InboundRequestUrl)
	}
}

// TestStudioCampaignFromMessagingService runs the provider flow through
// Studio from a Messaging Service: the runtime points the service's
// incoming-message URL at the flow, the patients' replies to the pool's
// number reach the executions through it (not through the number's own
// SmsUrl), and the answers collected equal the embedded runner's. Then
// the service is released back to a webhook.
func TestStudioCampaignFromMessagingService(t *testing.T) {
	t.Parallel()
	const n = 21
	r := newStudioRig(t, rigOptions{noThrottle: true})
	mg := r.srv.AddMessagingService(poolNumber)
	var hits atomic.Int32
	embedded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte("<Response/>"))
	}))
	defer embedded.Close()
	r.srv.SetSmsURL(poolNumber, embedded.URL+"/number") // what the service overrides

	rt, err := studio.NewRuntime(r.store, studio.RuntimeConfig{
		Deployer: r.dep, From: mg, Clock: r.clock, NoThrottle: true,
		PollInterval: time.Minute, WakeInterval: 20 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.rt = rt
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	c, added, err := rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "from service", Flow: flow}, recipients(n, r.net, scripts))
	if err != nil || added != n {
		t.Fatalf("CreateCampaign = %d, %v", added, err)
	}
	if c.From != mg {
		t.Fatalf("campaign From = %q, want %s", c.From, mg)
	}
	dep, ok, err := r.dep.Find(r.ctx, flow.Name)
	if err != nil || !ok {
		t.Fatalf("Find = %v, %v", ok, err)
	}
	if sv := fetchService(t, r.srv, mg); deref(sv.InboundRequestUrl) != dep.WebhookURL || *sv.UseInboundWebhookOnNumber {
		t.Fatalf("service InboundRequestUrl %s (use number webhook %v), want the flow's webhook %s",
			deref(sv.InboundRequestUrl), *sv.UseInboundWebhookOnNumber, dep.WebhookURL)
	}
	if o, ok, _ := r.store.NumberOwner(r.ctx, mg); !ok || o.Runtime != studio.RuntimeName || o.Flow != c.RuntimeRef {
		t.Fatalf("NumberOwner(%s) = %+v, %v", mg, o, ok)
	}
	if err := rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r.drive(c.ID)

	// The flow sent from the service's number, and the replies reached
	// it through the service, never the number's SmsUrl.
	var out, in int
	for _, m := range r.srv.Messages() {
		switch m.Direction {
		case "outbound-api":
			out++
			if m.MessagingServiceSID != mg || m.From != poolNumber {
				t.Fatalf("outbound message %s from %s, service %q", m.SID, outreach.MaskPhone(m.From), m.MessagingServiceSID)
			}
		case "inbound":
			in++
			if m.To != poolNumber || m.MessagingServiceSID != mg {
				t.Fatalf("inbound message %s to %s, service %q", m.SID, outreach.MaskPhone(m.To), m.MessagingServiceSID)
			}
		}
	}
	if out == 0 || in == 0 || hits.Load() != 0 {
		t.Fatalf("%d sent, %d received, %d webhooks to the number's SmsUrl", out, in, hits.Load())
	}
	for _, e := range r.srv.Executions(c.RuntimeRef) {
		if e.Status != "ended" || e.RunError != "" || e.From != mg {
			t.Errorf("execution %s: status %s, from %s, error %q", e.SID, e.Status, e.From, e.RunError)
		}
	}
	got := exportCSV(t, r.store, c.ID)
	if want := embeddedCSV(t, flow, n); got != want {
		t.Errorf("responses CSVs differ:\n%s", lineDiff(want, got))
	}
	stopped := "+12125550005" // scripts[5] is STOP
	if o, err := r.store.OptedOut(r.ctx, []string{stopped}); err != nil || !o[stopped] {
		t.Errorf("OptedOut = %v, %v; the STOP sent through the service was not recorded", o, err)
	}

	// Released, the service points at the embedded runtime's webhook
	// and its texts go there.
	if err := rt.ReleaseNumber(r.ctx, mg, embedded.URL+"/service"); err != nil {
		t.Fatal(err)
	}
	if sv := fetchService(t, r.srv, mg); deref(sv.InboundRequestUrl) != embedded.URL+"/service" {
		t.Fatalf("after release, InboundRequestUrl %s", deref(sv.InboundRequestUrl))
	}
	if _, ok, _ := r.store.NumberOwner(r.ctx, mg); ok {
		t.Error("the service is still owned after release")
	}
	r.net.Phone("+12125550000").Text(poolNumber, "hello")
	clock := r.clock.(*outreach.ManualClock)
	for at, ok := r.srv.Next(); ok; at, ok = r.srv.Next() {
		clock.Set(maxTime(at, clock.Now()))
		if err := r.srv.Step(r.ctx, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("%d webhooks after release, want 1", hits.Load())
	}
}

// embeddedCSV runs flow for n recipients (the same patients as
// [recipients] with [scripts]) through the embedded runner and returns
// the responses CSV.
func embeddedCSV(t *testing.T, flow *outreach.Flow, n int) string {
	t.Helper()
	clock := outreach.NewManualClock(rtNoon)
	net := simphone.New(clock, 7)
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: rtFrom, Clock: clock, NoThrottle: true, Logger: quiet,
	})
	ec, _, err := runner.CreateCampaign(t.Context(), outreach.NewCampaign{Name: "embedded", Flow: flow}, recipients(n, net, scripts))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.StartCampaign(t.Context(), ec.ID); err != nil {
		t.Fatal(err)
	}
	sim := simphone.Simulation{Runner: runner, Store: store, Network: net, Clock: clock}
	if _, err := sim.Run(t.Context(), ec.ID); err != nil {
		t.Fatal(err)
	}
	return exportCSV(t, store, ec.ID)
}
