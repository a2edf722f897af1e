package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func testCreateCampaign(h *harness) {
	in := outreach.Campaign{Name: "check-in", Flow: testFlow(), From: from, DefaultZone: "America/Chicago", CreatedAt: at(-time.Hour)}
	convs := []outreach.Conversation{
		{
			Recipient: outreach.Recipient{ID: "p1", FirstName: "Ann", Phone: phone(1), TimeZone: "America/Phoenix",
				Attrs: map[string]string{"clinic": "north", "procedure": "knee"}},
			TwoWay: true,
			Zones:  []string{"America/Phoenix", "America/Denver"},
			NextAt: base,
		},
		{Recipient: outreach.Recipient{ID: "p2", FirstName: "Bob", Phone: phone(2)}, From: "+15005550007"},
	}
	c, added, err := h.s.CreateCampaign(h.ctx, in, convs)
	if err != nil {
		h.Fatalf("CreateCampaign: %v", err)
	}
	if added != 2 {
		h.Fatalf("added = %d, want 2", added)
	}
	if c.ID <= 0 {
		h.Fatalf("campaign ID = %d, want one assigned", c.ID)
	}
	h.equal("status", c.Status, outreach.CampaignDraft)
	h.equal("name, from, zone", []string{c.Name, c.From, c.DefaultZone}, []string{in.Name, in.From, in.DefaultZone})
	h.equal("flow", c.Flow, testFlow())
	h.sameTime("CreatedAt", c.CreatedAt, in.CreatedAt)
	if c.UpdatedAt.IsZero() {
		h.Fatalf("UpdatedAt is zero")
	}
	got, err := h.s.Campaign(h.ctx, c.ID)
	if err != nil {
		h.Fatalf("Campaign: %v", err)
	}
	h.equal("Campaign(id)", got, c)

	// The store must not alias what the caller passed or got back.
	convs[0].Recipient.Attrs["clinic"] = "changed"
	convs[0].Zones[0] = "changed"
	in.Flow.Steps[0].Body = "changed"
	got.Flow.Steps[0].Body = "changed"

	stored := h.conversations(c.ID)
	if len(stored) != 2 || stored[0].ID <= 0 || stored[1].ID <= stored[0].ID {
		h.Fatalf("conversation IDs = %v, want two, assigned in order", convIDs(stored))
	}
	want := []outreach.Conversation{
		{
			Recipient: outreach.Recipient{ID: "p1", FirstName: "Ann", Phone: phone(1), TimeZone: "America/Phoenix",
				Attrs: map[string]string{"clinic": "north", "procedure": "knee"}},
			From: from, TwoWay: true, Zones: []string{"America/Phoenix", "America/Denver"}, NextAt: base,
		},
		{Recipient: outreach.Recipient{ID: "p2", FirstName: "Bob", Phone: phone(2)}, From: "+15005550007"},
	}
	for i, s := range stored {
		if s.CreatedAt.IsZero() || s.UpdatedAt.IsZero() {
			h.Fatalf("conversation %d has no timestamps: %+v", s.ID, s)
		}
		want[i].ID, want[i].CampaignID, want[i].Status = s.ID, c.ID, outreach.ConversationPending
		want[i].CreatedAt, want[i].UpdatedAt = s.CreatedAt, s.UpdatedAt
		h.equal("stored conversation", s, want[i])
		h.equal("Conversation(id)", h.conversation(s.ID), s)
	}
	again, err := h.s.Campaign(h.ctx, c.ID)
	if err != nil {
		h.Fatalf("Campaign: %v", err)
	}
	h.equal("flow after the caller changed its copies", again.Flow, testFlow())

	stored[0].Recipient.Attrs["clinic"] = "changed"
	h.equal("attrs after the caller changed a returned copy", h.conversation(stored[0].ID).Recipient.Attrs["clinic"], "north")
}

func testCreateCampaignDuplicates(h *harness) {
	first := conv("p1", 1, time.Time{})
	first.Recipient.FirstName = "First"
	dup := conv("p1", 9, time.Time{})
	dup.Recipient.FirstName = "Second"
	c, added, err := h.s.CreateCampaign(h.ctx, outreach.Campaign{Name: "dups", From: from},
		[]outreach.Conversation{first, conv("p2", 2, time.Time{}), dup, conv("p3", 3, time.Time{})})
	if err != nil {
		h.Fatalf("CreateCampaign: %v", err)
	}
	h.equal("added", added, 3)
	stored := h.conversations(c.ID)
	h.equal("recipients", recipientIDs(stored), []string{"p1", "p2", "p3"})
	h.equal("first of the duplicates kept", stored[0].Recipient.FirstName, "First")

	n, err := h.s.AddConversations(h.ctx, c.ID, []outreach.Conversation{conv("p1", 1, time.Time{}), conv("p2", 2, time.Time{}), conv("p3", 3, time.Time{})})
	if err != nil {
		h.Fatalf("AddConversations (same rows): %v", err)
	}
	h.equal("added on re-upload", n, 0)
	n, err = h.s.AddConversations(h.ctx, c.ID, []outreach.Conversation{conv("p3", 3, time.Time{}), conv("p4", 4, time.Time{}), conv("p4", 4, time.Time{}), conv("p5", 5, time.Time{})})
	if err != nil {
		h.Fatalf("AddConversations (mixed rows): %v", err)
	}
	h.equal("added of mixed rows", n, 2)
	h.equal("recipients", recipientIDs(h.conversations(c.ID)), []string{"p1", "p2", "p3", "p4", "p5"})

	_, err = h.s.AddConversations(h.ctx, c.ID+100, []outreach.Conversation{conv("p1", 1, time.Time{})})
	h.wantErr("AddConversations to an unknown campaign", err, outreach.ErrNotFound)

	// Duplicates are per campaign: another campaign may reach p1 too.
	other, _ := h.campaign(outreach.CampaignDraft, conv("p1", 1, time.Time{}))
	h.equal("other campaign's recipients", recipientIDs(h.conversations(other.ID)), []string{"p1"})
}

func recipientIDs(cs []outreach.Conversation) []string {
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.Recipient.ID)
	}
	return ids
}

func testCreateCampaignAtomic(h *harness) {
	// The pair (phone 1, from) has an active two-way conversation.
	busy := conv("p1", 1, time.Time{})
	busy.Status = outreach.ConversationActive
	a, _ := h.campaign(outreach.CampaignRunning, busy)

	clash := conv("p3", 1, time.Time{})
	clash.Status = outreach.ConversationActive
	bad := []outreach.Conversation{conv("p2", 2, time.Time{}), clash}
	if _, _, err := h.s.CreateCampaign(h.ctx, outreach.Campaign{Name: "bad", From: from}, bad); err == nil {
		h.Fatalf("CreateCampaign with a second active conversation for a pair succeeded")
	}
	if _, err := h.s.AddConversations(h.ctx, a.ID, bad); err == nil {
		h.Fatalf("AddConversations with a second active conversation for a pair succeeded")
	}
	noID := []outreach.Conversation{conv("p4", 4, time.Time{}), conv("", 5, time.Time{})}
	if _, _, err := h.s.CreateCampaign(h.ctx, outreach.Campaign{Name: "bad", From: from}, noID); err == nil {
		h.Fatalf("CreateCampaign with an empty recipient id succeeded")
	}
	if _, err := h.s.AddConversations(h.ctx, a.ID, noID); err == nil {
		h.Fatalf("AddConversations with an empty recipient id succeeded")
	}

	cancelled, cancel := context.WithCancel(h.ctx)
	cancel()
	_, _, err := h.s.CreateCampaign(cancelled, outreach.Campaign{Name: "cancelled", From: from}, []outreach.Conversation{conv("p6", 6, time.Time{})})
	h.wantErr("CreateCampaign with a cancelled context", err, context.Canceled)
	_, err = h.s.AddConversations(cancelled, a.ID, []outreach.Conversation{conv("p6", 6, time.Time{})})
	h.wantErr("AddConversations with a cancelled context", err, context.Canceled)

	cs, err := h.s.Campaigns(h.ctx)
	if err != nil {
		h.Fatalf("Campaigns: %v", err)
	}
	if len(cs) != 1 || cs[0].ID != a.ID {
		h.Fatalf("campaigns after failed creations: %v, want only %d", cs, a.ID)
	}
	h.equal("recipients after failed additions", recipientIDs(h.conversations(a.ID)), []string{"p1"})
}

func testNotFound(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning, conv("p1", 1, base))
	missing := c.ID + 100
	_, err := h.s.Campaign(h.ctx, missing)
	h.wantErr("Campaign", err, outreach.ErrNotFound)
	_, err = h.s.Conversation(h.ctx, convs[0].ID+100)
	h.wantErr("Conversation", err, outreach.ErrNotFound)
	h.wantErr("SetCampaignStatus", h.s.SetCampaignStatus(h.ctx, missing, outreach.CampaignRunning, base), outreach.ErrNotFound)
	_, err = h.s.FinishCampaignIfDone(h.ctx, missing, base)
	h.wantErr("FinishCampaignIfDone", err, outreach.ErrNotFound)
	_, err = h.s.Progress(h.ctx, missing, base)
	h.wantErr("Progress", err, outreach.ErrNotFound)

	if cs, err := h.s.Conversations(h.ctx, missing, 0, 10); err != nil || len(cs) != 0 {
		h.Fatalf("Conversations of an unknown campaign = %v, %v; want none, nil", cs, err)
	}
	if ms, err := h.s.Messages(h.ctx, convs[0].ID+100); err != nil || len(ms) != 0 {
		h.Fatalf("Messages of an unknown conversation = %v, %v; want none, nil", ms, err)
	}
	if rs, err := h.s.Responses(h.ctx, missing, outreach.ResponsePage{}); err != nil || len(rs) != 0 {
		h.Fatalf("Responses of an unknown campaign = %v, %v; want none, nil", rs, err)
	}
}

func testCampaigns(h *harness) {
	cs, err := h.s.Campaigns(h.ctx)
	if err != nil || len(cs) != 0 {
		h.Fatalf("Campaigns of an empty store = %v, %v; want none, nil", cs, err)
	}
	var ids []int64
	for range 3 {
		c, _ := h.campaign(outreach.CampaignDraft)
		ids = append(ids, c.ID)
	}
	cs, err = h.s.Campaigns(h.ctx)
	if err != nil {
		h.Fatalf("Campaigns: %v", err)
	}
	var got []int64
	for _, c := range cs {
		got = append(got, c.ID)
		h.equal("listed flow", c.Flow, testFlow())
	}
	h.equal("campaigns, newest first", got, []int64{ids[2], ids[1], ids[0]})
}

func testLifecycle(h *harness) {
	all := []outreach.CampaignStatus{outreach.CampaignDraft, outreach.CampaignRunning, outreach.CampaignPaused, outreach.CampaignCancelled, outreach.CampaignDone}
	// The lifecycle itself, so that a store cannot pass by agreeing with a
	// broken CanChange.
	allowed := map[[2]outreach.CampaignStatus]bool{
		{outreach.CampaignDraft, outreach.CampaignRunning}:     true,
		{outreach.CampaignDraft, outreach.CampaignCancelled}:   true,
		{outreach.CampaignRunning, outreach.CampaignPaused}:    true,
		{outreach.CampaignRunning, outreach.CampaignCancelled}: true,
		{outreach.CampaignRunning, outreach.CampaignDone}:      true,
		{outreach.CampaignPaused, outreach.CampaignRunning}:    true,
		{outreach.CampaignPaused, outreach.CampaignCancelled}:  true,
	}
	now := at(time.Hour)
	for _, fromSt := range all {
		for _, to := range all {
			c, _ := h.campaign(fromSt)
			err := h.s.SetCampaignStatus(h.ctx, c.ID, to, now)
			got, gerr := h.s.Campaign(h.ctx, c.ID)
			if gerr != nil {
				h.Fatalf("Campaign: %v", gerr)
			}
			if allowed[[2]outreach.CampaignStatus{fromSt, to}] {
				if err != nil {
					h.Fatalf("%s -> %s: %v", fromSt, to, err)
				}
				h.equal(string(fromSt)+" -> "+string(to)+": status", got.Status, to)
				h.sameTime("UpdatedAt", got.UpdatedAt, now)
				continue
			}
			var te *outreach.TransitionError
			if !errors.As(err, &te) || !errors.Is(err, outreach.ErrInvalidTransition) {
				h.Fatalf("%s -> %s: error %v, want a *TransitionError matching ErrInvalidTransition", fromSt, to, err)
			}
			h.equal("TransitionError", *te, outreach.TransitionError{Campaign: c.ID, From: fromSt, To: to})
			h.equal(string(fromSt)+" -> "+string(to)+" refused: status", got.Status, fromSt)
		}
	}
}

func testCancel(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning,
		conv("pending", 1, base), conv("active", 2, base), conv("done", 3, base), oneWay(conv("oneway", 4, base)))
	cls := h.claim(base, 10)
	h.equal("claimed", claimIDs(cls), convIDs(convs))
	active := update(cls[1])
	active = set(active, outreach.ConversationActive, at(time.Hour))
	active.Enqueue = []outreach.Message{
		{Key: outreach.SendKey{Conversation: convs[1].ID, Step: "pain", Attempt: 1}, Body: "one"},
		{Key: outreach.SendKey{Conversation: convs[1].ID, Step: "pain", Attempt: 2}, Body: "two", Status: outreach.MessageSending, IntentAt: base},
	}
	h.commitOK(base, release(update(cls[0])), active, finish(update(cls[2]), "completed"), release(update(cls[3])))

	now := at(time.Minute)
	if err := h.s.SetCampaignStatus(h.ctx, c.ID, outreach.CampaignCancelled, now); err != nil {
		h.Fatalf("cancel: %v", err)
	}
	for i, cv := range convs {
		got := h.conversation(cv.ID)
		wantOutcome := outreach.OutcomeCancelled
		if i == 2 {
			wantOutcome = "completed"
		}
		if got.Status != outreach.ConversationDone || got.Outcome != wantOutcome || !got.NextAt.IsZero() {
			h.Fatalf("conversation %q after cancel: status %s, outcome %q, next %v; want done, %q, zero",
				got.Recipient.ID, got.Status, got.Outcome, got.NextAt, wantOutcome)
		}
	}
	var statuses []outreach.MessageStatus
	for _, m := range h.messages(convs[1].ID) {
		statuses = append(statuses, m.Status)
	}
	h.equal("message statuses after cancel", statuses, []outreach.MessageStatus{outreach.MessageCancelled, outreach.MessageSending})

	// The worker holding the active conversation's lease still records the
	// outcome of the send it made, but cannot bring the conversation back.
	late := set(update(cls[1]), outreach.ConversationActive, at(time.Hour))
	sent := h.messages(convs[1].ID)[1]
	sent.Status, sent.ProviderID, sent.SentAt = outreach.MessageSent, "SMlate", now
	late.Messages = []outreach.Message{sent}
	h.commitOK(now, late)
	got := h.conversation(convs[1].ID)
	h.equal("status after the late commit", got.Status, outreach.ConversationDone)
	h.equal("outcome after the late commit", got.Outcome, outreach.OutcomeCancelled)
	h.equal("late outcome recorded", h.messages(convs[1].ID)[1].ProviderID, "SMlate")
	h.claimNone(at(2 * time.Hour))

	// The pair of the conversation that was active is free again.
	_, next := h.campaign(outreach.CampaignRunning, conv("sibling", 2, base))
	h.claimOne(now, next[0].ID)
}

func testFinishCampaignIfDone(h *harness) {
	check := func(id int64, want bool, wantStatus outreach.CampaignStatus) {
		h.Helper()
		got, err := h.s.FinishCampaignIfDone(h.ctx, id, at(time.Hour))
		if err != nil {
			h.Fatalf("FinishCampaignIfDone: %v", err)
		}
		c, err := h.s.Campaign(h.ctx, id)
		if err != nil {
			h.Fatalf("Campaign: %v", err)
		}
		if got != want || c.Status != wantStatus {
			h.Fatalf("FinishCampaignIfDone = %v, status %s; want %v, %s", got, c.Status, want, wantStatus)
		}
	}
	draft, _ := h.campaign(outreach.CampaignDraft)
	check(draft.ID, false, outreach.CampaignDraft)
	paused, _ := h.campaign(outreach.CampaignPaused)
	check(paused.ID, false, outreach.CampaignPaused)
	empty, _ := h.campaign(outreach.CampaignRunning)
	check(empty.ID, true, outreach.CampaignDone)

	c, convs := h.campaign(outreach.CampaignRunning, conv("p1", 1, base), conv("p2", 2, at(time.Second)))
	check(c.ID, false, outreach.CampaignRunning)
	h.end(base, convs[0].ID, "completed")
	check(c.ID, false, outreach.CampaignRunning)
	h.end(at(time.Second), convs[1].ID, "timeout")
	check(c.ID, true, outreach.CampaignDone)
	got, _ := h.s.Campaign(h.ctx, c.ID)
	h.sameTime("UpdatedAt", got.UpdatedAt, at(time.Hour))
	check(c.ID, false, outreach.CampaignDone)
}

func testProgress(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning,
		conv("p1", 1, base), conv("p2", 2, base), conv("p3", 3, base), conv("p4", 4, base))
	cls := h.claim(base, 10)
	key := func(i int, step string) outreach.SendKey {
		return outreach.SendKey{Conversation: convs[i].ID, Step: step, Attempt: 1}
	}
	u0 := update(cls[0])
	u0.Enqueue = []outreach.Message{{Key: key(0, "pain"), Body: "pain?"}}
	u1 := set(update(cls[1]), outreach.ConversationActive, time.Time{})
	u1.Enqueue = []outreach.Message{
		{Key: key(1, "later"), Body: "deferred", SendAfter: at(time.Hour)},
		{Key: key(1, "now"), Body: "due", SendAfter: at(-time.Minute)},
		{Key: key(1, "intent"), Body: "sending", Status: outreach.MessageSending, IntentAt: base},
	}
	h.commitOK(base, u0, release(u1), finish(update(cls[2]), "eligible"), release(update(cls[3])))
	sent := u0.Enqueue[0]
	sent.Status, sent.ProviderID, sent.SentAt = outreach.MessageSent, "SM1", base
	u0 = finish(update(cls[0]), "eligible")
	u0.Messages = []outreach.Message{sent}
	h.commitOK(base, u0)
	if _, err := h.s.UpdateDelivery(h.ctx, "SM1", "delivered", "", base); err != nil {
		h.Fatalf("UpdateDelivery: %v", err)
	}
	h.inbound(2, "7", "SMreply", base, outreach.EventReply)
	h.inbound(9, "hello?", "SMstray", base, outreach.EventReply)

	p, err := h.s.Progress(h.ctx, c.ID, at(time.Minute))
	if err != nil {
		h.Fatalf("Progress: %v", err)
	}
	h.equal("progress", p, outreach.Progress{
		Total: 4, Pending: 1, Active: 1, Done: 2,
		Outcomes: map[string]int{"eligible": 2},
		Messages: map[outreach.MessageStatus]int{outreach.MessageSent: 1, outreach.MessageQueued: 2, outreach.MessageSending: 1},
		Delivery: map[string]int{"delivered": 1},
		Deferred: 1,
		Replies:  1,
	})
	other, _ := h.campaign(outreach.CampaignDraft)
	p, err = h.s.Progress(h.ctx, other.ID, base)
	if err != nil {
		h.Fatalf("Progress: %v", err)
	}
	h.equal("progress of an empty campaign", p, outreach.Progress{
		Outcomes: map[string]int{}, Messages: map[outreach.MessageStatus]int{}, Delivery: map[string]int{},
	})
}

// testLargeBatch stores conversations that share every column but
// their recipient's, in runs long enough for a store to bind the shared
// columns once per statement, mixed with runs that differ in each of
// those columns from row to row, and a repeated recipient: each
// conversation reads back as it was given, the first of the repeats kept.
func testLargeBatch(h *harness) {
	c, _, err := h.s.CreateCampaign(h.ctx, outreach.Campaign{Name: "large", From: from, CreatedAt: at(-time.Hour)}, nil)
	if err != nil {
		h.Fatalf("CreateCampaign: %v", err)
	}
	const n = 301
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		cv := outreach.Conversation{
			Recipient: outreach.Recipient{ID: fmt.Sprint("r", i), FirstName: fmt.Sprint("Name", i), Phone: phone(i),
				TimeZone: "America/Chicago", Attrs: map[string]string{"row": fmt.Sprint(i)}},
			From: from, TwoWay: true, Zones: []string{"America/Chicago"}, Status: outreach.ConversationPending,
			NextAt: at(0), CreatedAt: at(-time.Minute), UpdatedAt: at(-time.Minute),
		}
		switch {
		case i >= 100 && i < 200: // every shared column changes from row to row
			cv.From = []string{from, "+15005550007", ""}[i%3]
			cv.TwoWay = i%2 == 0
			cv.NextAt = at(time.Duration(i) * time.Second)
			cv.CreatedAt = at(-time.Duration(i) * time.Second)
			cv.UpdatedAt = at(-time.Duration(i%7) * time.Second)
			if i%5 == 0 {
				cv.Status, cv.Outcome = outreach.ConversationDone, "imported"
			}
		case i >= 200 && i < 280: // another uniform run, other values
			cv.From, cv.TwoWay, cv.NextAt = "+15005550008", false, at(time.Hour)
		}
		convs[i] = cv
	}
	repeat := convs[7]
	repeat.Recipient.FirstName = "Repeat"
	convs[n-1] = repeat
	added, err := h.s.AddConversations(h.ctx, c.ID, convs)
	if err != nil {
		h.Fatalf("AddConversations: %v", err)
	}
	h.equal("added", added, n-1)
	stored := h.conversations(c.ID)
	if len(stored) != n-1 {
		h.Fatalf("stored %d conversations, want %d", len(stored), n-1)
	}
	for i, s := range stored {
		want := convs[i]
		if want.From == "" {
			want.From = from
		}
		want.ID, want.CampaignID = s.ID, c.ID
		for _, tm := range []*time.Time{&s.NextAt, &s.CreatedAt, &s.UpdatedAt} {
			*tm = tm.UTC()
		}
		h.equal(fmt.Sprintf("conversation %d", i), s, want)
	}
}
