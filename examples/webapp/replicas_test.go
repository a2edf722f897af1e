package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/verify/twilioverify"
)

// TestTwoReplicas runs two instances of the web app, in real mode, on one
// fake Twilio and one Postgres schema, as two replicas behind a load
// balancer with no sticky sessions: a login that starts on one finishes
// on the other; a status callback that reaches the replica that did not
// send the message is applied; both show the same progress.
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	const public = "https://outreach.example.org"
	clock := clocktest.Manual(t)
	net := simphone.New(clock, 1)
	net.Add(annPhone, simphone.Persona{Silent: true})
	fake := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{"+15005550006"}})
	t.Cleanup(fake.Close)

	a, _ := newRealServerOn(t, fake, public, db)
	b, _ := newRealServerOn(t, fake, public, db)
	// Only A runs campaigns: B serves pages and webhooks.
	a.start(context.Background())
	srvA, srvB := httptest.NewServer(a.handler), httptest.NewServer(b.handler)
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	on := func(c *client, srv *httptest.Server) *client { c.base = srv.URL; return c }
	c := &client{t: t, hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}

	// The password on A, the code on B.
	resp, body := on(c, srvA).postForm("/login", url.Values{"user": {firstAdmin}, "password": {realPassword}})
	if resp.StatusCode != http.StatusSeeOther || c.session == nil {
		t.Fatalf("password step on A: %s, session cookie %v\n%s", resp.Status, c.session, body)
	}
	codes, err := twilioverify.New(t.Context(), twilioverify.Config{
		AccountSID: fake.AccountSID(), AuthToken: fake.AuthToken(), HTTPClient: fake.HTTPClient(),
		ServiceName: a.cfg.VerifyServiceName,
	})
	if err != nil {
		t.Fatal(err)
	}
	code, ok := fake.VerifyCode(codes.ServiceSID(), realAdminPhone)
	if !ok {
		t.Fatal("no login code was sent")
	}
	resp, body = on(c, srvB).postForm("/login/code", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/campaigns" {
		t.Fatalf("code step on B: %s to %q; want 303 to /campaigns\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	for _, srv := range []*httptest.Server{srvA, srvB} {
		resp, body := on(c, srv).get("/campaigns")
		mustStatus(t, "campaigns after the login on "+srv.URL, resp, body, http.StatusOK)
	}

	// A campaign, uploaded and started on A (TestUploadOnAnyReplica
	// starts one on the other replica), sent by A's runner.
	page := startCampaign(t, on(c, srvA), "Replicas", csvOf("patient_id,patient_first_name,patient_phone", "R-1,Ann,(440) 555-0142"))
	var sent outreach.Message
	waitUntil(t, func() bool {
		cs, err := a.store.Campaigns(t.Context())
		if err != nil || len(cs) != 1 {
			return false
		}
		convs, err := a.store.Conversations(t.Context(), cs[0].ID, 0, 10)
		if err != nil || len(convs) != 1 {
			return false
		}
		ms, err := b.store.Messages(t.Context(), convs[0].ID)
		for _, m := range ms {
			if err == nil && m.Direction == outreach.Outbound && m.ProviderID != "" {
				sent = m
				return true
			}
		}
		return false
	})

	// Twilio's status callback reaches B.
	req, err := twiliotest.NewWebhookRequest(t.Context(), fake.AuthToken(), public+"/twilio/status", url.Values{
		"AccountSid": {fake.AccountSID()}, "MessageSid": {sent.ProviderID}, "MessageStatus": {"delivered"},
		"From": {sent.From}, "To": {sent.To},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status callback on B: %d\n%s", rec.Code, rec.Body)
	}
	ms, err := a.store.Messages(t.Context(), sent.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == sent.ID && m.DeliveryStatus != "delivered" {
			t.Errorf("the message sent by A has delivery status %q after B took the callback; want delivered", m.DeliveryStatus)
		}
	}

	// Both replicas show the same progress.
	_, bodyA := on(c, srvA).get(page)
	_, bodyB := on(c, srvB).get(page)
	ca, cb := pageCounters(bodyA), pageCounters(bodyB)
	if ca["delivered"] != "1" || ca["sent"] != "1" {
		t.Errorf("campaign page on A: counters %v; want 1 sent, 1 delivered", ca)
	}
	if len(ca) == 0 || !equalMaps(ca, cb) {
		t.Errorf("the replicas show different progress: A %v, B %v", ca, cb)
	}
	if !strings.Contains(bodyB, "Replicas") {
		t.Errorf("B's campaign page does not name the campaign:\n%s", bodyB)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
