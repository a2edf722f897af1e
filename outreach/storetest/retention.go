package storetest

import (
	"encoding/json"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// talk gives conversation id (patient phone n, recipient rid) a sent and
// delivered question, a reply read as an answer, with an alert, and a
// second reply in doubt; it ends the conversation when end is set. Every
// text holds tag.
func (h *harness) talk(now time.Time, id int64, n int, rid, tag string, end bool) {
	h.Helper()
	claim := func() outreach.Claim {
		h.Helper()
		cl, err := h.s.ClaimConversation(h.ctx, id, now, lease)
		if err != nil {
			h.Fatalf("ClaimConversation(%d): %v", id, err)
		}
		return cl
	}
	u := release(set(update(claim()), outreach.ConversationActive, time.Time{}))
	u.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: id, Step: "pain", Attempt: 1}, Body: "pain? " + tag, Status: outreach.MessageSending}}
	h.commitOK(now, u)
	sent := u.Enqueue
	sent[0].Status, sent[0].ProviderID, sent[0].SentAt = outreach.MessageSent, "SMout"+tag, now
	u = release(set(update(claim()), outreach.ConversationActive, time.Time{}))
	u.Messages = sent
	h.commitOK(now, u)
	if _, err := h.s.UpdateDelivery(h.ctx, "SMout"+tag, "delivered", "", now); err != nil {
		h.Fatalf("UpdateDelivery: %v", err)
	}
	reply := h.inbound(n, "7, it hurts "+tag, "SMin"+tag, now, outreach.EventReply)
	if _, _, err := h.s.AddAlert(h.ctx, outreach.Alert{ConversationID: id, MessageID: reply.ID, PatientID: rid,
		Terms: []string{"hurts"}, At: now, RetryAt: now}); err != nil {
		h.Fatalf("AddAlert: %v", err)
	}
	cl := claim()
	u = release(set(update(cl), outreach.ConversationActive, time.Time{}))
	for _, ev := range cl.Inbox {
		u.Processed = append(u.Processed, ev.ID)
	}
	u.Responses = []outreach.Response{
		{PatientID: rid, QuestionID: "pain", Raw: "7, it hurts " + tag, Answer: "7", RepliedAt: now},
		{PatientID: rid, QuestionID: "more", Raw: "maybe " + tag, Doubt: outreach.DoubtWords, RepliedAt: now},
	}
	if end {
		u = finish(u, "completed")
	}
	// The state a Machine keeps: a Studio flow's context, replies included.
	u.Conversation.State.Machine = json.RawMessage(`{"vars":{"widgets":{"pain":{"inbound":{"Body":"7, it hurts ` + tag + `"}}}}}`)
	h.commitOK(now, u)
}

// snapshot is everything a store keeps of one campaign.
type snapshot struct {
	campaign  outreach.Campaign
	progress  outreach.Progress
	convs     []outreach.Conversation
	messages  [][]outreach.Message
	responses []outreach.Response
	alerts    []outreach.Alert
}

func (h *harness) snapshot(id int64, now time.Time) snapshot {
	h.Helper()
	c, err := h.s.Campaign(h.ctx, id)
	if err != nil {
		h.Fatalf("Campaign(%d): %v", id, err)
	}
	p, err := h.s.Progress(h.ctx, id, now)
	if err != nil {
		h.Fatalf("Progress(%d): %v", id, err)
	}
	alerts, err := h.s.Alerts(h.ctx, id)
	if err != nil {
		h.Fatalf("Alerts(%d): %v", id, err)
	}
	sn := snapshot{campaign: c, progress: p, convs: h.conversations(id), responses: h.responses(id, outreach.ResponsePage{}), alerts: alerts}
	for _, cv := range sn.convs {
		sn.messages = append(sn.messages, h.messages(cv.ID))
	}
	return sn
}

// purged returns sn as the purge at now leaves it: no bodies, no raw
// replies, no state of a Machine, PurgedAt set.
func (sn snapshot) purged(now time.Time) snapshot {
	out := sn
	out.campaign.PurgedAt = now
	out.messages = nil
	for _, ms := range sn.messages {
		var blank []outreach.Message
		for _, m := range ms {
			m.Body = ""
			blank = append(blank, m)
		}
		out.messages = append(out.messages, blank)
	}
	out.responses = nil
	for _, r := range sn.responses {
		r.Raw = ""
		out.responses = append(out.responses, r)
	}
	out.convs = nil
	for _, c := range sn.convs {
		c.State.Machine = nil
		out.convs = append(out.convs, c)
	}
	return out
}

// testRetention: PurgeContent blanks the texts (message and inbox event
// bodies, raw replies) of finished campaigns that finished before the
// cutoff, oldest first, at most limit per call, and the unmatched
// messages received before it; everything else stays (ids, statuses,
// outcomes, delivery statuses, answers, doubts, alerts, Progress), and
// campaigns finished after the cutoff or still running are untouched. A
// second purge changes nothing, and texts committed to a purged campaign
// later are not kept.
func testRetention(h *harness) {
	done, dc := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	h.talk(at(time.Minute), dc[0].ID, 1, "a", "done", true)
	if ok, err := h.s.FinishCampaignIfDone(h.ctx, done.ID, at(time.Hour)); err != nil || !ok {
		h.Fatalf("FinishCampaignIfDone = %v, %v", ok, err)
	}

	// Cancelled with a reply its conversation never handled: the inbox
	// event keeps its body until the purge.
	cancelled, cc := h.campaign(outreach.CampaignRunning, conv("b", 2, base))
	h.talk(at(time.Minute), cc[0].ID, 2, "b", "cancelled", false)
	h.inbound(2, "still there? cancelled", "SMlate", at(2*time.Minute), outreach.EventReply)
	if err := h.s.SetCampaignStatus(h.ctx, cancelled.ID, outreach.CampaignCancelled, at(2*time.Hour)); err != nil {
		h.Fatal(err)
	}

	late, lc := h.campaign(outreach.CampaignRunning, conv("c", 3, base))
	h.talk(at(time.Minute), lc[0].ID, 3, "c", "late", true)
	if ok, err := h.s.FinishCampaignIfDone(h.ctx, late.ID, at(25*time.Hour)); err != nil || !ok {
		h.Fatalf("FinishCampaignIfDone = %v, %v", ok, err)
	}

	running, rc := h.campaign(outreach.CampaignRunning, conv("d", 4, base))
	h.talk(at(time.Minute), rc[0].ID, 4, "d", "running", false)

	oldStray := h.inbound(9, "wrong number", "SMstray1", at(time.Minute), outreach.EventReply)
	newStray := h.inbound(9, "wrong again", "SMstray2", at(25*time.Hour), outreach.EventReply)

	cutoff, now := at(24*time.Hour), at(30*time.Hour)
	before := map[int64]snapshot{}
	for _, c := range []outreach.Campaign{done, cancelled, late, running} {
		before[c.ID] = h.snapshot(c.ID, now)
	}

	purge := func(limit int) outreach.PurgeResult {
		h.Helper()
		res, err := h.s.PurgeContent(h.ctx, cutoff, now, limit)
		if err != nil {
			h.Fatalf("PurgeContent: %v", err)
		}
		return res
	}
	// Oldest first, limit campaigns per call; messages and responses
	// whose text is deleted are counted.
	h.equal("first purge", purge(1), outreach.PurgeResult{Campaigns: []int64{done.ID}, Messages: 2, Responses: 2, Unmatched: 1})
	h.equal("second purge", purge(10), outreach.PurgeResult{Campaigns: []int64{cancelled.ID}, Messages: 3, Responses: 2})

	want := map[int64]snapshot{
		done.ID:      before[done.ID].purged(now),
		cancelled.ID: before[cancelled.ID].purged(now),
		late.ID:      before[late.ID],
		running.ID:   before[running.ID],
	}
	check := func(when string) {
		h.Helper()
		for id, w := range want {
			got := h.snapshot(id, now)
			if !got.campaign.PurgedAt.IsZero() {
				h.sameTime("PurgedAt", got.campaign.PurgedAt, now)
			}
			h.equal(when+": campaign", got.campaign, w.campaign)
			h.equal(when+": progress", got.progress, w.progress)
			h.equal(when+": conversations", got.convs, w.convs)
			h.equal(when+": messages", got.messages, w.messages)
			h.equal(when+": responses", got.responses, w.responses)
			h.equal(when+": alerts", got.alerts, w.alerts)
		}
		stray := h.messages(0)
		if len(stray) != 2 || stray[0].ID != oldStray.ID || stray[0].Body != "" || stray[1].ID != newStray.ID || stray[1].Body != newStray.Body {
			h.Fatalf("%s: unmatched messages %+v; want the first without its body, the second as it was", when, stray)
		}
	}
	check("after the purge")

	// The cancelled conversation's unhandled reply has lost its text.
	cl, err := h.s.ClaimConversation(h.ctx, cc[0].ID, now, lease)
	if err != nil {
		h.Fatal(err)
	}
	if len(cl.Inbox) != 1 || cl.Inbox[0].Kind != outreach.EventReply || cl.Inbox[0].Body != "" {
		h.Fatalf("inbox of the cancelled conversation %+v; want one reply event without its body", cl.Inbox)
	}

	h.equal("a purge with nothing left", purge(10), outreach.PurgeResult{})
	check("after a second purge")
	h.equal("a purge of no campaign", purge(0), outreach.PurgeResult{})

	// Texts committed to a purged campaign later (a Studio execution's
	// replies, collected late) are stored without them.
	u := release(update(cl))
	u.Received = []outreach.Message{{From: phone(2), To: from, Body: "collected late", ProviderID: "SMcollected", SentAt: at(3 * time.Minute)}}
	u.Responses = []outreach.Response{{QuestionID: "pain", Raw: "collected late", Answer: "5", RepliedAt: at(3 * time.Minute)}}
	h.commitOK(now, u)
	ms := h.messages(cc[0].ID)
	if last := ms[len(ms)-1]; last.ProviderID != "SMcollected" || last.Body != "" {
		h.Fatalf("message collected after the purge %+v; want it stored without its body", last)
	}
	for _, r := range h.responses(cancelled.ID, outreach.ResponsePage{}) {
		if r.Raw != "" {
			h.Fatalf("response collected after the purge kept its reply: %+v", r)
		}
	}
	if rs := h.responses(cancelled.ID, outreach.ResponsePage{}); len(rs) != 3 || rs[2].Answer != "5" {
		h.Fatalf("responses after the late collection %+v; want three, the last answered 5", rs)
	}
}
