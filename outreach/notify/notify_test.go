package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/notify"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// receiver is a webhook endpoint on loopback that verifies signatures
// and keeps the payloads; fail makes it answer 503.
type receiver struct {
	mu       sync.Mutex
	secret   []byte
	now      func() time.Time
	fail     bool
	bodies   []string
	rejected int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := notify.Verify(rc.secret, r.Header.Get(notify.SignatureHeader), body, rc.now(), 5*time.Minute); err != nil {
		rc.rejected++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	rc.bodies = append(rc.bodies, string(body))
}

// TestAlertReachesOnCallAndWebhook runs a campaign in which the patient
// answers "chest pain, call me": the on-call phone (a simulated phone)
// gets one text with the ids and terms, the webhook one signed payload,
// and neither holds the reply, the name or the patient's number. A
// webhook that was down is tried again without texting the on-call phone
// twice.
func TestAlertReachesOnCallAndWebhook(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.Manual(t)
	phones := simphone.New(clock, 1)
	store := memstore.New()
	const from, patient, onCall = "+15005550006", "+14406443709", "+14406440001"
	phones.Add(patient, simphone.Persona{Responder: simphone.Scripted("chest pain since last night, please call me"), Delay: time.Minute})
	phones.Add(onCall, simphone.Persona{Responder: simphone.Scripted()})
	rc := &receiver{secret: []byte("s3cret"), now: clock.Now, fail: true}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sender := simphone.NewSender(phones)
	runner := outreach.NewRunner(store, sender, outreach.RunnerOptions{
		From: from, Clock: clock, Window: outreach.AnyHour, NoThrottle: true, AlertRetry: time.Minute,
		Notifier: notify.All(
			&notify.SMS{Sender: sender, From: from, To: onCall, Link: "https://outreach.example.org/campaigns/"},
			&notify.Webhook{URL: srv.URL, Secret: rc.secret, Client: srv.Client(), Now: clock.Now},
		),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	sim := &simphone.Simulation{Runner: runner, Store: store, Network: phones, Clock: clock}
	if _, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, []outreach.Recipient{{ID: "p-1", FirstName: "Zebulon", Phone: patient}}); err != nil {
		t.Fatal(err)
	}
	// The webhook was down: the SMS went, the alert waits.
	if n := runner.NotifyAlerts(ctx); n != 0 {
		t.Fatalf("notified %d while the webhook was down", n)
	}
	rc.mu.Lock()
	rc.fail = false
	rc.mu.Unlock()
	clock.Advance(time.Minute)
	if n := runner.NotifyAlerts(ctx); n != 1 {
		t.Fatalf("notified %d once the webhook was up; want 1", n)
	}

	texts := phones.Phone(onCall).Inbox()
	if len(texts) != 1 {
		t.Fatalf("the on-call phone got %d texts; want 1: %+v", len(texts), texts)
	}
	sms := texts[0].Body
	for _, want := range []string{"campaign 1", "chest pain", "call me", "https://outreach.example.org/campaigns/1"} {
		if !strings.Contains(sms, want) {
			t.Errorf("on-call text %q lacks %q", sms, want)
		}
	}
	if len(rc.bodies) != 1 || rc.rejected != 0 {
		t.Fatalf("webhook payloads %q, %d rejected; want one", rc.bodies, rc.rejected)
	}
	for _, want := range []string{`"campaign_id":1`, `"patient_id":"p-1"`, `"terms":["chest pain","call me"]`, `"try":`} {
		if !strings.Contains(rc.bodies[0], want) {
			t.Errorf("payload %s lacks %s", rc.bodies[0], want)
		}
	}
	for _, leak := range []string{"Zebulon", "4406443709", "since last night"} {
		if strings.Contains(sms, leak) || strings.Contains(rc.bodies[0], leak) {
			t.Errorf("the alert gives away %q: %q / %s", leak, sms, rc.bodies[0])
		}
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("k")
	at := clocktest.Start(t)
	body := []byte(`{"alert_id":1}`)
	sig := notify.Sign(secret, at, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", sig, body, at.Add(time.Minute), true},
		{"tampered body", sig, []byte(`{"alert_id":2}`), at, false},
		{"other secret", notify.Sign([]byte("x"), at, body), body, at, false},
		{"replayed later", sig, body, at.Add(time.Hour), false},
		{"missing", "", body, at, false},
		{"malformed", "t=abc,v1=zz", body, at, false},
	}
	for _, tc := range tests {
		err := notify.Verify(secret, tc.header, tc.body, tc.now, 5*time.Minute)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, notify.ErrBadSignature) {
			t.Errorf("%s: Verify = %v; want ok %v", tc.name, err, tc.ok)
		}
	}
}

func ExampleSMS_Text() {
	n := &notify.SMS{Link: "https://outreach.example.org/campaigns/"}
	fmt.Println(n.Text(outreach.Alert{ID: 7, CampaignID: 12, ConversationID: 345, Terms: []string{"chest pain"}}))
	// Output:
	// Urgent patient reply (alert 7, campaign 12, conversation 345): chest pain. Please read it now. https://outreach.example.org/campaigns/12
}
