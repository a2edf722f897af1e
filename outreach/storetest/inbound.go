package storetest

import (
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func testRecordInbound(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base), conv("pending", 3, at(time.Hour)))
	id := convs[0].ID
	h.activate(base, id)

	in := outreach.Message{Direction: outreach.Inbound, From: phone(1), To: from, Body: "7", ProviderID: "SMin1", SentAt: at(time.Minute)}
	m, isNew, err := h.s.RecordInbound(h.ctx, "", in, outreach.EventReply)
	if err != nil || !isNew {
		h.Fatalf("RecordInbound = %v, %v; want a new message", isNew, err)
	}
	if m.ID <= 0 {
		h.Fatalf("message ID = %d, want one assigned", m.ID)
	}
	want := in
	want.ID, want.ConversationID, want.CampaignID, want.Status = m.ID, id, c.ID, outreach.MessageReceived
	want.CreatedAt = m.CreatedAt
	h.equal("stored message", m, want)

	// A provider retrying its webhook has one effect.
	retry := in
	retry.Body = "8"
	again, isNew, err := h.s.RecordInbound(h.ctx, "", retry, outreach.EventReply)
	if err != nil || isNew {
		h.Fatalf("second RecordInbound = %v, %v; want isNew false", isNew, err)
	}
	h.equal("message of the retry", again, m)
	h.equal("messages of the conversation", h.messages(id), []outreach.Message{m})

	// Unmatched messages are kept: no conversation for the number, a
	// different sending number, a conversation that is only pending, or no
	// event kind.
	stray := h.inbound(9, "who is this?", "SMin2", at(time.Minute), outreach.EventReply)
	m3, _, err := h.s.RecordInbound(h.ctx, "", outreach.Message{From: phone(1), To: "+15005550009", Body: "hi", ProviderID: "SMin3", SentAt: at(time.Minute)}, outreach.EventReply)
	if err != nil {
		h.Fatalf("RecordInbound: %v", err)
	}
	pending := h.inbound(3, "early", "SMin4", at(time.Minute), outreach.EventReply)
	help := h.inbound(1, "HELP", "SMin5", at(time.Minute), "")
	unmatched := h.messages(0)
	h.equal("unmatched message IDs", msgIDs(unmatched), []int64{stray.ID, m3.ID, pending.ID, help.ID})
	for _, u := range unmatched {
		if u.ConversationID != 0 || u.CampaignID != 0 || u.Direction != outreach.Inbound || u.Status != outreach.MessageReceived {
			h.Fatalf("unmatched message %+v", u)
		}
	}
	h.equal("unmatched message", unmatched[0].Body, "who is this?")

	cl := h.claimOne(at(time.Minute), id)
	if len(cl.Inbox) != 1 || cl.Inbox[0].MessageID != m.ID {
		h.Fatalf("inbox = %+v, want only the event of %d", cl.Inbox, m.ID)
	}
}

func msgIDs(ms []outreach.Message) []int64 {
	ids := []int64{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func testUpdateDelivery(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	id := convs[0].ID
	cl := h.claimOne(base, id)
	u := set(update(cl), outreach.ConversationActive, time.Time{})
	u.Enqueue = []outreach.Message{
		{Key: outreach.SendKey{Conversation: id, Step: "hello", Attempt: 1}, Body: "hello"},
		{Key: outreach.SendKey{Conversation: id, Step: "pain", Attempt: 1}, Body: "pain?"},
	}
	h.commitOK(base, u)
	sent := u.Enqueue
	for i := range sent {
		sent[i].Status, sent[i].ProviderID, sent[i].SentAt = outreach.MessageSent, fmt.Sprint("SM", i+1), base
	}
	u2 := release(set(update(cl), outreach.ConversationActive, time.Time{}))
	u2.Messages = sent
	h.commitOK(base, u2)
	reply := h.inbound(1, "7", "SMin1", base, "")

	m, err := h.s.UpdateDelivery(h.ctx, "SM1", "delivered", "", at(time.Minute))
	if err != nil {
		h.Fatalf("UpdateDelivery: %v", err)
	}
	if m.ID != sent[0].ID || m.DeliveryStatus != "delivered" || m.Status != outreach.MessageSent {
		h.Fatalf("UpdateDelivery returned %+v", m)
	}
	h.claimNone(at(time.Minute))

	for _, st := range []string{"undelivered", "undelivered", "failed"} {
		m, err = h.s.UpdateDelivery(h.ctx, "SM2", st, "30003", at(2*time.Minute))
		if err != nil {
			h.Fatalf("UpdateDelivery(%s): %v", st, err)
		}
	}
	if m.ID != sent[1].ID || m.DeliveryStatus != "failed" || m.Error != "30003" {
		h.Fatalf("UpdateDelivery returned %+v", m)
	}
	ms := h.messages(id)
	h.equal("delivery statuses", []string{ms[0].DeliveryStatus, ms[1].DeliveryStatus}, []string{"delivered", "failed"})

	cl = h.claimOne(at(3*time.Minute), id)
	if len(cl.Inbox) != 1 {
		h.Fatalf("inbox = %+v, want one delivery failure", cl.Inbox)
	}
	h.equal("delivery failure event", cl.Inbox[0], outreach.InboxEvent{
		ID: cl.Inbox[0].ID, ConversationID: id, Kind: outreach.EventDeliveryFailed, MessageID: sent[1].ID,
		Key: sent[1].Key, Error: "30003", At: at(2 * time.Minute),
	})

	for _, pid := range []string{"SM404", "", reply.ProviderID} {
		_, err = h.s.UpdateDelivery(h.ctx, pid, "delivered", "", at(time.Minute))
		h.wantErr(fmt.Sprintf("UpdateDelivery(%q)", pid), err, outreach.ErrNotFound)
	}
}

func testOptOut(h *harness) {
	check := func(want map[string]bool) {
		h.Helper()
		got, err := h.s.OptedOut(h.ctx, []string{phone(1), phone(2), phone(3)})
		if err != nil {
			h.Fatalf("OptedOut: %v", err)
		}
		h.equal("opted out", got, want)
	}
	set := func(n int, out bool, when time.Time) {
		h.Helper()
		if err := h.s.SetOptOut(h.ctx, "", phone(n), out, when); err != nil {
			h.Fatalf("SetOptOut: %v", err)
		}
	}
	check(map[string]bool{})
	set(1, true, base)
	set(2, true, base)
	check(map[string]bool{phone(1): true, phone(2): true})
	set(1, false, at(time.Minute))
	check(map[string]bool{phone(2): true})
	set(1, true, at(-time.Minute)) // an old, retried STOP does not undo the START
	check(map[string]bool{phone(2): true})
	set(1, true, at(2*time.Minute))
	set(2, false, at(2*time.Minute))
	check(map[string]bool{phone(1): true})
	got, err := h.s.OptedOut(h.ctx, nil)
	if err != nil || len(got) != 0 {
		h.Fatalf("OptedOut(nil) = %v, %v; want none", got, err)
	}
}

func testConversationsPaging(h *harness) {
	var convs []outreach.Conversation
	for i := range 7 {
		convs = append(convs, conv(fmt.Sprint("p", i), i, time.Time{}))
	}
	c, stored := h.campaign(outreach.CampaignDraft, convs...)
	h.campaign(outreach.CampaignDraft, conv("other", 9, time.Time{}))
	if len(stored) != 7 {
		h.Fatalf("%d conversations, want 7", len(stored))
	}
	var pages [][]int64
	after := int64(0)
	for {
		page, err := h.s.Conversations(h.ctx, c.ID, after, 3)
		if err != nil {
			h.Fatalf("Conversations: %v", err)
		}
		if len(page) == 0 {
			break
		}
		pages = append(pages, convIDs(page))
		after = page[len(page)-1].ID
	}
	ids := convIDs(stored)
	h.equal("pages", pages, [][]int64{ids[0:3], ids[3:6], ids[6:7]})
}

func testResponses(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base), conv("b", 2, base), conv("c", 3, base))
	other, _ := h.campaign(outreach.CampaignRunning, conv("z", 4, base))
	cls := h.claim(base, 10)
	resp := func(patient, q, raw, answer string, when time.Duration) outreach.Response {
		return outreach.Response{PatientID: patient, QuestionID: q, Raw: raw, Answer: answer, RepliedAt: at(when)}
	}
	ua, ub, uc, uz := update(cls[0]), update(cls[1]), update(cls[2]), update(cls[3])
	ua.Responses = []outreach.Response{resp("a", "q2", "yes", "yes", 2*time.Minute), resp("a", "q1", "7", "7", time.Minute)}
	ub.Responses = []outreach.Response{resp("b", "q1", "Y", "yes", 30*time.Second)}
	maybe := resp("c", "q1", "maybe", "", 5*time.Minute)
	maybe.Doubt = outreach.DoubtNoNumber
	uc.Responses = []outreach.Response{maybe}
	uz.Responses = []outreach.Response{resp("z", "q1", "1", "1", time.Minute)}
	h.commitOK(base, ua, ub, uc, uz)
	uc = update(cls[2])
	uc.Responses = []outreach.Response{resp("c", "q1", "7", "7", 6*time.Minute)}
	h.commitOK(base, uc)

	withIDs := func(r outreach.Response, i int) outreach.Response {
		r.CampaignID, r.ConversationID = c.ID, convs[i].ID
		return r
	}
	all := []outreach.Response{
		withIDs(resp("a", "q1", "7", "7", time.Minute), 0),
		withIDs(resp("a", "q2", "yes", "yes", 2*time.Minute), 0),
		withIDs(resp("b", "q1", "Y", "yes", 30*time.Second), 1),
		withIDs(maybe, 2),
		withIDs(resp("c", "q1", "7", "7", 6*time.Minute), 2),
	}
	h.equal("all responses", h.responses(c.ID, outreach.ResponsePage{}), all)
	h.equal("first page", h.responses(c.ID, outreach.ResponsePage{Limit: 2}), all[:3])
	h.equal("second page", h.responses(c.ID, outreach.ResponsePage{AfterConversation: convs[1].ID, Limit: 2}), all[3:])
	if rs := h.responses(c.ID, outreach.ResponsePage{AfterConversation: convs[2].ID, Limit: 2}); len(rs) != 0 {
		h.Fatalf("page after the last conversation: %v", rs)
	}
	if rs := h.responses(other.ID, outreach.ResponsePage{}); len(rs) != 1 || rs[0].PatientID != "z" {
		h.Fatalf("responses of the other campaign: %v", rs)
	}
}

// testOptOutWorlds: an opt-out holds in every world, but only an opt-in
// of its own world lifts it, unless it was simulated: a START typed on a
// dev-mode phone never undoes a real patient's STOP.
func testOptOutWorlds(h *harness) {
	const real, other = "twilio:AC1", "twilio:AC2"
	p := phone(1)
	steps := []struct {
		world string
		out   bool
		want  bool // opted out afterwards
		what  string
	}{
		{real, true, true, "a real STOP"},
		{outreach.WorldDev, false, true, "a dev START does not lift it"},
		{outreach.WorldSim, false, true, "nor does a simulation's"},
		{other, false, true, "nor another account's"},
		{outreach.WorldDev, true, true, "a dev STOP over it"},
		{outreach.WorldDev, false, true, "keeps the real world: a dev START still does not lift it"},
		{real, false, false, "a START of the real world does"},
		{outreach.WorldDev, true, true, "a dev STOP"},
		{real, false, false, "is lifted by a real START"},
		{outreach.WorldSim, true, true, "a simulation's STOP"},
		{outreach.WorldSim, false, false, "is lifted by its own START"},
		{"", true, true, "an opt-out of the empty world (or from before worlds)"},
		{outreach.WorldDev, false, true, "is not lifted by a dev START"},
		{outreach.WorldDev, true, true, "nor after a dev STOP over it"},
		{outreach.WorldDev, false, true, "by a dev START"},
		{other, false, false, "but is by a real account's"},
	}
	for i, st := range steps {
		if err := h.s.SetOptOut(h.ctx, st.world, p, st.out, at(time.Duration(i)*time.Minute)); err != nil {
			h.Fatalf("%s: SetOptOut: %v", st.what, err)
		}
		got, err := h.s.OptedOut(h.ctx, []string{p})
		if err != nil {
			h.Fatal(err)
		}
		if got[p] != st.want {
			h.Fatalf("step %d, %s: opted out %v, want %v", i, st.what, got[p], st.want)
		}
	}
}

// testPendingDelivery: a status that comes before its message's provider
// id is recorded is kept, the highest ranked per provider id, and applied
// by the Commit that records the id; after outreach.PendingStatusFor it
// is dropped.
func testPendingDelivery(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base), conv("b", 2, at(time.Minute)))
	id, id2 := convs[0].ID, convs[1].ID
	cl := h.claimOne(base, id)
	u := set(update(cl), outreach.ConversationActive, time.Time{})
	u.Enqueue = []outreach.Message{
		{Key: outreach.SendKey{Conversation: id, Step: "hello", Attempt: 1}, Body: "hello"},
		{Key: outreach.SendKey{Conversation: id, Step: "pain", Attempt: 1}, Body: "pain?"},
	}
	h.commitOK(base, u)

	// The callbacks come first, out of order.
	for _, c := range []struct{ pid, status, code string }{
		{"SMp1", "sent", ""}, {"SMp1", "delivered", ""}, {"SMp1", "sent", ""},
		{"SMp2", "undelivered", "30003"},
		{"SMnever", "delivered", ""},
	} {
		_, err := h.s.UpdateDelivery(h.ctx, c.pid, c.status, c.code, at(time.Second))
		h.wantErr(fmt.Sprintf("UpdateDelivery(%s, %s) before the id is recorded", c.pid, c.status), err, outreach.ErrNotFound)
	}
	h.equal("statuses before the ids are recorded", []string{h.messages(id)[0].DeliveryStatus, h.messages(id)[1].DeliveryStatus}, []string{"", ""})

	sent := u.Enqueue
	for i := range sent {
		sent[i].Status, sent[i].ProviderID, sent[i].SentAt = outreach.MessageSent, fmt.Sprint("SMp", i+1), base
	}
	u2 := release(set(update(cl), outreach.ConversationActive, time.Time{}))
	u2.Messages = sent
	h.commitOK(at(2*time.Second), u2)
	ms := h.messages(id)
	h.equal("statuses once the ids are recorded", []string{ms[0].DeliveryStatus, ms[1].DeliveryStatus}, []string{"delivered", "undelivered"})
	h.equal("error of the undelivered message", ms[1].Error, "30003")
	cl = h.claimOne(at(3*time.Second), id)
	if len(cl.Inbox) != 1 || cl.Inbox[0].Kind != outreach.EventDeliveryFailed || cl.Inbox[0].MessageID != sent[1].ID {
		h.Fatalf("inbox = %+v, want the delivery failure of message %d", cl.Inbox, sent[1].ID)
	}
	done := release(set(update(cl), outreach.ConversationActive, time.Time{}))
	done.Processed = []int64{cl.Inbox[0].ID}
	h.commitOK(at(3*time.Second), done)
	// A status applied is used up: recording the id again changes nothing.
	if _, err := h.s.UpdateDelivery(h.ctx, "SMp1", "read", "", at(4*time.Second)); err != nil {
		h.Fatalf("UpdateDelivery(SMp1) after the id is recorded: %v", err)
	}

	// Too late: the status is dropped.
	cl2 := h.claimOne(at(time.Minute), id2)
	u3 := set(update(cl2), outreach.ConversationActive, time.Time{})
	u3.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: id2, Step: "hello", Attempt: 1}, Body: "hello"}}
	h.commitOK(at(time.Minute), u3)
	_, err := h.s.UpdateDelivery(h.ctx, "SMlate", "delivered", "", at(time.Minute))
	h.wantErr("UpdateDelivery(SMlate)", err, outreach.ErrNotFound)
	late := u3.Enqueue
	late[0].Status, late[0].ProviderID, late[0].SentAt = outreach.MessageSent, "SMlate", at(time.Minute)
	u4 := release(set(update(cl2), outreach.ConversationActive, time.Time{}))
	u4.Messages = late
	h.commitOK(at(time.Minute+outreach.PendingStatusFor+time.Second), u4)
	h.equal("status recorded after PendingStatusFor", h.messages(id2)[0].DeliveryStatus, "")
}
