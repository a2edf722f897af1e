package twiliosms_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

func checkIn() *outreach.Flow {
	zero, ten := 0.0, 10.0
	return &outreach.Flow{
		ID: "check-in",
		Steps: []outreach.Step{
			{ID: "ask_pain", Kind: outreach.StepAsk, Body: "Hi {{recipient.first_name}}, how is your pain from 0 to 10? Reply with a number.",
				Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &zero, Max: &ten},
				Next:   "thanks"},
			{ID: "thanks", Kind: outreach.StepEnd, Body: "Thank you, {{recipient.first_name}}. You said {{answers.ask_pain}}.", Outcome: "ok"},
		},
	}
}

// twice serves every request, then serves it again (same body, same
// signature) as Twilio does when it retries a webhook; the second answer
// must be a success too.
func twice(t *testing.T, h http.Handler, replays *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		again := r.Clone(r.Context())
		again.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, again)
		if rec.Code >= 300 {
			t.Errorf("replayed webhook answered %d", rec.Code)
		}
		replays.Add(1)
	})
}

// An embedded campaign over the Twilio path: runner -> Sender -> fake
// Twilio -> simulated phones -> signed webhooks (status callbacks out of
// order and twice; every inbound webhook retried) -> handlers -> runner,
// with a hijacked, a failed and a rate-limited create along the way.
func TestEndToEndCampaign(t *testing.T) {
	ctx := context.Background()
	clock := outreach.NewManualClock(time.Date(2026, 3, 4, 17, 0, 0, 0, time.UTC))
	net := simphone.New(clock, 7)
	const n = 30
	var recipients []outreach.Recipient
	for i := range n {
		phone := fmt.Sprintf("+1440644%04d", 3700+i)
		net.Add(phone, simphone.Persona{Responder: simphone.Scripted(fmt.Sprint(i % 11)), Delay: time.Duration(1+i%5) * time.Minute})
		recipients = append(recipients, outreach.Recipient{ID: fmt.Sprint("p-", i), FirstName: fmt.Sprint("P", i), Phone: phone})
	}
	srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{ourNumber},
		ReorderCallbacks: 0.3, DuplicateCallbacks: 0.3, Seed: 3})
	defer srv.Close()

	mux := http.NewServeMux()
	hooks := httptest.NewServer(mux)
	defer hooks.Close()

	sender, err := twiliosms.NewSender(twiliosms.Config{
		AccountSID: srv.AccountSID(), AuthToken: srv.AuthToken(), From: ourNumber,
		StatusCallbackURL: hooks.URL + "/status", HTTPClient: srv.HTTPClient(), Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	defer store.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner := outreach.NewRunner(store, sender, outreach.RunnerOptions{From: ourNumber, Clock: clock, NoThrottle: true, Logger: quiet})

	inbound, err := twiliosms.InboundHandler(runner, twiliosms.WebhookConfig{AuthToken: srv.AuthToken(), PublicURL: hooks.URL + "/sms"})
	if err != nil {
		t.Fatal(err)
	}
	status, err := twiliosms.StatusHandler(runner, twiliosms.WebhookConfig{AuthToken: srv.AuthToken(), PublicURL: hooks.URL + "/status"})
	if err != nil {
		t.Fatal(err)
	}
	var replays atomic.Int64
	mux.Handle("/sms", twice(t, inbound, &replays))
	mux.Handle("/status", status)
	srv.SetSmsURL(ourNumber, hooks.URL+"/sms")

	c, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: checkIn()}, recipients)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	faults := []twiliotest.Fault{
		{Hijack: true, Times: 1},
		{Status: http.StatusInternalServerError, Times: 1},
		{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second, Times: 1},
	}
	deadline := clock.Now().Add(48 * time.Hour)
	nextFault, faultAt := 0, -1
	for {
		// One fault at a time: the next once the last has been met.
		if reqs := srv.Requests(twiliotest.CreateMessage); nextFault < len(faults) && reqs > faultAt {
			srv.SetFault(twiliotest.CreateMessage, faults[nextFault])
			nextFault, faultAt = nextFault+1, reqs
		}
		if _, err := runner.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if err := srv.Step(ctx, clock.Now()); err != nil {
			t.Fatal(err)
		}
		got, err := store.Campaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Finished() {
			break
		}
		next, ok := srv.Next()
		if at, due, _ := store.NextDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, clock.Now()); due && (!ok || at.Before(next)) {
			next, ok = at, true
		}
		if !ok || next.After(deadline) {
			t.Fatalf("stalled at %v (campaign %s)", clock.Now(), got.Status)
		}
		if next.After(clock.Now()) {
			clock.Set(next)
		} else {
			clock.Advance(time.Second)
		}
	}
	// Let the last status callbacks arrive.
	for at, ok := srv.Next(); ok; at, ok = srv.Next() {
		clock.Set(at)
		if err := srv.Step(ctx, at); err != nil {
			t.Fatal(err)
		}
	}

	// Each message reached the fake exactly once: two per recipient.
	count := map[[2]string]int{}
	for _, m := range srv.Messages() {
		if m.Direction == "outbound-api" {
			count[[2]string{m.To, m.Body}]++
		}
	}
	if len(count) != 2*n {
		t.Errorf("%d distinct messages at the fake, want %d", len(count), 2*n)
	}
	for k, v := range count {
		if v != 1 {
			t.Errorf("%s %q created %d times", outreach.MaskPhone(k[0]), k[1], v)
		}
	}
	for i, rcp := range recipients {
		inbox := net.Phone(rcp.Phone).Inbox()
		want := fmt.Sprintf("Thank you, P%d. You said %d.", i, i%11)
		if len(inbox) != 2 || inbox[1].Body != want {
			t.Errorf("%s inbox %+v", rcp.ID, inbox)
		}
	}
	convs, err := store.Conversations(ctx, c.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, cv := range convs {
		if cv.Outcome != "ok" {
			t.Errorf("conversation %d outcome %q", cv.ID, cv.Outcome)
		}
		msgs, err := store.Messages(ctx, cv.ID)
		if err != nil {
			t.Fatal(err)
		}
		in := 0
		for _, m := range msgs {
			switch {
			case m.Direction == outreach.Inbound:
				in++
			case m.DeliveryStatus == "delivered":
				delivered++
			}
		}
		if in != 1 {
			t.Errorf("conversation %d: %d inbound messages stored (webhook retried: want 1)", cv.ID, in)
		}
	}
	// Every status reached its message, and a late "sent" never
	// overwrote "delivered": even the callbacks of a message whose send
	// was ambiguous, which come before the runner reconciles it, are
	// kept and applied once it does.
	st := runner.Stats()
	if delivered != 2*n {
		t.Errorf("%d messages delivered, want %d (%d reconciled)", delivered, 2*n, st.Reconciled)
	}
	t.Logf("stats %+v; %d inbound webhooks replayed; %d creates at the fake", st, replays.Load(), srv.Requests(twiliotest.CreateMessage))
	if st.Ambiguous < 2 || st.Retried < 1 || replays.Load() != n {
		t.Errorf("faults not exercised: stats %+v, %d replays", st, replays.Load())
	}
}
