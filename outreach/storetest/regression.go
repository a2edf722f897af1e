package storetest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// testCancelRefusesNewIntents: a worker holds the lease of a
// conversation when the campaign is cancelled (by another process, say).
// Its next Commit may record the outcome of sends it already made, but
// must not record new intents to send: not by turning the message that
// the cancellation marked "cancelled" back into "sending" (or "queued"),
// nor by enqueueing a new message with status "sending": such messages
// are stored cancelled.
func testCancelRefusesNewIntents(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	id := convs[0].ID
	cl := h.claimOne(base, id)
	u := set(update(cl), outreach.ConversationActive, base)
	u.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: id, Step: "pain", Attempt: 1}, Body: "pain?"}}
	h.commitOK(base, u) // lease kept
	queued := u.Enqueue[0]

	if err := h.s.SetCampaignStatus(h.ctx, c.ID, outreach.CampaignCancelled, at(time.Second)); err != nil {
		h.Fatalf("cancel: %v", err)
	}
	if st := h.messages(id)[0].Status; st != outreach.MessageCancelled {
		h.Fatalf("queued message after cancel: %s, want cancelled", st)
	}

	// The worker, unaware, records the intent to send the queued message
	// and a new one, as the runner's first commit of a batch does.
	late := set(update(cl), outreach.ConversationActive, at(2*time.Second))
	intent := queued
	intent.Status, intent.IntentAt = outreach.MessageSending, at(2*time.Second)
	late.Messages = []outreach.Message{intent}
	late.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: id, Step: "bye", Attempt: 1}, Body: "bye",
		Status: outreach.MessageSending, IntentAt: at(2 * time.Second)}}
	res := h.commit(at(2*time.Second), late)
	if res[0] != nil {
		return // refused: nothing will be sent
	}
	for _, m := range h.messages(id) {
		if m.Status == outreach.MessageSending || m.Status == outreach.MessageQueued {
			h.Errorf("after the campaign was cancelled, Commit accepted message %d (%s) with status %s: "+
				"the worker will send it although the campaign is cancelled", m.ID, m.Key, m.Status)
		}
	}
}

// testRunnerAfterCancel is the same at the level of the runner: a
// campaign cancelled by another process (here: straight through the store)
// after a runner claimed the conversation but before it recorded its
// intents. The runner then sends the first message although the
// campaign is cancelled ("nothing more is sent").
func testRunnerAfterCancel(h *harness) {
	now := time.Date(2025, time.March, 3, 17, 0, 0, 0, time.UTC) // 12:00 in New York
	clock := outreach.NewManualClock(now)
	snd := &countingSender{}
	var campaignID int64
	cs := &cancelOnFirstCommit{Store: h.s, h: h, campaign: &campaignID, now: now}
	r := outreach.NewRunner(cs, snd, outreach.RunnerOptions{
		From: from, Clock: clock, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	c, _, err := r.CreateCampaign(h.ctx, outreach.NewCampaign{Name: "review", Flow: testFlow()},
		[]outreach.Recipient{{ID: "p1", FirstName: "Ann", Phone: phone(1)}})
	if err != nil {
		h.Fatalf("CreateCampaign: %v", err)
	}
	campaignID = c.ID
	if err := r.StartCampaign(h.ctx, c.ID); err != nil {
		h.Fatalf("StartCampaign: %v", err)
	}
	if _, err := r.Tick(h.ctx); err != nil {
		h.Fatalf("Tick: %v", err)
	}
	if !cs.cancelled {
		h.Fatalf("the campaign was never cancelled: the scenario did not happen")
	}
	if got, err := h.s.Campaign(h.ctx, c.ID); err != nil || got.Status != outreach.CampaignCancelled {
		h.Fatalf("campaign after Tick: %+v, %v", got.Status, err)
	}
	if n := snd.count(); n != 0 {
		h.Errorf("the runner sent %d message(s) after the campaign was cancelled in the store", n)
	}
}

// cancelOnFirstCommit cancels a campaign straight in the store just before
// the first Commit goes through: another process cancelling it while this
// runner is between its claim and the commit of its intents.
type cancelOnFirstCommit struct {
	outreach.Store
	h         *harness
	campaign  *int64
	now       time.Time
	cancelled bool
}

func (c *cancelOnFirstCommit) Commit(ctx context.Context, now time.Time, updates []outreach.Update) ([]error, error) {
	if !c.cancelled {
		c.cancelled = true
		if err := c.Store.SetCampaignStatus(ctx, *c.campaign, outreach.CampaignCancelled, now); err != nil {
			c.h.Errorf("cancel from the other process: %v", err)
		}
	}
	return c.Store.Commit(ctx, now, updates)
}

type countingSender struct {
	mu   sync.Mutex
	sent []outreach.OutboundMessage
}

func (s *countingSender) Send(_ context.Context, m outreach.OutboundMessage) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return "SMlate" + m.Key.Step, nil
}

func (s *countingSender) Lookup(context.Context, outreach.OutboundMessage, time.Time) (string, bool, error) {
	return "", false, nil
}

func (s *countingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// testEpochTimes: a conversation due at the Unix epoch
// (a simulation clock started at time.Unix(0, 0)) or just before it must
// be claimable like any other, and its NextAt must come back as set.
func testEpochTimes(h *harness) {
	epoch := time.Unix(0, 0).UTC()
	_, convs := h.campaign(outreach.CampaignRunning,
		conv("epoch", 1, epoch), conv("1969", 2, epoch.Add(-time.Hour)))
	for _, c := range convs {
		if c.NextAt.IsZero() {
			h.Errorf("conversation %q: NextAt %v came back as the zero time (\"nothing due\")", c.Recipient.ID, epoch)
		}
	}
	cls := h.claim(epoch.Add(time.Minute), 10)
	if got := claimIDs(cls); len(got) != 2 {
		h.Errorf("ClaimDue at %v claimed %v, want both conversations %v (due at %v and an hour before)",
			epoch.Add(time.Minute), got, convIDs(convs), epoch)
	}
}

// testDeliveryOutOfOrder: status callbacks arrive out of order; a late
// "sent" must not move a delivered message back.
func testDeliveryOutOfOrder(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	id := convs[0].ID
	cl := h.claimOne(base, id)
	u := release(set(update(cl), outreach.ConversationActive, time.Time{}))
	u.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: id, Step: "hello", Attempt: 1}, Body: "hello",
		Status: outreach.MessageSent, ProviderID: "SMorder", SentAt: base}}
	h.commitOK(base, u)
	for _, st := range []string{"queued", "delivered", "sent", "queued"} {
		if _, err := h.s.UpdateDelivery(h.ctx, "SMorder", st, "", base); err != nil {
			h.Fatalf("UpdateDelivery(%s): %v", st, err)
		}
	}
	h.equal("delivery status after late callbacks", h.messages(id)[0].DeliveryStatus, "delivered")
}
