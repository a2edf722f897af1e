package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// Exercise runs the conformance suite: one parallel subtest per behaviour,
// each against a fresh store from newStore, which Exercise closes when the
// subtest ends (newStore must not close it itself). Every "now" passed to
// the store is a fixed time in 2025, never the wall clock.
//
// Besides what the [outreach.Store] documentation says, the suite pins
// down these readings of the contract, which every store must share:
//
//   - CreateCampaign: an empty Status means draft; a non-zero CreatedAt is
//     kept (so that a runner on a simulated clock gets its own times).
//     Conversations: an empty Status means pending, an empty From means
//     the campaign's From, and an empty Recipient.ID is an error. A batch
//     that fails anywhere (for instance, an active two-way conversation
//     whose pair is taken) stores nothing.
//   - Campaigns are listed newest first, by ID. Conversations with a limit
//     of zero or less lists them all. Lookups of lists (Conversations,
//     Messages, Responses) for an unknown campaign or conversation return
//     nothing and no error; lookups of one thing (Campaign, Conversation,
//     Progress, SetCampaignStatus, FinishCampaignIfDone) return an error
//     matching ErrNotFound.
//   - Cancelling a campaign keeps the leases of the conversations it ends:
//     a worker midway can still Commit the outcomes of its sends, but a
//     done conversation stays done (the update's Status, State, Outcome
//     and NextAt are ignored), so a cancelled conversation cannot come
//     back to life. Messages already sending or unknown are left as they
//     are until then (they may have reached the provider).
//   - A lease is held while now < Expires. Commit and ExtendLease check
//     the token only: a lease that expired but was not claimed again is
//     still held (ExtendLease has no "now" to compare with). Release
//     clears the token, so a released lease is lost. A non-positive lease
//     duration in ClaimDue is an error; a non-positive limit claims
//     nothing.
//   - ClaimDue takes conversations with unprocessed inbox events first,
//     then the others in NextAt order, ties to the lower ID.
//   - NextDue considers what ClaimDue would: a conversation under an
//     unexpired lease counts from its expiry, one with an unprocessed inbox
//     event counts as now, and a pending two-way conversation waiting for
//     its pair is left out.
//   - Commit: an update whose Conversation.ID is set and differs from its
//     lease's conversation fails with ErrLeaseLost. Enqueue stores
//     messages with the Status given (queued when empty), From and To
//     defaulting to the conversation's numbers; a Key the conversation
//     already has (or has twice in the update) fails that update, since a
//     key is sent at most once. Messages naming a message that is not an
//     outbound message of the conversation fail that update with
//     ErrNotFound. Processed IDs that are not unprocessed events of the
//     conversation are ignored. NextAt is pulled back to now only for a
//     conversation that is not done. A failed update gets no IDs in its
//     Enqueue.
//   - RecordInbound matches only when event is not empty: with an empty
//     event the message is stored unmatched (ConversationID 0). Only an
//     active two-way conversation of a campaign of the world given
//     matches.
//   - Worlds: a campaign keeps its World as given (empty included);
//     ClaimDue and NextDue look only at campaigns whose Runtime (an empty
//     one read as embedded) and World are the scope's; the pair rule
//     holds in each world apart.
//   - UpdateDelivery finds outbound messages only; a non-empty error code
//     is stored as the message's Error.
//   - A store that is an outreach.BatchRecorder records each item of a
//     batch as the single call would, in order (Batch; skipped by stores
//     without batches).
//   - SetOptOut: of two changes at the same time, the later call wins.
//   - Alerts: times come back in UTC; ClaimAlerts takes alerts in ID
//     order; AlertNotified and AckAlert keep the first time recorded.
//   - Audit: entries are listed in the order appended (by ID), whatever
//     their times; Since is inclusive and Until exclusive; times come back
//     in UTC; an entry without Actor, Action or At is refused with an
//     *outreach.AuditError; an empty Result is stored as ok.
//   - PurgeContent: a campaign's finish time is its UpdatedAt; PurgedAt
//     comes back in UTC; counts are of texts that were not empty.
func Exercise(ctx context.Context, t *testing.T, newStore func(t *testing.T) outreach.Store) {
	tests := []struct {
		name string
		fn   func(h *harness)
	}{
		{"CreateCampaign", testCreateCampaign},
		{"CancelRefusesNewIntents", testCancelRefusesNewIntents},
		{"RunnerSendsNothingAfterCancel", testRunnerAfterCancel},
		{"EpochTimes", testEpochTimes},
		{"DeliveryOutOfOrder", testDeliveryOutOfOrder},
		{"CreateCampaignSkipsDuplicates", testCreateCampaignDuplicates},
		{"LargeBatch", testLargeBatch},
		{"CreateCampaignIsAtomic", testCreateCampaignAtomic},
		{"NotFound", testNotFound},
		{"Campaigns", testCampaigns},
		{"Lifecycle", testLifecycle},
		{"Cancel", testCancel},
		{"FinishCampaignIfDone", testFinishCampaignIfDone},
		{"Progress", testProgress},
		{"ClaimDue", testClaimDue},
		{"ClaimDueInbox", testClaimDueInbox},
		{"ClaimDuePairRule", testClaimDuePairRule},
		{"NextDue", testNextDue},
		{"Lease", testLease},
		{"LeaseExpiryTakeover", testLeaseTakeover},
		{"ConcurrentClaims", testConcurrentClaims},
		{"CommitStaleLease", testCommitStaleLease},
		{"CommitState", testCommitState},
		{"CommitMessages", testCommitMessages},
		{"CommitDuplicateKey", testCommitDuplicateKey},
		{"CommitInbox", testCommitInbox},
		{"CommitPairBusy", testCommitPairBusy},
		{"CommitLargeBatch", testCommitLargeBatch},
		{"CancelledContext", testCancelledContext},
		{"RecordInbound", testRecordInbound},
		{"UpdateDelivery", testUpdateDelivery},
		{"PendingDelivery", testPendingDelivery},
		{"Batch", testBatch},
		{"OptOut", testOptOut},
		{"OptOutWorlds", testOptOutWorlds},
		{"OptOuts", testOptOuts},
		{"ConversationsPaging", testConversationsPaging},
		{"Responses", testResponses},
		{"ExportRows", testExportRows},
		{"Runtimes", testRuntimes},
		{"NumberOwners", testNumberOwners},
		{"CommitReceived", testCommitReceived},
		{"ClaimConversation", testClaimConversation},
		{"Worlds", testWorlds},
		{"WorldPairs", testWorldPairs},
		{"Alerts", testAlerts},
		{"Audit", testAudit},
		{"Retention", testRetention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(&harness{T: t, ctx: ctx, s: s})
		})
	}
}

// base is the suite's "now": every time passed to a store derives from it.
var base = time.Date(2025, time.March, 3, 15, 0, 0, 0, time.UTC)

// at returns base + d.
func at(d time.Duration) time.Time { return base.Add(d) }

// lease is the lease duration of most claims.
const lease = time.Minute

// from is the campaigns' sending number.
const from = "+15005550006"

// phone returns a distinct patient number for each n.
func phone(n int) string { return fmt.Sprintf("+1440644%04d", n) }

// harness wraps one store under test with helpers that fail the test on
// unexpected errors, so that each subtest reads as the behaviour it checks.
type harness struct {
	*testing.T
	ctx context.Context
	s   outreach.Store
}

func testFlow() *outreach.Flow {
	lo, hi := 0.0, 10.0
	return &outreach.Flow{
		ID:   "check-in",
		Name: "Post-procedure check-in",
		Steps: []outreach.Step{
			{ID: "pain", Kind: outreach.StepAsk, Body: "Hi {{recipient.first_name}}, how is your pain (0-10)?",
				Answer:  &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &lo, Max: &hi},
				Timeout: outreach.Duration(6 * time.Minute), Next: "bye"},
			{ID: "bye", Kind: outreach.StepEnd, Body: "Thank you.", Outcome: "completed"},
		},
		// The document an imported flow came from travels with it.
		Source: &outreach.Source{Format: "test-format", Data: json.RawMessage(`{"states":[{"name":"pain-q","offset":{"x":1}}]}`)},
	}
}

// conv returns a pending two-way conversation for recipient id at phone n,
// due at next (zero: not due).
func conv(id string, n int, next time.Time) outreach.Conversation {
	return outreach.Conversation{
		Recipient: outreach.Recipient{ID: id, FirstName: "Pat " + id, Phone: phone(n)},
		TwoWay:    true,
		NextAt:    next,
	}
}

// oneWay returns c as a one-way conversation.
func oneWay(c outreach.Conversation) outreach.Conversation {
	c.TwoWay = false
	return c
}

// campaign creates a campaign in the given status with convs and returns
// it with its stored conversations, in ID order.
func (h *harness) campaign(status outreach.CampaignStatus, convs ...outreach.Conversation) (outreach.Campaign, []outreach.Conversation) {
	h.Helper()
	c, added, err := h.s.CreateCampaign(h.ctx, outreach.Campaign{
		Name: "campaign", Flow: testFlow(), From: from, DefaultZone: "America/New_York", CreatedAt: base,
	}, convs)
	if err != nil {
		h.Fatalf("CreateCampaign: %v", err)
	}
	if added != len(convs) {
		h.Fatalf("CreateCampaign added %d conversations, want %d", added, len(convs))
	}
	for _, st := range statusPath[status] {
		if err := h.s.SetCampaignStatus(h.ctx, c.ID, st, base); err != nil {
			h.Fatalf("SetCampaignStatus(%s): %v", st, err)
		}
		c.Status = st
	}
	return c, h.conversations(c.ID)
}

// statusPath is how a new (draft) campaign reaches each status.
var statusPath = map[outreach.CampaignStatus][]outreach.CampaignStatus{
	outreach.CampaignDraft:     nil,
	outreach.CampaignRunning:   {outreach.CampaignRunning},
	outreach.CampaignPaused:    {outreach.CampaignRunning, outreach.CampaignPaused},
	outreach.CampaignCancelled: {outreach.CampaignCancelled},
	outreach.CampaignDone:      {outreach.CampaignRunning, outreach.CampaignDone},
}

func (h *harness) conversations(campaignID int64) []outreach.Conversation {
	h.Helper()
	cs, err := h.s.Conversations(h.ctx, campaignID, 0, 0)
	if err != nil {
		h.Fatalf("Conversations(%d): %v", campaignID, err)
	}
	return cs
}

func (h *harness) conversation(id int64) outreach.Conversation {
	h.Helper()
	c, err := h.s.Conversation(h.ctx, id)
	if err != nil {
		h.Fatalf("Conversation(%d): %v", id, err)
	}
	return c
}

func (h *harness) messages(convID int64) []outreach.Message {
	h.Helper()
	ms, err := h.s.Messages(h.ctx, convID)
	if err != nil {
		h.Fatalf("Messages(%d): %v", convID, err)
	}
	return ms
}

func (h *harness) responses(campaignID int64, page outreach.ResponsePage) []outreach.Response {
	h.Helper()
	rs, err := h.s.Responses(h.ctx, campaignID, page)
	if err != nil {
		h.Fatalf("Responses(%d, %+v): %v", campaignID, page, err)
	}
	return rs
}

// claim claims up to limit conversations at now with the default lease.
func (h *harness) claim(now time.Time, limit int) []outreach.Claim {
	h.Helper()
	cs, err := h.s.ClaimDue(h.ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, now, limit, lease)
	if err != nil {
		h.Fatalf("ClaimDue(%v, %d): %v", now, limit, err)
	}
	return cs
}

// claimOne claims at now and requires exactly the conversation id.
func (h *harness) claimOne(now time.Time, id int64) outreach.Claim {
	h.Helper()
	cs := h.claim(now, 100)
	if got := claimIDs(cs); !reflect.DeepEqual(got, []int64{id}) {
		h.Fatalf("ClaimDue at %v claimed %v, want [%d]", now, got, id)
	}
	return cs[0]
}

// claimNone requires that nothing is due at now.
func (h *harness) claimNone(now time.Time) {
	h.Helper()
	if cs := h.claim(now, 100); len(cs) != 0 {
		h.Fatalf("ClaimDue at %v claimed %v, want none", now, claimIDs(cs))
	}
}

func claimIDs(cs []outreach.Claim) []int64 {
	ids := []int64{}
	for _, c := range cs {
		ids = append(ids, c.Lease.ConversationID)
	}
	return ids
}

func convIDs(cs []outreach.Conversation) []int64 {
	ids := []int64{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// commit commits updates at now and returns the per-update results.
func (h *harness) commit(now time.Time, updates ...outreach.Update) []error {
	h.Helper()
	res, err := h.s.Commit(h.ctx, now, updates)
	if err != nil {
		h.Fatalf("Commit: %v", err)
	}
	if len(res) != len(updates) {
		h.Fatalf("Commit returned %d results for %d updates", len(res), len(updates))
	}
	return res
}

// commitOK commits updates at now and requires each to succeed.
func (h *harness) commitOK(now time.Time, updates ...outreach.Update) {
	h.Helper()
	for i, err := range h.commit(now, updates...) {
		if err != nil {
			h.Fatalf("Commit update %d (conversation %d): %v", i, updates[i].Lease.ConversationID, err)
		}
	}
}

// update starts an update of a claim that keeps the conversation as it is.
func update(cl outreach.Claim) outreach.Update {
	return outreach.Update{Lease: cl.Lease, Conversation: cl.Conversation}
}

// set returns u with the conversation's Status and NextAt replaced.
func set(u outreach.Update, st outreach.ConversationStatus, next time.Time) outreach.Update {
	u.Conversation.Status = st
	u.Conversation.NextAt = next
	return u
}

// release returns u with Release set.
func release(u outreach.Update) outreach.Update {
	u.Release = true
	return u
}

// finish returns u ending the conversation with outcome, releasing it.
func finish(u outreach.Update, outcome string) outreach.Update {
	u = set(u, outreach.ConversationDone, time.Time{})
	u.Conversation.Outcome = outcome
	return release(u)
}

// activate claims the due conversation id at now and makes it active with
// nothing due, releasing it.
func (h *harness) activate(now time.Time, id int64) {
	h.Helper()
	cl := h.claimOne(now, id)
	h.commitOK(now, release(set(update(cl), outreach.ConversationActive, time.Time{})))
}

// end claims the conversation id (due at now) and ends it.
func (h *harness) end(now time.Time, id int64, outcome string) {
	h.Helper()
	cl := h.claimOne(now, id)
	h.commitOK(now, finish(update(cl), outcome))
}

// inbound records a message from patient phone n to the campaigns' number.
func (h *harness) inbound(n int, body, providerID string, when time.Time, ev outreach.EventKind) outreach.Message {
	h.Helper()
	m, isNew, err := h.s.RecordInbound(h.ctx, "", outreach.Message{
		Direction: outreach.Inbound, From: phone(n), To: from, Body: body, ProviderID: providerID, SentAt: when,
	}, ev)
	if err != nil {
		h.Fatalf("RecordInbound(%s): %v", providerID, err)
	}
	if !isNew {
		h.Fatalf("RecordInbound(%s): isNew = false for a new message", providerID)
	}
	return m
}

// wantErr fails unless err matches target.
func (h *harness) wantErr(what string, err, target error) {
	h.Helper()
	if !errors.Is(err, target) {
		h.Fatalf("%s: error %v, want one matching %v", what, err, target)
	}
}

// equal fails unless got and want are deeply equal.
func (h *harness) equal(what string, got, want any) {
	h.Helper()
	if !reflect.DeepEqual(got, want) {
		h.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// sameTime fails unless got and want are the same instant, in UTC.
func (h *harness) sameTime(what string, got, want time.Time) {
	h.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		h.Fatalf("%s: got %v, want %v (UTC)", what, got, want)
	}
}
