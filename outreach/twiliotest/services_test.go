package twiliotest_test

import (
	"strings"
	"testing"
	"time"

	messaging "github.com/twilio/twilio-go/rest/messaging/v1"

	"github.com/patient-outreach/sms/outreach/twiliotest"
)

const pooled = "+15005550007"

func TestMessagingServiceFetchUpdate(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	mg := f.srv.AddMessagingService(pooled)
	c := f.srv.Client().MessagingV1

	sv, err := c.FetchService(mg)
	if err != nil {
		t.Fatal(err)
	}
	if *sv.Sid != mg || *sv.AccountSid != f.srv.AccountSID() || *sv.FriendlyName == "" || sv.InboundRequestUrl != nil ||
		*sv.InboundMethod != "POST" || *sv.UseInboundWebhookOnNumber || !sv.DateCreated.Equal(start) ||
		*sv.Url != "https://messaging.twilio.com/v1/Services/"+mg || (*sv.Links)["phone_numbers"] == nil {
		t.Fatalf("fetched %+v", sv)
	}

	f.clock.Set(start.Add(time.Minute))
	p := &messaging.UpdateServiceParams{}
	p.SetFriendlyName("Clinic").SetInboundRequestUrl("https://clinic.example/sms").SetInboundMethod("post").SetUseInboundWebhookOnNumber(false)
	sv, err = c.UpdateService(mg, p)
	if err != nil {
		t.Fatal(err)
	}
	if *sv.FriendlyName != "Clinic" || *sv.InboundRequestUrl != "https://clinic.example/sms" || *sv.InboundMethod != "POST" ||
		*sv.UseInboundWebhookOnNumber || !sv.DateUpdated.Equal(start.Add(time.Minute)) || !sv.DateCreated.Equal(start) {
		t.Fatalf("updated %+v", sv)
	}
	// Only the parameters given change.
	p = &messaging.UpdateServiceParams{}
	p.SetUseInboundWebhookOnNumber(true)
	if sv, err = c.UpdateService(mg, p); err != nil || *sv.InboundRequestUrl != "https://clinic.example/sms" || !*sv.UseInboundWebhookOnNumber {
		t.Fatalf("updated %+v, %v", sv, err)
	}
	if sv, err = c.FetchService(mg); err != nil || *sv.FriendlyName != "Clinic" || !*sv.UseInboundWebhookOnNumber {
		t.Fatalf("fetched %+v, %v", sv, err)
	}
	// An empty URL clears it.
	p = &messaging.UpdateServiceParams{}
	p.SetInboundRequestUrl("")
	if sv, err = c.UpdateService(mg, p); err != nil || sv.InboundRequestUrl != nil {
		t.Fatalf("cleared: %+v, %v", sv, err)
	}

	list, err := c.ListService(nil)
	if err != nil || len(list) != 1 || *list[0].Sid != mg {
		t.Fatalf("ListService = %d, %v", len(list), err)
	}

	// Unknown services and bad values.
	const unknown = "MG00000000000000000000000000000000"
	_, err = c.FetchService(unknown)
	restError(t, err, 404, 20404)
	_, err = c.UpdateService(unknown, p)
	restError(t, err, 404, 20404)
	for _, bad := range []*messaging.UpdateServiceParams{
		(&messaging.UpdateServiceParams{}).SetInboundRequestUrl("/relative"),
		(&messaging.UpdateServiceParams{}).SetInboundRequestUrl("ftp://clinic.example/sms"),
		(&messaging.UpdateServiceParams{}).SetInboundMethod("PUT"),
		(&messaging.UpdateServiceParams{}).SetFriendlyName(""),
	} {
		_, err = c.UpdateService(mg, bad)
		restError(t, err, 400, 20001)
	}
	if sv, err = c.FetchService(mg); err != nil || *sv.FriendlyName != "Clinic" || *sv.InboundMethod != "POST" {
		t.Fatalf("a refused update changed the service: %+v, %v", sv, err)
	}

	// Faults apply to the endpoints.
	f.srv.SetFault(twiliotest.UpdateMessagingService, twiliotest.Fault{Status: 500, Times: 1})
	_, err = c.UpdateService(mg, (&messaging.UpdateServiceParams{}).SetFriendlyName("x"))
	restError(t, err, 500, 20500)
	if n := f.srv.Requests(twiliotest.UpdateMessagingService); n != 9 {
		t.Errorf("%d update requests counted, want 9", n)
	}
	if n := f.srv.Requests(twiliotest.FetchMessagingService); n != 4 {
		t.Errorf("%d fetch requests counted, want 4", n)
	}

	if f.srv.SetServiceInboundURL(unknown, "https://x.example") {
		t.Error("SetServiceInboundURL of an unknown service reported true")
	}
}

// TestMessagingServiceInbound checks where texts to a pool number go:
// the number's SmsUrl until the service has an InboundRequestUrl, then
// the service's, unless UseInboundWebhookOnNumber.
func TestMessagingServiceInbound(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	mg := f.srv.AddMessagingService(pooled)
	numberHook, serviceHook, ownHook := newHook(t, f.srv.AuthToken()), newHook(t, f.srv.AuthToken()), newHook(t, f.srv.AuthToken())
	f.srv.SetSmsURL(pooled, numberHook.srv.URL+"/number")
	f.srv.SetSmsURL(ours, ownHook.srv.URL+"/ours") // not in the pool
	text := func(to, body string) {
		t.Helper()
		f.net.Phone(ann).Text(to, body)
		if errs := f.drain(t); len(errs) != 0 {
			t.Fatal(errs)
		}
	}
	count := func(h *hook) int {
		got, bad := h.received()
		if bad != 0 {
			t.Fatalf("%d badly signed webhooks", bad)
		}
		return len(got)
	}

	text(pooled, "1")
	if count(numberHook) != 1 || count(serviceHook) != 0 {
		t.Fatalf("no inbound URL: number hook %d, service hook %d", count(numberHook), count(serviceHook))
	}
	c := f.srv.Client().MessagingV1
	p := &messaging.UpdateServiceParams{}
	p.SetInboundRequestUrl(serviceHook.srv.URL + "/service").SetInboundMethod("POST").SetUseInboundWebhookOnNumber(false)
	if _, err := c.UpdateService(mg, p); err != nil {
		t.Fatal(err)
	}
	text(pooled, "2")
	text(ours, "3")
	if count(numberHook) != 1 || count(serviceHook) != 1 || count(ownHook) != 1 {
		t.Fatalf("inbound URL set: number hook %d, service hook %d, other number %d", count(numberHook), count(serviceHook), count(ownHook))
	}
	got, _ := serviceHook.received()
	if form := got[0]; form.Get("MessagingServiceSid") != mg || form.Get("To") != pooled || form.Get("From") != ann || form.Get("Body") != "2" {
		t.Fatalf("service webhook %v", form)
	}
	var inbound []twiliotest.Message
	for _, m := range f.srv.Messages() {
		if m.Direction == "inbound" && m.To == pooled {
			inbound = append(inbound, m)
		}
	}
	if len(inbound) != 2 || inbound[1].MessagingServiceSID != mg {
		t.Fatalf("inbound messages %+v", inbound)
	}

	p = &messaging.UpdateServiceParams{}
	p.SetUseInboundWebhookOnNumber(true)
	if _, err := c.UpdateService(mg, p); err != nil {
		t.Fatal(err)
	}
	text(pooled, "4")
	if count(numberHook) != 2 || count(serviceHook) != 1 {
		t.Fatalf("UseInboundWebhookOnNumber: number hook %d, service hook %d", count(numberHook), count(serviceHook))
	}
}

// TestStudioRepliesThroughMessagingService checks the Studio handoff when
// the service's InboundRequestUrl is a flow's webhook.
func TestStudioRepliesThroughMessagingService(t *testing.T) {
	runner := &replyRunner{}
	f := newFixture(t, twiliotest.Options{Studio: runner})
	mg := f.srv.AddMessagingService(pooled)
	sc := f.srv.Client().StudioV2
	fl := createFlow(t, sc, "Survey", "published", studioDef("Hi"))
	numberHook := newHook(t, f.srv.AuthToken())
	f.srv.SetSmsURL(pooled, numberHook.srv.URL) // overridden by the service
	if !f.srv.SetServiceInboundURL(mg, *fl.WebhookUrl) {
		t.Fatal("no service")
	}
	e, err := createExecution(sc, *fl.Sid, ann, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.net.Phone(ann).Text(pooled, "7")
	if errs := f.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	replies, execs := runner.got()
	if len(replies) != 1 || replies[0].Body != "7" || replies[0].To != pooled || replies[0].MessagingServiceSID != mg || execs[0].SID != *e.Sid {
		t.Fatalf("replies %+v to %+v", replies, execs)
	}
	if got, _ := numberHook.received(); len(got) != 0 {
		t.Fatalf("the number's SmsUrl got %d webhooks", len(got))
	}

	// A Studio webhook of no flow the fake holds is an error naming the service.
	f.srv.SetServiceInboundURL(mg, "https://webhooks.twilio.com/v1/Accounts/"+f.srv.AccountSID()+"/Flows/FW00000000000000000000000000000000")
	f.net.Phone(ann).Text(pooled, "secret")
	errs := f.drain(t)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "Studio webhook") || !strings.Contains(errs[0].Error(), mg) ||
		strings.Contains(errs[0].Error(), "secret") || strings.Contains(errs[0].Error(), ann) {
		t.Fatalf("errors %v", errs)
	}
}
