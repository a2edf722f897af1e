package twiliotest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

func send(t *testing.T, f *fixture, to, body string) *api.ApiV2010Message {
	t.Helper()
	p := &api.CreateMessageParams{}
	p.SetFrom(ours).SetTo(to).SetBody(body)
	m, err := f.srv.Client().Api.CreateMessage(p)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return m
}

func TestCreateFetchListPaginated(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	c := f.srv.Client()
	var sids []string
	for i := range 5 {
		to := ann
		if i%2 == 1 {
			to = bob
		}
		p := &api.CreateMessageParams{}
		p.SetFrom(ours).SetTo(to).SetBody(fmt.Sprintf("hello %d", i)).SetStatusCallback("https://example.com/status").SetValidityPeriod(3600)
		m, err := c.Api.CreateMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.Sid == nil || !strings.HasPrefix(*m.Sid, "SM") || len(*m.Sid) != 34 {
			t.Fatalf("sid %v", m.Sid)
		}
		if *m.Status != "queued" || *m.From != ours || *m.To != to || *m.Direction != "outbound-api" ||
			*m.NumSegments != "1" || *m.AccountSid != f.srv.AccountSID() || m.DateSent != nil || m.ErrorCode != nil {
			t.Fatalf("created %+v", m)
		}
		if _, err := time.Parse(time.RFC1123Z, *m.DateCreated); err != nil {
			t.Fatalf("date_created %q: %v", *m.DateCreated, err)
		}
		if *m.Uri != "/2010-04-01/Accounts/"+f.srv.AccountSID()+"/Messages/"+*m.Sid+".json" {
			t.Fatalf("uri %q", *m.Uri)
		}
		sids = append(sids, *m.Sid)
		f.clock.Advance(time.Second)
	}

	got, err := c.Api.FetchMessage(sids[2], nil)
	if err != nil || *got.Sid != sids[2] || *got.Body != "hello 2" {
		t.Fatalf("fetch: %+v, %v", got, err)
	}

	p := &api.ListMessageParams{}
	p.SetPageSize(2)
	all, err := c.Api.ListMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("listed %d messages, want 5", len(all))
	}
	for i, m := range all { // newest first
		if *m.Sid != sids[4-i] {
			t.Fatalf("message %d is %s, want %s", i, *m.Sid, sids[4-i])
		}
	}
	if n := f.srv.Requests(twiliotest.ListMessages); n != 3 {
		t.Fatalf("%d list requests, want 3 pages", n)
	}

	// A filter is kept across pages.
	p = &api.ListMessageParams{}
	p.SetTo(ann).SetFrom(ours).SetPageSize(1)
	toAnn, err := c.Api.ListMessage(p)
	if err != nil || len(toAnn) != 3 {
		t.Fatalf("To filter: %d messages, %v", len(toAnn), err)
	}

	// DateSent filters see only sent messages: none until the pump runs.
	p = &api.ListMessageParams{}
	p.SetDateSent(start)
	if sent, err := c.Api.ListMessage(p); err != nil || len(sent) != 0 {
		t.Fatalf("DateSent before the pump: %d, %v", len(sent), err)
	}
	if err := f.srv.Step(context.Background(), f.clock.Now()); err == nil {
		t.Fatal("status callbacks to example.com did not fail") // no network in tests
	}
	p = &api.ListMessageParams{}
	p.SetDateSent(start)
	if sent, err := c.Api.ListMessage(p); err != nil || len(sent) != 5 {
		t.Fatalf("DateSent: %d, %v (want the 5 sent by now)", len(sent), err)
	}
	p = &api.ListMessageParams{}
	p.SetDateSentAfter(start.Add(3 * time.Second))
	if sent, err := c.Api.ListMessage(p); err != nil || len(sent) != 3 {
		t.Fatalf("DateSent>: %d, %v", len(sent), err)
	}
	p = &api.ListMessageParams{}
	p.SetDateSentBefore(start.Add(2 * time.Second))
	if sent, err := c.Api.ListMessage(p); err != nil || len(sent) != 2 {
		t.Fatalf("DateSent<: %d, %v", len(sent), err)
	}
}

func TestMessagingService(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	mg := f.srv.AddMessagingService("+15005550007")
	p := &api.CreateMessageParams{}
	p.SetMessagingServiceSid(mg).SetTo(ann).SetBody("hi")
	m, err := f.srv.Client().Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if *m.Status != "accepted" || *m.From != "+15005550007" || *m.MessagingServiceSid != mg {
		t.Fatalf("created %+v", m)
	}
	p.SetMessagingServiceSid("MG00000000000000000000000000000000")
	_, err = f.srv.Client().Api.CreateMessage(p)
	restError(t, err, 400, 21701)
}

func TestErrors(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})

	_, err := f.srv.ClientWithCredentials(f.srv.AccountSID(), "wrongtoken").Api.FetchMessage("SM123", nil)
	restError(t, err, 401, 20003)
	_, err = f.srv.ClientWithCredentials("AC00000000000000000000000000000000", f.srv.AuthToken()).Api.FetchMessage("SM123", nil)
	restError(t, err, 401, 20003)

	c := f.srv.Client()
	_, err = c.Api.FetchMessage("SM00000000000000000000000000000000", nil)
	restError(t, err, 404, 20404)
	_, err = c.Api.FetchIncomingPhoneNumber("PN00000000000000000000000000000000", nil)
	restError(t, err, 404, 20404)
	_, err = c.Api.FetchMessage("SM1", &api.FetchMessageParams{PathAccountSid: ptr("AC11111111111111111111111111111111")})
	restError(t, err, 404, 20404)

	create := func(from, to, body string, validity int) error {
		p := &api.CreateMessageParams{}
		p.SetFrom(from).SetTo(to).SetBody(body)
		if validity != 0 {
			p.SetValidityPeriod(validity)
		}
		_, err := c.Api.CreateMessage(p)
		return err
	}
	restError(t, create(ours, "4155550100", "hi", 0), 400, 21211)
	restError(t, create(ours, nobody, "hi", 0), 400, 21612)
	restError(t, create(ours, "", "hi", 0), 400, 21604)
	restError(t, create(ours, ann, "", 0), 400, 21602)
	restError(t, create("+15005550009", ann, "hi", 0), 400, 21606)
	restError(t, create(ours, ann, "hi", 36001), 400, 21624)
	restError(t, create(ours, ann, strings.Repeat("x", 1601), 0), 400, 21617)

	// Opt-out: the phone texts STOP, gets Twilio's confirmation, then
	// the fake refuses.
	f.net.Phone(ann).Text(ours, "STOP")
	if err := f.srv.Step(context.Background(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	restError(t, create(ours, ann, "hi", 0), 400, 21610)
	if n := len(f.srv.Messages()); n != 2 { // the inbound STOP and the confirmation
		t.Fatalf("%d messages stored, want 2", n)
	}

	// Wrong method on a known path.
	req, _ := http.NewRequest(http.MethodDelete, "https://api.twilio.com/2010-04-01/Accounts/"+f.srv.AccountSID()+"/Messages.json", nil)
	req.SetBasicAuth(f.srv.AccountSID(), f.srv.AuthToken())
	resp, err := f.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE answered %d", resp.StatusCode)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSignTwilioDocExample(t *testing.T) {
	const token = "12345"
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+12349013030"},
		"Digits":  {"1234"},
		"From":    {"+12349013030"},
		"To":      {"+18005551212"},
	}
	const want = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	if got := twiliotest.Sign(token, u, params); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	v := newValidator(token)
	flat := map[string]string{}
	for k, vs := range params {
		flat[k] = vs[0]
	}
	if !v.Validate(u, flat, want) {
		t.Fatal("twilio-go's validator rejects the documented example")
	}

	req, err := twiliotest.NewWebhookRequest(context.Background(), token, u, params)
	if err != nil {
		t.Fatal(err)
	}
	if req.Header.Get(twiliotest.SignatureHeader) != want || req.Method != http.MethodPost ||
		req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("request %v %v", req.Method, req.Header)
	}
	body := make([]byte, req.ContentLength)
	_, _ = req.Body.Read(body)
	if !v.ValidateBody(u, body, want) {
		t.Fatal("twilio-go's validator rejects the signed request's body")
	}
	// Tampering breaks the signature.
	params.Set("Digits", "1235")
	if twiliotest.Sign(token, u, params) == want {
		t.Fatal("tampered params, same signature")
	}
	if twiliotest.Sign(token, u+"&x=1", params) == want {
		t.Fatal("tampered URL, same signature")
	}
}

func TestStatusCallbacks(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	h := newHook(t, f.srv.AuthToken())
	ctx := context.Background()
	for _, to := range []string{ann, bob} {
		p := &api.CreateMessageParams{}
		p.SetFrom(ours).SetTo(to).SetBody("hi").SetStatusCallback(h.srv.URL + "/status?campaign=1")
		if _, err := f.srv.Client().Api.CreateMessage(p); err != nil {
			t.Fatal(err)
		}
	}
	for {
		at, ok := f.srv.Next()
		if !ok {
			break
		}
		f.clock.Set(at)
		if err := f.srv.Step(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	got, bad := h.received()
	if bad != 0 {
		t.Fatalf("%d callbacks with a bad signature or content type", bad)
	}
	seq := map[string][]string{}
	for _, v := range got {
		if v.Get("AccountSid") != f.srv.AccountSID() || v.Get("MessageSid") == "" || v.Get("SmsStatus") != v.Get("MessageStatus") {
			t.Fatalf("callback %v", v)
		}
		s := v.Get("MessageStatus")
		if c := v.Get("ErrorCode"); c != "" {
			s += "/" + c
		}
		seq[v.Get("To")] = append(seq[v.Get("To")], s)
	}
	if fmt.Sprint(seq[ann]) != "[queued sent delivered]" || fmt.Sprint(seq[bob]) != "[queued sent undelivered/30003]" {
		t.Fatalf("callbacks %v", seq)
	}
	for _, m := range f.srv.Messages() {
		switch {
		case m.Direction == "inbound":
			if m.From != ann || m.Body != "7" || m.Status != "received" {
				t.Fatalf("inbound %+v", m)
			}
		case m.To == ann && (m.Status != "delivered" || m.DateSent != start.Add(twiliotest.SentDelay)):
			t.Fatalf("ann's message %+v", m)
		case m.To == bob && (m.Status != "undelivered" || m.ErrorCode != 30003):
			t.Fatalf("bob's message %+v", m)
		}
	}
	fetched, err := f.srv.Client().Api.ListMessage(&api.ListMessageParams{To: ptr(bob)})
	if err != nil || len(fetched) != 1 || *fetched[0].ErrorCode != 30003 || *fetched[0].ErrorMessage == "" || fetched[0].DateSent == nil {
		t.Fatalf("bob's message through the API: %+v, %v", fetched, err)
	}
}

func TestCallbacksOutOfOrderAndTwice(t *testing.T) {
	f := newFixture(t, twiliotest.Options{ReorderCallbacks: 1, DuplicateCallbacks: 1})
	h := newHook(t, f.srv.AuthToken())
	p := &api.CreateMessageParams{}
	p.SetFrom(ours).SetTo(ann).SetBody("hi").SetStatusCallback(h.srv.URL + "/status")
	if _, err := f.srv.Client().Api.CreateMessage(p); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	if err := f.srv.Step(context.Background(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	got, _ := h.received()
	var statuses []string
	for _, v := range got {
		statuses = append(statuses, v.Get("MessageStatus"))
	}
	if fmt.Sprint(statuses) != "[delivered delivered queued queued sent sent]" {
		t.Fatalf("callbacks %v", statuses)
	}
	if m := f.srv.Messages()[0]; m.Status != "delivered" {
		t.Fatalf("status moved back to %q", m.Status)
	}
}

func TestInboundToSmsURL(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	h := newHook(t, f.srv.AuthToken())
	c := f.srv.Client()

	nums, err := c.Api.ListIncomingPhoneNumber(&api.ListIncomingPhoneNumberParams{PhoneNumber: ptr(ours)})
	if err != nil || len(nums) != 1 || *nums[0].PhoneNumber != ours || !nums[0].Capabilities.Sms {
		t.Fatalf("numbers %+v, %v", nums, err)
	}
	up := &api.UpdateIncomingPhoneNumberParams{}
	up.SetSmsUrl(h.srv.URL + "/sms")
	n, err := c.Api.UpdateIncomingPhoneNumber(*nums[0].Sid, up)
	if err != nil || *n.SmsUrl != h.srv.URL+"/sms" {
		t.Fatalf("update: %+v, %v", n, err)
	}
	n, err = c.Api.FetchIncomingPhoneNumber(*nums[0].Sid, nil)
	if err != nil || *n.SmsUrl != h.srv.URL+"/sms" || *n.FriendlyName != "(500) 555-0006" {
		t.Fatalf("fetch: %+v, %v", n, err)
	}
	_, err = c.Api.UpdateIncomingPhoneNumber("PN00000000000000000000000000000000", up)
	restError(t, err, 404, 20404)

	send(t, f, ann, "How is your pain, 0-10?")
	at, ok := f.net.NextDue()
	if !ok {
		t.Fatal("no reply scheduled")
	}
	f.clock.Set(at)
	if err := f.srv.Step(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	got, bad := h.received()
	if bad != 0 || len(got) != 1 {
		t.Fatalf("%d webhooks, %d bad", len(got), bad)
	}
	v := got[0]
	if v.Get("From") != ann || v.Get("To") != ours || v.Get("Body") != "7" || v.Get("NumMedia") != "0" ||
		v.Get("AccountSid") != f.srv.AccountSID() || !strings.HasPrefix(v.Get("MessageSid"), "SM") || v.Get("SmsStatus") != "received" {
		t.Fatalf("inbound webhook %v", v)
	}
	m, err := c.Api.FetchMessage(v.Get("MessageSid"), nil)
	if err != nil || *m.Direction != "inbound" || *m.Status != "received" {
		t.Fatalf("inbound message %+v, %v", m, err)
	}
}

func TestRunRealTime(t *testing.T) {
	clock := clocktest.Real(t)
	net := simphone.New(clock, 1)
	net.Add(ann, simphone.Persona{Responder: simphone.Scripted("yes")})
	errs := make(chan error, 10)
	srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{ours}, OnWebhookError: func(err error) { errs <- err }})
	defer srv.Close()
	h := newHook(t, srv.AuthToken())
	srv.SetSmsURL(ours, h.srv.URL+"/sms")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v", err)
		}
	}()

	p := &api.CreateMessageParams{}
	p.SetFrom(ours).SetTo(ann).SetBody("Come in?").SetStatusCallback(h.srv.URL + "/status")
	if _, err := srv.Client().Api.CreateMessage(p); err != nil {
		t.Fatal(err)
	}
	// queued at once; a phone's delay is minutes, so only wait for that.
	select {
	case v := <-h.ch:
		if v.Get("MessageStatus") != "queued" {
			t.Fatalf("first webhook %v", v)
		}
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("no status callback from Run")
	}
	// A text from the phone is noticed without any API call.
	net.Phone(ann).Text(ours, "HELP")
	deadline := time.After(5 * time.Second)
	for {
		select {
		case v := <-h.ch:
			if v.Get("Body") == "HELP" {
				return
			}
		case <-deadline:
			t.Fatal("the phone's text never reached the SmsUrl")
		}
	}
}

func TestManualClockRun(t *testing.T) {
	f := newFixture(t, twiliotest.Options{})
	h := newHook(t, f.srv.AuthToken())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Run(ctx) }()
	p := &api.CreateMessageParams{}
	p.SetFrom(ours).SetTo(bob).SetBody("hi").SetStatusCallback(h.srv.URL + "/status")
	if _, err := f.srv.Client().Api.CreateMessage(p); err != nil {
		t.Fatal(err)
	}
	want := []string{"queued", "sent", "undelivered"}
	for i, w := range want {
		if i > 0 {
			f.clock.Advance(time.Second)
		}
		select {
		case v := <-h.ch:
			if v.Get("MessageStatus") != w {
				t.Fatalf("callback %d is %q, want %q", i, v.Get("MessageStatus"), w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("callback %q never came", w)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
}
