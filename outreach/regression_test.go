package outreach_test

// Regression tests: each one reproduces a defect found in review of the
// runner, HandleInbound/HandleStatus and the engine, now fixed. The
// comment above each says what went wrong before.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// hookSender wraps a Sender and calls before(n, m) before the n-th Send
// (1-based), which lets a test make things happen "while the provider
// call is in flight". It records the provider id of every accepted send.
type hookSender struct {
	inner  outreach.Sender
	before func(n int, m outreach.OutboundMessage)

	mu    sync.Mutex
	calls int
	sids  map[int]string // call number -> provider id
}

func (h *hookSender) Send(ctx context.Context, m outreach.OutboundMessage) (string, error) {
	h.mu.Lock()
	h.calls++
	n := h.calls
	h.mu.Unlock()
	if h.before != nil {
		h.before(n, m)
	}
	id, err := h.inner.Send(ctx, m)
	h.mu.Lock()
	if h.sids == nil {
		h.sids = map[int]string{}
	}
	h.sids[n] = id
	h.mu.Unlock()
	return id, err
}

func (h *hookSender) sid(n int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sids[n]
}

func (h *hookSender) Lookup(ctx context.Context, m outreach.OutboundMessage, at time.Time) (string, bool, error) {
	return h.inner.Lookup(ctx, m, at)
}

// hookRig is newRig whose runner sends through a hookSender.
func hookRig(t *testing.T, start time.Time, opts outreach.RunnerOptions) (*rig, *hookSender) {
	t.Helper()
	r := newRig(t, start, opts)
	hs := &hookSender{inner: r.sender}
	r.runner = newRunner(r, hs, opts)
	return r, hs
}

func newRunner(r *rig, s outreach.Sender, opts outreach.RunnerOptions) *outreach.Runner {
	opts.Clock = r.clock
	if opts.From == "" {
		opts.From = sender
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return outreach.NewRunner(r.store, s, opts)
}

// oneWayFlow is a payor-style flow: three messages and no question.
func oneWayFlow() *outreach.Flow {
	return &outreach.Flow{
		ID: "oneway",
		Steps: []outreach.Step{
			{ID: "welcome", Kind: outreach.StepSend, Body: "Welcome {{recipient.first_name}}", Next: "card"},
			{ID: "card", Kind: outreach.StepSend, Body: "Your card arrives in two weeks.", Next: "bye"},
			{ID: "bye", Kind: outreach.StepEnd, Body: "Goodbye.", Outcome: "informed"},
		},
	}
}

func (r *rig) tick() int {
	r.t.Helper()
	n, err := r.runner.Tick(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r *rig) inbound(from, body, sid string) {
	r.t.Helper()
	if _, err := r.runner.HandleInbound(r.ctx, outreach.InboundMessage{From: from, To: sender, Body: body, ProviderID: sid}); err != nil {
		r.t.Fatal(err)
	}
}

// settle ticks and moves the clock to the next due work while that is
// within a few seconds (the throttle), so that everything sendable now is
// sent.
func (r *rig) settle() {
	r.t.Helper()
	for range 100 {
		r.tick()
		at, ok, err := r.store.NextDue(r.ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, r.clock.Now())
		if err != nil {
			r.t.Fatal(err)
		}
		if !ok || at.Sub(r.clock.Now()) > 5*time.Second {
			return
		}
		r.clock.Set(at.Add(time.Millisecond))
	}
	r.t.Fatal("settle: still busy after 100 rounds")
}

func (r *rig) convOf(c outreach.Campaign) outreach.Conversation {
	r.t.Helper()
	convs, err := r.store.Conversations(r.ctx, c.ID, 0, 10)
	if err != nil || len(convs) == 0 {
		r.t.Fatalf("conversations of campaign %d: %v %v", c.ID, convs, err)
	}
	return convs[0]
}

// Regression: an opt-out seen by chooseSends for a conversation whose flow has
// already finished (a one-way flow finishes at start, with its messages
// still queued behind the throttle or quiet hours) applies EventOptedOut to
// a Done state, which the engine ignores, so the queued messages are never
// cancelled. update() then sets NextAt = now and releases: the conversation
// is claimed again at once, forever (Tick spins its 1000 rounds, Run never
// sleeps), and the conversation and campaign never finish.
func TestRegressionOptOutAfterFlowDoneHotLoops(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{}) // default throttle: 1/s
	rec := r.phone("+14406443709", ana, simphone.Persona{Silent: true})
	c := r.campaign(oneWayFlow(), rec)
	r.tick() // "Welcome" sent, the other two held back by the throttle
	if got := len(r.net.Phone(rec.Phone).Inbox()); got != 1 {
		t.Fatalf("precondition: phone got %d messages, want 1", got)
	}
	r.inbound(rec.Phone, "STOP", "SMstop")
	r.clock.Advance(5 * time.Second)
	n := r.tick()
	conv := r.convOf(c)
	if conv.Status != outreach.ConversationDone || conv.Outcome != outreach.OutcomeOptedOut {
		t.Errorf("after STOP the conversation is %s/%q, want done/opted_out", conv.Status, conv.Outcome)
	}
	if n > 5 {
		t.Errorf("one Tick claimed the same conversation %d times: a hot loop", n)
	}
	msgs, _ := r.store.Messages(r.ctx, conv.ID)
	for _, m := range msgs {
		if m.Status == outreach.MessageQueued {
			t.Errorf("message %s still queued after STOP (never cancelled)", m.Key)
		}
	}
}

// Regression: SetCampaignStatus(cancelled) revokes the leases of the conversations
// it ends, but the runner sends the intents it recorded in commit 1 anyway
// (no check between sends), and commit 2 then fails with ErrLeaseLost: the
// messages that did reach the provider stay "sending" for ever (their
// conversation is done, so nothing ever reconciles them), their provider ids
// are never stored, and later status callbacks for them are ErrNotFound.
func TestRegressionCancelWhileSendingLeavesMessagesSending(t *testing.T) {
	r, hs := hookRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	a := r.phone("+14406443701", outreach.Recipient{ID: "a", FirstName: "A"}, simphone.Persona{Silent: true})
	b := r.phone("+14406443702", outreach.Recipient{ID: "b", FirstName: "B"}, simphone.Persona{Silent: true})
	c := r.campaign(oneWayFlow(), a, b)
	var cancelledAt int
	hs.before = func(n int, m outreach.OutboundMessage) {
		if n == 1 {
			if err := r.runner.CancelCampaign(r.ctx, c.ID); err != nil {
				t.Error(err)
			}
			cancelledAt = len(r.net.Messages())
		}
	}
	r.tick()
	r.clock.Advance(10 * time.Minute) // past every lease and reconcile grace
	r.tick()
	if after := len(r.net.Messages()) - cancelledAt; after > 1 {
		t.Errorf("%d messages reached the provider after CancelCampaign returned (only the one in flight may)", after)
	}
	convs, _ := r.store.Conversations(r.ctx, c.ID, 0, 10)
	for _, cv := range convs {
		msgs, _ := r.store.Messages(r.ctx, cv.ID)
		for _, m := range msgs {
			if m.Status == outreach.MessageSending || m.Status == outreach.MessageUnknown {
				t.Errorf("message %s is stuck %q in a %s conversation (provider id %q)", m.Key, m.Status, cv.Status, m.ProviderID)
			}
		}
	}
}

// Regression: HandleInbound records the opt-out change before it learns (from
// RecordInbound) that the webhook is a retry, and with the time of *this*
// delivery when ReceivedAt is zero (Twilio's inbound webhook carries no
// timestamp). A retried START webhook therefore undoes a newer STOP, and
// the patient is messaged again: not idempotent on ProviderID, opt-out not
// absolute.
func TestRegressionRetriedStartWebhookUndoesNewerStop(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{})
	rec := r.phone("+14406443709", ana, simphone.Persona{Silent: true})
	r.inbound(rec.Phone, "START", "SMstart")
	r.clock.Advance(time.Minute)
	r.inbound(rec.Phone, "STOP", "SMstop")
	r.clock.Advance(time.Minute)
	r.inbound(rec.Phone, "START", "SMstart") // the provider retries the first webhook
	opted, err := r.store.OptedOut(r.ctx, []string{rec.Phone})
	if err != nil {
		t.Fatal(err)
	}
	if !opted[rec.Phone] {
		t.Errorf("a retried START webhook (same ProviderID) undid the newer STOP")
	}
	r.campaign(oneWayFlow(), rec)
	r.tick()
	if got := len(r.net.Phone(rec.Phone).Inbox()); got != 0 {
		t.Errorf("the phone got %d messages after its (latest) STOP", got)
	}
}

// Regression: process calls finishCampaigns with the caller's ctx, after the
// outcomes were committed with a context.WithoutCancel. When Run's ctx is
// cancelled while the last conversation's last message is being sent, the
// conversation is committed done but FinishCampaignIfDone fails on the
// cancelled ctx. Nothing ever calls it again (only a conversation that
// finishes in a claim does), so the campaign stays "running" for ever.
func TestRegressionCancelDuringLastSendLeavesCampaignRunning(t *testing.T) {
	r, hs := hookRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	rec := r.phone("+14406443709", ana, simphone.Persona{Silent: true})
	c := r.campaign(oneWayFlow(), rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs.before = func(n int, m outreach.OutboundMessage) {
		if n == 3 { // the last message of the only conversation
			cancel()
		}
	}
	if _, err := r.runner.Tick(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if conv := r.convOf(c); conv.Status != outreach.ConversationDone {
		t.Fatalf("precondition: conversation %s, want done", conv.Status)
	}
	// The runner restarts with a fresh context.
	r.clock.Advance(time.Hour)
	r.tick()
	got, err := r.store.Campaign(r.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != outreach.CampaignDone {
		t.Errorf("campaign %s with every conversation done, want done", got.Status)
	}
}

// Regression: the runner never extends its leases (ExtendLease is never called)
// and never checks that it still holds one before calling the Sender. All
// intents of a batch are recorded in commit 1, then sent one after the
// other; when the batch takes longer than the lease (six calls of 29s each,
// every one within SendTimeout, against a 2-minute lease), another runner
// sharing the store claims the conversations, reconciles the ones not yet
// sent as "never accepted" and sends them, and then the first runner sends
// them too: the same key reaches the phone twice.
func TestRegressionLeaseExpiresMidBatchDuplicateSend(t *testing.T) {
	r, hs := hookRig(t, noon, outreach.RunnerOptions{}) // default lease 2m, SendTimeout 30s, grace 30s
	other := newRunner(r, r.sender, outreach.RunnerOptions{})
	// Six campaigns on six sending numbers (a number pool): the default
	// throttle lets one message per number go in one claim.
	for i := range 6 {
		phone := "+1440644370" + string(rune('1'+i))
		from := "+1500555001" + string(rune('0'+i))
		rec := r.phone(phone, outreach.Recipient{ID: "p", FirstName: "X"}, simphone.Persona{Silent: true})
		c, _, err := r.runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "pool", Flow: oneWayFlow(), From: from}, []outreach.Recipient{rec})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.runner.StartCampaign(r.ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	hs.before = func(n int, m outreach.OutboundMessage) {
		r.clock.Advance(29 * time.Second) // a slow provider, within SendTimeout
		if n == 6 {
			// Another process ticks while the sixth call is in flight.
			if _, err := other.Tick(r.ctx); err != nil {
				t.Error(err)
			}
		}
	}
	r.tick()
	r.assertOnce()
}

// Regression: the opt-out set is read once per claim, before commit 1; the sends
// of the batch then run one after the other with no second look. A STOP
// recorded while the batch is being sent (HandleInbound has returned: the
// opt-out is in the store) does not stop the messages already chosen for
// that number.
func TestRegressionStopDuringBatchStillSent(t *testing.T) {
	r, hs := hookRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	a := r.phone("+14406443701", outreach.Recipient{ID: "a", FirstName: "A"}, simphone.Persona{Silent: true})
	b := r.phone("+14406443702", outreach.Recipient{ID: "b", FirstName: "B"}, simphone.Persona{Silent: true})
	r.campaign(oneWayFlow(), a, b)
	hs.before = func(n int, m outreach.OutboundMessage) {
		if n == 1 { // sending to a; b has sent nothing yet
			if _, err := r.runner.HandleInbound(r.ctx, outreach.InboundMessage{From: b.Phone, To: sender, Body: "STOP", ProviderID: "SMstopb"}); err != nil {
				t.Error(err)
			}
		}
	}
	r.tick()
	if got := len(r.net.Phone(b.Phone).Inbox()); got != 0 {
		t.Errorf("b got %d messages submitted after its STOP was recorded", got)
	}
}

// Regression: commit 2 (provider ids) happens only after every send of the whole
// batch. A status callback for a message sent early in the batch that
// arrives before then finds no message with that provider id: HandleStatus
// returns ErrNotFound and records nothing: not the delivery failure (the
// conversation never takes its failure path) and not the 21610 opt-out.
func TestRegressionStatusCallbackBeforeOutcomeCommitIsLost(t *testing.T) {
	r, hs := hookRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
	a := r.phone("+14406443701", outreach.Recipient{ID: "a", FirstName: "A"}, simphone.Persona{Silent: true})
	b := r.phone("+14406443702", outreach.Recipient{ID: "b", FirstName: "B"}, simphone.Persona{Silent: true})
	r.campaign(oneWayFlow(), a, b)
	var statusErr error
	hs.before = func(n int, m outreach.OutboundMessage) {
		if n == 4 { // a's three messages were accepted; now sending to b
			statusErr = r.runner.HandleStatus(r.ctx, outreach.StatusUpdate{ProviderID: hs.sid(1), Status: "undelivered", ErrorCode: "21610"})
		}
	}
	r.tick()
	if statusErr != nil {
		t.Errorf("status callback for an accepted message: %v", statusErr)
	}
	opted, _ := r.store.OptedOut(r.ctx, []string{a.Phone})
	if !opted[a.Phone] {
		t.Errorf("error 21610 in a status callback did not opt %s out", outreach.MaskPhone(a.Phone))
	}
}

// Regression: a reply is applied to the awaited question even when that question
// has not been sent yet (State.Deadline is zero; the runner even cancels
// the unsent question as "superseded"). With a shared phone this takes a
// text meant for the conversation that just ended (mom double-texting her
// answer) as the kid's answer to a question the kid was never asked.
func TestRegressionReplyBeforeQuestionSentIsTakenAsAnswer(t *testing.T) {
	r := newRig(t, noon, outreach.RunnerOptions{}) // default throttle 1/s
	const phone = "+14406443709"
	r.net.Add(phone, simphone.Persona{Silent: true})
	mom := outreach.Recipient{ID: "mom", FirstName: "Mom", Phone: phone}
	kid := outreach.Recipient{ID: "kid", FirstName: "Kid", Phone: phone}
	c1 := r.campaign(loopFlow(), mom)
	r.settle()
	r.inbound(phone, "yes", "SM1")
	r.settle()
	r.inbound(phone, "2", "SM2")
	r.settle()
	if o := r.convOf(c1); o.Status != outreach.ConversationDone {
		t.Fatalf("precondition: mom's conversation %s", o.Status)
	}
	c2 := r.campaign(loopFlow(), kid)
	r.tick() // kid's conversation is active; its question is not sent yet
	kidConv := r.convOf(c2)
	for _, m := range r.net.Phone(phone).Inbox() {
		if m.Key.Conversation == kidConv.ID && m.Key.Step == "q" {
			t.Fatalf("precondition: kid's question already sent")
		}
	}
	r.inbound(phone, "YES", "SM3") // mom double-texts her answer
	r.tick()
	resp, _ := r.store.Responses(r.ctx, c2.ID, outreach.ResponsePage{})
	for _, x := range resp {
		t.Errorf("kid's conversation recorded %s=%q from a text received before that question was sent", x.QuestionID, x.Answer)
	}
}

// Regression: Event.Key documents that "an event for a stale key changes
// nothing", but Advance applies a delivery failure for any key the
// conversation ever sent. A late "undelivered" for a question the patient
// has already answered (carriers report minutes later) rewinds the
// conversation onto that step's failure path, abandoning the question now
// awaited.
func TestRegressionStaleDeliveryFailureRewindsConversation(t *testing.T) {
	f := loopFlow()
	s, _, err := outreach.Advance(f, 1, ana, outreach.State{}, outreach.Event{Type: outreach.EventStart})
	if err != nil {
		t.Fatal(err)
	}
	s, _, err = outreach.Advance(f, 1, ana, s, outreach.Event{Type: outreach.EventReplied, Body: "yes"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Waiting || s.Step != "pain" {
		t.Fatalf("precondition: waiting on %q (%v)", s.Step, s.Waiting)
	}
	stale := outreach.SendKey{Conversation: 1, Step: "q", Attempt: 1}
	s2, acts, err := outreach.Advance(f, 1, ana, s, outreach.Event{Type: outreach.EventDeliveryFailure, Key: stale})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Done || !s2.Waiting || s2.Step != "pain" || len(acts) != 0 {
		t.Errorf("a stale delivery failure for %s changed the conversation: done=%v outcome=%q step=%q actions=%v", stale, s2.Done, s2.Outcome, s2.Step, describe(acts))
	}
}
