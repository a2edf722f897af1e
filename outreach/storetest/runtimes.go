package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// testRuntimes checks that each runtime claims only its own campaigns'
// conversations, and that Runtime and RuntimeRef are kept.
func testRuntimes(h *harness) {
	emb, _ := h.campaign(outreach.CampaignRunning, conv("e", 1, at(0)))
	if emb.Runtime != outreach.RuntimeEmbedded {
		h.Errorf("campaign created with no runtime: Runtime = %q, want %q", emb.Runtime, outreach.RuntimeEmbedded)
	}
	st, _, err := h.s.CreateCampaign(h.ctx, outreach.Campaign{
		Name: "studio", Flow: testFlow(), From: from, DefaultZone: "America/New_York", CreatedAt: base,
		Runtime: "studio", RuntimeRef: "FW0123",
	}, []outreach.Conversation{conv("s", 2, at(-time.Minute))})
	if err != nil {
		h.Fatalf("CreateCampaign(studio): %v", err)
	}
	if err := h.s.SetCampaignStatus(h.ctx, st.ID, outreach.CampaignRunning, base); err != nil {
		h.Fatalf("SetCampaignStatus: %v", err)
	}
	got, err := h.s.Campaign(h.ctx, st.ID)
	if err != nil {
		h.Fatalf("Campaign: %v", err)
	}
	if got.Runtime != "studio" || got.RuntimeRef != "FW0123" {
		h.Errorf("Campaign: Runtime, RuntimeRef = %q, %q; want studio, FW0123", got.Runtime, got.RuntimeRef)
	}

	for _, tt := range []struct {
		runtime string
		want    int64
		next    time.Time
	}{
		{outreach.RuntimeEmbedded, emb.ID, at(0)},
		{"studio", st.ID, at(-time.Minute)},
	} {
		next, ok, err := h.s.NextDue(h.ctx, outreach.Scope{Runtime: tt.runtime}, at(-time.Hour))
		if err != nil || !ok || !next.Equal(tt.next) {
			h.Errorf("NextDue(%s) = %v, %v, %v; want %v", tt.runtime, next, ok, err, tt.next)
		}
		cs, err := h.s.ClaimDue(h.ctx, outreach.Scope{Runtime: tt.runtime}, at(time.Hour), 10, lease)
		if err != nil {
			h.Fatalf("ClaimDue(%s): %v", tt.runtime, err)
		}
		if len(cs) != 1 || cs[0].Conversation.CampaignID != tt.want {
			h.Errorf("ClaimDue(%s) claimed %v, want the one conversation of campaign %d", tt.runtime, claimIDs(cs), tt.want)
		}
	}
	if cs, err := h.s.ClaimDue(h.ctx, outreach.Scope{Runtime: "other"}, at(time.Hour), 10, lease); err != nil || len(cs) != 0 {
		h.Errorf("ClaimDue(other) = %v, %v; want nothing", claimIDs(cs), err)
	}
}

// testNumberOwners checks ClaimNumber, ReleaseNumber and NumberOwner.
func testNumberOwners(h *harness) {
	const other = "+15005550007"
	if _, ok, err := h.s.NumberOwner(h.ctx, from); ok || err != nil {
		h.Fatalf("NumberOwner of a new number = %v, %v; want none", ok, err)
	}
	a := outreach.NumberOwner{Number: other, Runtime: "studio", Flow: "FWa", FlowName: "a", Since: base}
	if err := h.s.ClaimNumber(h.ctx, a); err != nil {
		h.Fatalf("ClaimNumber: %v", err)
	}
	if err := h.s.ClaimNumber(h.ctx, a); err != nil {
		h.Errorf("ClaimNumber again by its owner: %v", err)
	}
	got, ok, err := h.s.NumberOwner(h.ctx, other)
	if err != nil || !ok || got.Runtime != "studio" || got.Flow != "FWa" || got.FlowName != "a" || !got.Since.Equal(base) {
		h.Errorf("NumberOwner = %+v, %v, %v; want %+v", got, ok, err, a)
	}
	b := outreach.NumberOwner{Number: other, Runtime: "studio", Flow: "FWb"}
	err = h.s.ClaimNumber(h.ctx, b)
	var conflict *outreach.NumberConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, outreach.ErrNumberConflict) || conflict.Owner.Flow != "FWa" {
		h.Errorf("ClaimNumber by another flow = %v; want a *NumberConflictError naming FWa", err)
	}
	if err := h.s.ReleaseNumber(h.ctx, other, "studio", "FWb"); err != nil {
		h.Fatalf("ReleaseNumber by a non-owner: %v", err)
	}
	if _, ok, _ := h.s.NumberOwner(h.ctx, other); !ok {
		h.Errorf("ReleaseNumber by a non-owner released the number")
	}
	if err := h.s.ReleaseNumber(h.ctx, other, "studio", "FWa"); err != nil {
		h.Fatalf("ReleaseNumber: %v", err)
	}
	if err := h.s.ClaimNumber(h.ctx, b); err != nil {
		h.Errorf("ClaimNumber after release: %v", err)
	}

	// An unfinished two-way conversation of another runtime holds the
	// number; a one-way one, or a finished one, does not.
	c, _ := h.campaign(outreach.CampaignRunning, conv("x", 1, at(0)))
	err = h.s.ClaimNumber(h.ctx, outreach.NumberOwner{Number: from, Runtime: "studio", Flow: "FWc"})
	if !errors.Is(err, outreach.ErrNumberConflict) {
		h.Errorf("ClaimNumber with an unfinished embedded two-way conversation = %v; want a conflict", err)
	} else if want := fmt.Sprintf("campaign %d of the", c.ID); !strings.Contains(err.Error(), want) {
		// Campaigns are named by id: their names may hold PHI, and this
		// error reaches logs.
		h.Errorf("the conflict %q does not name the campaign by its id (%q)", err, want)
	}
	if err := h.s.ClaimNumber(h.ctx, outreach.NumberOwner{Number: from, Runtime: outreach.RuntimeEmbedded}); err != nil {
		h.Errorf("ClaimNumber by the runtime of the unfinished conversation: %v", err)
	}
	if err := h.s.ReleaseNumber(h.ctx, from, outreach.RuntimeEmbedded, ""); err != nil {
		h.Fatal(err)
	}
	if err := h.s.SetCampaignStatus(h.ctx, c.ID, outreach.CampaignCancelled, base); err != nil {
		h.Fatal(err)
	}
	h.campaign(outreach.CampaignRunning, oneWay(conv("y", 2, at(0))))
	if err := h.s.ClaimNumber(h.ctx, outreach.NumberOwner{Number: from, Runtime: "studio", Flow: "FWc"}); err != nil {
		h.Errorf("ClaimNumber with only finished or one-way conversations: %v", err)
	}
}

// testCommitReceived checks Update.Received: inbound messages stored as
// the conversation's, once per provider id, with no inbox event.
func testCommitReceived(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning, conv("r", 1, at(0)))
	cl := h.claimOne(at(0), convs[0].ID)
	u := update(cl)
	u.Received = []outreach.Message{
		{From: phone(1), To: from, Body: "7", ProviderID: "SMr1", SentAt: at(time.Minute)},
		{From: phone(1), To: from, Body: "yes", ProviderID: "SMr2", SentAt: at(2 * time.Minute)},
	}
	h.commitOK(at(3*time.Minute), u)
	u = update(cl)
	u.Received = []outreach.Message{{From: phone(1), To: from, Body: "7", ProviderID: "SMr1", SentAt: at(time.Minute)}}
	h.commitOK(at(4*time.Minute), u)

	var got []string
	for _, m := range h.messages(convs[0].ID) {
		if m.Direction == outreach.Inbound {
			if m.Status != outreach.MessageReceived || m.CampaignID != c.ID || !m.SentAt.Equal(at(time.Minute)) && m.Body == "7" {
				h.Errorf("received message %+v: want status received, campaign %d, sent at its time", m, c.ID)
			}
			got = append(got, m.Body+"/"+m.ProviderID)
		}
	}
	if want := []string{"7/SMr1", "yes/SMr2"}; !slices.Equal(got, want) {
		h.Errorf("inbound messages %v, want %v (each once)", got, want)
	}
	p, err := h.s.Progress(h.ctx, c.ID, at(5*time.Minute))
	if err != nil || p.Replies != 2 {
		h.Errorf("Progress = %+v, %v; want 2 replies", p, err)
	}
	if cs := h.claim(at(time.Hour), 10); len(cs) == 1 && len(cs[0].Inbox) > 0 {
		h.Errorf("received messages made inbox events: %+v", cs[0].Inbox)
	}
}

// testClaimConversation checks ClaimConversation: any conversation, in
// any campaign status, unless a lease holds it; a done conversation stays
// done but takes responses.
func testClaimConversation(h *harness) {
	if _, err := h.s.ClaimConversation(h.ctx, 999, base, lease); !errors.Is(err, outreach.ErrNotFound) {
		h.Errorf("ClaimConversation of an unknown conversation = %v; want ErrNotFound", err)
	}
	if _, err := h.s.ClaimConversation(h.ctx, 1, base, 0); err == nil {
		h.Errorf("ClaimConversation with a zero lease succeeded")
	}
	c, convs := h.campaign(outreach.CampaignDraft, conv("d", 1, time.Time{}))
	cl, err := h.s.ClaimConversation(h.ctx, convs[0].ID, base, lease)
	if err != nil {
		h.Fatalf("ClaimConversation of a draft campaign's conversation: %v", err)
	}
	if cl.Conversation.ID != convs[0].ID || cl.Lease.Token == "" || !cl.Lease.Expires.Equal(at(lease)) {
		h.Errorf("claim %+v", cl)
	}
	if _, err := h.s.ClaimConversation(h.ctx, convs[0].ID, at(time.Second), lease); !errors.Is(err, outreach.ErrLeaseLost) {
		h.Errorf("ClaimConversation under an unexpired lease = %v; want ErrLeaseLost", err)
	}
	h.commitOK(at(time.Second), release(update(cl)))

	if err := h.s.SetCampaignStatus(h.ctx, c.ID, outreach.CampaignCancelled, at(2*time.Second)); err != nil {
		h.Fatal(err)
	}
	cl, err = h.s.ClaimConversation(h.ctx, convs[0].ID, at(3*time.Second), lease)
	if err != nil {
		h.Fatalf("ClaimConversation of a cancelled conversation: %v", err)
	}
	u := release(set(update(cl), outreach.ConversationActive, at(time.Hour)))
	u.Responses = []outreach.Response{{QuestionID: "pain", Raw: "3", Answer: "3", RepliedAt: at(time.Second)}}
	h.commitOK(at(4*time.Second), u)
	if got := h.conversation(convs[0].ID); got.Status != outreach.ConversationDone || got.Outcome != outreach.OutcomeCancelled {
		h.Errorf("after a commit, the cancelled conversation is %s/%s; want it to stay done, cancelled", got.Status, got.Outcome)
	}
	if resp := h.responses(c.ID, outreach.ResponsePage{}); len(resp) != 1 || resp[0].Answer != "3" {
		h.Errorf("responses %+v; want the one committed", resp)
	}
}
