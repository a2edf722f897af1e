package outreach_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

const sender = "+15005550006"

// rig is a runner on a memory store and simulated phones, on a manual clock.
type rig struct {
	t      *testing.T
	ctx    context.Context
	clock  *outreach.ManualClock
	store  outreach.Store
	net    *simphone.Network
	sender *simphone.Sender
	runner *outreach.Runner
}

// noon is 12:00 in New York: inside the sending window.
var noon = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

func newRig(t *testing.T, start time.Time, opts outreach.RunnerOptions) *rig {
	t.Helper()
	clock := outreach.NewManualClock(start)
	net := simphone.New(clock, 1)
	snd := simphone.NewSender(net)
	store := memstore.New()
	opts.Clock = clock
	opts.From = sender
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &rig{t: t, ctx: context.Background(), clock: clock, store: store, net: net, sender: snd,
		runner: outreach.NewRunner(store, snd, opts)}
}

func (r *rig) phone(number string, p outreach.Recipient, persona simphone.Persona) outreach.Recipient {
	r.net.Add(number, persona)
	p.Phone = number
	return p
}

func (r *rig) campaign(f *outreach.Flow, recs ...outreach.Recipient) outreach.Campaign {
	r.t.Helper()
	c, _, err := r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "test", Flow: f}, recs)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.runner.StartCampaign(r.ctx, c.ID); err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *rig) run(c outreach.Campaign) {
	r.t.Helper()
	sim := &simphone.Simulation{Runner: r.runner, Store: r.store, Network: r.net, Clock: r.clock}
	if _, err := sim.Run(r.ctx, c.ID); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) outcomes(c outreach.Campaign) map[string]string {
	r.t.Helper()
	convs, err := r.store.Conversations(r.ctx, c.ID, 0, 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]string{}
	for _, cv := range convs {
		out[cv.Recipient.ID] = cv.Outcome
	}
	return out
}

func (r *rig) assertOnce() {
	r.t.Helper()
	for k, n := range r.net.CountByKey() {
		if n != 1 {
			r.t.Errorf("key %v reached the phone %d times, want 1", k, n)
		}
	}
}

var ana = outreach.Recipient{ID: "p1", FirstName: "Ana"}

func TestRunnerConversation(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{})
	rec := r.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("maybe", "yes", "8"), Delay: time.Minute})
	c := r.campaign(loopFlow(), rec)
	r.run(c)
	if got := r.outcomes(c)["p1"]; got != "call" {
		t.Fatalf("outcome %q, want call", got)
	}
	resp, err := r.store.Responses(r.ctx, c.ID, outreach.ResponsePage{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range resp {
		got = append(got, x.QuestionID+"="+x.Answer+"("+x.Raw+")")
	}
	want := []string{"q=(maybe)", "q=yes(yes)", "pain=8(8)"}
	if len(got) != len(want) {
		t.Fatalf("responses %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("responses %q, want %q", got, want)
		}
	}
	inbox := r.net.Phone(rec.Phone).Inbox()
	if last := inbox[len(inbox)-1].Body; last != "We will call, Ana. You said 8." {
		t.Fatalf("last message %q", last)
	}
	if cs, _ := r.store.Campaign(r.ctx, c.ID); cs.Status != outreach.CampaignDone {
		t.Fatalf("campaign status %s, want done", cs.Status)
	}
	r.assertOnce()
}

// A campaign is created at its clock's time, not the system clock's: a
// simulated campaign's duration is UpdatedAt - CreatedAt.
func TestCampaignCreatedOnItsClock(t *testing.T) {
	r := newRig(t, clocktest.Start(t), outreach.RunnerOptions{})
	rec := r.phone("+14406443709", ana, simphone.Persona{Silent: true})
	c := r.campaign(oneWayFlow(), rec)
	if !c.CreatedAt.Equal(r.clock.Now()) {
		t.Fatalf("CreatedAt %v, want the clock's %v", c.CreatedAt, r.clock.Now())
	}
	convs, err := r.store.Conversations(r.ctx, c.ID, 0, 0)
	if err != nil || len(convs) != 1 || !convs[0].CreatedAt.Equal(r.clock.Now()) {
		t.Fatalf("conversations %+v, %v; want one created at %v", convs, err, r.clock.Now())
	}
}

func TestPreviewCampaign(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{})
	recs := []outreach.Recipient{
		{ID: "a", FirstName: "Ana", Phone: "+12085550123"},
		{ID: "b", FirstName: "Bo", Phone: "+14406443709", TimeZone: "America/Chicago"},
	}
	c, _, err := r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "draft", Flow: loopFlow()}, recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.runner.PreviewCampaign(r.ctx, c.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Messages[0] != "Hi Bo Reply STOP to opt out." || len(got[0].Messages) != 2 {
		t.Fatalf("preview %+v", got)
	}
	if z := got[0].Zones; len(z) != 2 { // area code 208 spans two zones
		t.Errorf("zones of a 208 number: %v, want two", z)
	}
	if z := got[1].Zones; len(z) != 1 || z[0] != "America/Chicago" {
		t.Errorf("zones with a timezone column: %v", z)
	}
	if len(r.net.Messages()) != 0 {
		t.Fatal("preview sent messages")
	}
}

func TestRunnerQuietHoursDefer(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	late := time.Date(2026, 3, 2, 20, 59, 30, 0, ny)
	r := newRig(t, late, outreach.RunnerOptions{NoThrottle: true})
	var recs []outreach.Recipient
	for i, n := range []string{"+12125550123", "+12125550124", "+12125550125"} {
		recs = append(recs, r.phone(n, outreach.Recipient{ID: string(rune('a' + i)), FirstName: "X", TimeZone: "America/New_York"},
			simphone.Persona{Responder: simphone.Scripted("yes", "2"), Delay: 20 * time.Second}))
	}
	c := r.campaign(loopFlow(), recs...)
	r.run(c)
	if r.runner.Stats().Deferred == 0 {
		t.Fatal("nothing was deferred")
	}
	for _, p := range r.net.Phones() {
		for _, m := range p.Inbox() {
			local := m.At.In(ny)
			if h := local.Hour(); h < 8 || h >= 21 {
				t.Errorf("message at %s local, outside 08:00-21:00", local.Format(time.DateTime))
			}
		}
	}
	for id, o := range r.outcomes(c) {
		if o != "ok" {
			t.Errorf("%s: outcome %q, want ok", id, o)
		}
	}
}

func TestRunnerOptOut(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{})
	rec := r.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("STOP"), Delay: time.Minute})
	c := r.campaign(loopFlow(), rec)
	r.run(c)
	if got := r.outcomes(c)["p1"]; got != outreach.OutcomeOptedOut {
		t.Fatalf("outcome %q, want opted_out", got)
	}
	// A second campaign to the same number sends nothing at all.
	before := len(r.net.Phone(rec.Phone).Inbox())
	c2 := r.campaign(loopFlow(), rec)
	r.run(c2)
	if got := r.outcomes(c2)["p1"]; got != outreach.OutcomeOptedOut {
		t.Fatalf("second campaign outcome %q, want opted_out", got)
	}
	if after := len(r.net.Phone(rec.Phone).Inbox()); after != before {
		t.Fatalf("phone got %d more messages after STOP", after-before)
	}
	if len(r.net.Refusals()) != 0 {
		t.Fatalf("the runner tried to send after STOP: %v", r.net.Refusals())
	}
	// START opts back in.
	if _, err := r.runner.HandleInbound(r.ctx, outreach.InboundMessage{From: rec.Phone, To: sender, Body: "start", ProviderID: "SMstart"}); err != nil {
		t.Fatal(err)
	}
	opted, _ := r.store.OptedOut(r.ctx, []string{rec.Phone})
	if opted[rec.Phone] {
		t.Fatal("still opted out after START")
	}
}

func TestRunnerSendFaults(t *testing.T) {
	tests := []struct {
		name    string
		fault   simphone.Fault
		times   int
		outcome string
		check   func(t *testing.T, s outreach.Stats)
	}{
		{"retryable then sent", simphone.Fault{Kind: outreach.Retryable, RetryAfter: 5 * time.Second}, 2, "ok",
			func(t *testing.T, s outreach.Stats) {
				if s.Retried != 2 {
					t.Errorf("retried %d, want 2", s.Retried)
				}
			}},
		{"ambiguous after accept is reconciled, not resent", simphone.Fault{Kind: outreach.Ambiguous, Accepted: true}, 1, "ok",
			func(t *testing.T, s outreach.Stats) {
				if s.Reconciled != 1 || s.Resent != 0 {
					t.Errorf("reconciled %d resent %d, want 1 and 0", s.Reconciled, s.Resent)
				}
			}},
		{"ambiguous before accept is resent once", simphone.Fault{Kind: outreach.Ambiguous}, 1, "ok",
			func(t *testing.T, s outreach.Stats) {
				if s.Resent != 1 {
					t.Errorf("resent %d, want 1", s.Resent)
				}
			}},
		{"permanent ends the conversation", simphone.Fault{Kind: outreach.Permanent, Code: "21211"}, 1, outreach.OutcomeDeliveryFailed, nil},
		{"opted out at the provider", simphone.Fault{Kind: outreach.Permanent, Code: "21610"}, 1, outreach.OutcomeOptedOut, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, noon, outreach.RunnerOptions{})
			rec := r.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("yes", "1"), Delay: time.Minute})
			r.sender.FailNext(tc.times, tc.fault)
			c := r.campaign(loopFlow(), rec)
			r.run(c)
			if got := r.outcomes(c)["p1"]; got != tc.outcome {
				t.Fatalf("outcome %q, want %q", got, tc.outcome)
			}
			r.assertOnce()
			if tc.check != nil {
				tc.check(t, r.runner.Stats())
			}
		})
	}
}

func TestRunnerTimeoutAndThrottle(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{PerSecond: 1})
	var recs []outreach.Recipient
	for i, n := range []string{"+14406443701", "+14406443702", "+14406443703", "+14406443704"} {
		recs = append(recs, r.phone(n, outreach.Recipient{ID: string(rune('a' + i)), FirstName: "X"}, simphone.Persona{Silent: true}))
	}
	c := r.campaign(loopFlow(), recs...)
	r.run(c)
	var last time.Time
	for _, m := range r.net.Messages() {
		if !last.IsZero() && m.At.Sub(last) < time.Second {
			t.Fatalf("two messages %v apart: the throttle is 1/s", m.At.Sub(last))
		}
		last = m.At
	}
	for id, o := range r.outcomes(c) {
		if o != "gave_up" {
			t.Errorf("%s: outcome %q, want gave_up (timeout path)", id, o)
		}
	}
}

func TestRunnerOneTwoWayConversationPerPair(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{})
	// Two family members share a phone.
	r.net.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("yes", "1", "yes", "2"), Delay: time.Minute})
	mom := outreach.Recipient{ID: "mom", FirstName: "Mom", Phone: "+14406443709"}
	kid := outreach.Recipient{ID: "kid", FirstName: "Kid", Phone: "+14406443709"}
	c1 := r.campaign(loopFlow(), mom)
	c2 := r.campaign(loopFlow(), kid)
	r.run(c1)
	r.run(c2)
	if o := r.outcomes(c1)["mom"]; o != "ok" {
		t.Fatalf("mom: %q", o)
	}
	if o := r.outcomes(c2)["kid"]; o != "ok" {
		t.Fatalf("kid: %q", o)
	}
	// The conversations did not interleave: Kid's greeting came after
	// Mom's last message.
	inbox := r.net.Phone("+14406443709").Inbox()
	seenKid := false
	for _, m := range inbox {
		if m.Body == "Hi Kid" {
			seenKid = true
		}
		if seenKid && m.Body == "Glad to hear." && m.Key.Conversation != 2 {
			t.Fatalf("mom's conversation continued after kid's started: %v", inbox)
		}
	}
}

// A campaign paused through one runner and resumed through another goes
// on in the first.
func TestRunnerResumedElsewhere(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	rec := r.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("yes", "1"), Delay: time.Minute})
	c := r.campaign(loopFlow(), rec)
	if err := r.runner.PauseCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	other := outreach.NewRunner(r.store, r.sender, outreach.RunnerOptions{From: sender, Clock: r.clock})
	if err := other.ResumeCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	n, err := r.runner.Tick(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n > 5 {
		t.Fatalf("Tick claimed %d times: a hot loop", n)
	}
	r.run(c)
	if o := r.outcomes(c)["p1"]; o != "ok" {
		t.Fatalf("outcome %q, want ok", o)
	}
}

func TestHandleInboundIdempotent(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	rec := r.phone("+14406443709", ana, simphone.Persona{Silent: true})
	c := r.campaign(loopFlow(), rec)
	if _, err := r.runner.Tick(r.ctx); err != nil {
		t.Fatal(err)
	}
	in := outreach.InboundMessage{From: rec.Phone, To: sender, Body: "yes", ProviderID: "SMdup"}
	for range 3 {
		if _, err := r.runner.HandleInbound(r.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.runner.Tick(r.ctx); err != nil {
		t.Fatal(err)
	}
	resp, _ := r.store.Responses(r.ctx, c.ID, outreach.ResponsePage{})
	if len(resp) != 1 {
		t.Fatalf("%d responses from one webhook delivered three times, want 1", len(resp))
	}
	help, err := r.runner.HandleInbound(r.ctx, outreach.InboundMessage{From: rec.Phone, To: sender, Body: "HELP", ProviderID: "SMhelp"})
	if err != nil || help != outreach.DefaultHelpReply {
		t.Fatalf("HELP reply %q, %v", help, err)
	}
	if _, err := r.runner.HandleInbound(r.ctx, outreach.InboundMessage{From: "+12125550100", To: sender, Body: "who is this", ProviderID: "SMstray"}); err != nil {
		t.Fatal(err)
	}
	stray, _ := r.store.Messages(r.ctx, 0)
	if len(stray) != 1 { // the stray message; HELP reaches the conversation (it asks again)
		t.Fatalf("%d unmatched messages stored, want 1", len(stray))
	}
	if _, err := r.runner.Tick(r.ctx); err != nil {
		t.Fatal(err)
	}
	if resp, _ := r.store.Responses(r.ctx, c.ID, outreach.ResponsePage{}); len(resp) != 1 {
		t.Fatalf("%d responses after HELP, want 1: HELP is no answer", len(resp))
	}
}

// TestRunnerRun runs a campaign in real time with Run and the phones'
// own loop, then stops both by cancelling.
func TestRunnerRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := clocktest.Real(t)
	net := simphone.New(clock, 1)
	net.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("yes", "2"), Delay: -1})
	store := memstore.New()
	r := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: sender, NoThrottle: true, PollInterval: 20 * time.Millisecond, Clock: clock,
		Window: outreach.AnyHour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	c, _, err := r.CreateCampaign(ctx, outreach.NewCampaign{Name: "live", Flow: loopFlow()}, []outreach.Recipient{{ID: "p1", FirstName: "Ana", Phone: "+14406443709"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	netDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx) }()
	go func() {
		netDone <- net.Run(ctx, func(ctx context.Context, in outreach.InboundMessage) error {
			_, err := r.HandleInbound(ctx, in)
			return err
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := store.Campaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == outreach.CampaignDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign still %s after 10s", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for _, ch := range []chan error{runDone, netDone} {
		select {
		case err := <-ch:
			if err != context.Canceled {
				t.Fatalf("stopped with %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("did not stop within 5s of cancel")
		}
	}
	if got := r.Stats().Sent; got != 4 {
		t.Fatalf("sent %d messages, want 4 (hello, question, pain, closing)", got)
	}
}

// The embedded runner is a Runtime: a campaign driven only through the
// interface runs to the end.
func TestRunnerAsRuntime(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	rec := r.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("yes", "4"), Delay: time.Minute})
	var rt outreach.Runtime = r.runner
	if rt.Name() != "embedded" {
		t.Fatalf("Name %q", rt.Name())
	}
	c, n, err := rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "rt", Flow: loopFlow()}, []outreach.Recipient{rec})
	if err != nil || n != 1 {
		t.Fatalf("create: %v, %d", err, n)
	}
	if err := rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r.run(c)
	p, err := rt.Progress(r.ctx, c.ID)
	if err != nil || p.Done != 1 || p.Outcomes["ok"] != 1 {
		t.Fatalf("progress %+v, %v", p, err)
	}
	resp, err := rt.Responses(r.ctx, c.ID, outreach.ResponsePage{})
	if err != nil || len(resp) != 2 {
		t.Fatalf("responses %+v, %v", resp, err)
	}
	if err := rt.CancelCampaign(r.ctx, c.ID); err == nil {
		t.Fatal("cancelling a done campaign succeeded")
	}
}

// TestRunnerNumberOwnedElsewhere checks that the embedded runtime refuses
// campaigns on a sending number whose replies go to another runtime.
func TestRunnerNumberOwnedElsewhere(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{})
	rec := r.phone("+14155550100", outreach.Recipient{ID: "p1", FirstName: "Ann"}, simphone.Persona{})
	c, _, err := r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "before", Flow: loopFlow()}, []outreach.Recipient{rec})
	if err != nil {
		t.Fatal(err)
	}
	// The campaign's two-way conversation holds the number for the
	// embedded runtime: Studio cannot take it.
	if err := r.store.ClaimNumber(r.ctx, outreach.NumberOwner{Number: sender, Runtime: "studio", Flow: "FW1"}); !errors.Is(err, outreach.ErrNumberConflict) {
		t.Fatalf("ClaimNumber with a draft two-way campaign = %v; want a conflict", err)
	}
	if err := r.runner.CancelCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.store.ClaimNumber(r.ctx, outreach.NumberOwner{Number: sender, Runtime: "studio", Flow: "FW1", FlowName: "check-in"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "after", Flow: loopFlow()}, []outreach.Recipient{rec})
	var conflict *outreach.NumberConflictError
	if !errors.As(err, &conflict) || conflict.Owner.Flow != "FW1" {
		t.Fatalf("CreateCampaign on a number Studio owns = %v; want a *NumberConflictError naming FW1", err)
	}
	if msg := err.Error(); !strings.Contains(msg, sender) || !strings.Contains(msg, `"check-in"`) || !strings.Contains(msg, "embedded") {
		t.Errorf("conflict message %q should name the number, the owning flow and the embedded runtime", msg)
	}
	if err := r.store.ReleaseNumber(r.ctx, sender, "studio", "FW1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "released", Flow: loopFlow()}, []outreach.Recipient{rec}); err != nil {
		t.Fatalf("CreateCampaign after the number was released: %v", err)
	}
}

// TestHelpAsksAgain: HELP (or START) while a question waits gets the
// keyword's answer and the question again, as a re-ask (Studio's split
// asks again when Twilio passes the keyword on); it records no response.
func TestHelpAsksAgain(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	rec := r.phone("+14406443709", ana, simphone.Persona{Responder: simphone.Scripted("HELP", "yes", "START", "3"), Delay: time.Minute})
	c := r.campaign(loopFlow(), rec)
	r.run(c)
	if o := r.outcomes(c)["p1"]; o != "ok" {
		t.Fatalf("outcome %q, want ok", o)
	}
	var bodies []string
	for _, m := range r.net.Phone(rec.Phone).Inbox() {
		bodies = append(bodies, m.Body)
	}
	want := []string{"Hi Ana Reply STOP to opt out.", "Ready? Reply YES or NO", "Sorry, please reply YES or NO. Ready? Reply YES or NO",
		"Pain 0-10?", "Sorry, please reply with a number from 0 to 10. Pain 0-10?", "Glad to hear."}
	if !slices.Equal(bodies, want) {
		t.Errorf("inbox:\n%s\nwant:\n%s", strings.Join(bodies, "\n"), strings.Join(want, "\n"))
	}
	resp, _ := r.store.Responses(r.ctx, c.ID, outreach.ResponsePage{})
	if len(resp) != 2 {
		t.Errorf("%d responses, want 2 (HELP and START are no answers)", len(resp))
	}
}
