package twiliotest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// TestWebhookConcurrency: with Options.WebhookConcurrency, Step posts the
// status callbacks of different phones at once, and those of one message
// still in order.
func TestWebhookConcurrency(t *testing.T) {
	clock := outreach.NewManualClock(start)
	net := simphone.New(clock, 1)
	const phones = 20
	for i := range phones {
		net.Add(fmt.Sprintf("+1415555%04d", 1000+i), simphone.Persona{Silent: true})
	}
	srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{ours}, WebhookConcurrency: 8})
	t.Cleanup(srv.Close)

	var (
		mu             sync.Mutex
		inFlight, most int
		bySID          = map[string][]string{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		bySID[form.Get("MessageSid")] = append(bySID[form.Get("MessageSid")], form.Get("MessageStatus"))
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)

	for i := range phones {
		p := &api.CreateMessageParams{}
		p.SetFrom(ours).SetTo(fmt.Sprintf("+1415555%04d", 1000+i)).SetBody("hi").SetStatusCallback(hook.URL + "/status")
		if _, err := srv.Client().Api.CreateMessage(p); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for at, ok := srv.Next(); ok; at, ok = srv.Next() {
		clock.Set(at)
		if err := srv.Step(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	if most < 2 {
		t.Errorf("at most %d webhooks in flight; want several", most)
	}
	if len(bySID) != phones {
		t.Fatalf("callbacks for %d messages; want %d", len(bySID), phones)
	}
	for sid, sts := range bySID {
		if fmt.Sprint(sts) != "[queued sent delivered]" {
			t.Errorf("message %s: callbacks %v; want queued, sent, delivered in order", sid, sts)
		}
	}
}
