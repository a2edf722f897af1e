package storetest

import (
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// testBatch checks a store that is an [outreach.BatchRecorder]: each item
// of a batch has the effect of the single call, in order (a repeated
// ProviderID in the batch is stored once; a lower-ranked status after a
// higher one changes nothing; an unknown provider id is ErrNotFound for
// that item only). Stores without batches skip it.
func testBatch(h *harness) {
	b, ok := h.s.(outreach.BatchRecorder)
	if !ok {
		h.Skip("not an outreach.BatchRecorder")
	}
	c, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base), conv("b", 2, at(time.Second)))
	a := convs[0].ID
	h.activate(base, a)
	cl := h.claimOne(at(time.Second), convs[1].ID)
	u := set(update(cl), outreach.ConversationActive, time.Time{})
	u.Enqueue = []outreach.Message{
		{Key: outreach.SendKey{Conversation: convs[1].ID, Step: "hello", Attempt: 1}, Body: "hello"},
		{Key: outreach.SendKey{Conversation: convs[1].ID, Step: "pain", Attempt: 1}, Body: "pain?"},
	}
	h.commitOK(base, u)
	sent := u.Enqueue
	for i := range sent {
		sent[i].Status, sent[i].ProviderID, sent[i].SentAt = outreach.MessageSent, []string{"SM1", "SM2"}[i], base
	}
	u2 := release(set(update(cl), outreach.ConversationActive, time.Time{}))
	u2.Messages = sent
	h.commitOK(base, u2)

	if res, err := b.RecordInbounds(h.ctx, "", nil); err != nil || len(res) != 0 {
		h.Fatalf("RecordInbounds(nil) = %v, %v; want nothing", res, err)
	}
	msg := func(n int, body, pid string) outreach.Message {
		return outreach.Message{Direction: outreach.Inbound, From: phone(n), To: from, Body: body, ProviderID: pid, SentAt: at(time.Minute)}
	}
	res, err := b.RecordInbounds(h.ctx, "", []outreach.InboundRecord{
		{Message: msg(1, "7", "SMin1"), Event: outreach.EventReply},
		{Message: msg(1, "8", "SMin1"), Event: outreach.EventReply}, // a retry within the batch
		{Message: msg(9, "who is this?", "SMin2"), Event: outreach.EventReply},
		{Message: msg(1, "HELP", "SMin3")}, // no event: unmatched
	})
	if err != nil || len(res) != 4 {
		h.Fatalf("RecordInbounds = %d results, %v; want 4", len(res), err)
	}
	h.equal("new", []bool{res[0].New, res[1].New, res[2].New, res[3].New}, []bool{true, false, true, true})
	want := msg(1, "7", "SMin1")
	want.ID, want.ConversationID, want.CampaignID, want.Status, want.CreatedAt = res[0].Message.ID, a, c.ID, outreach.MessageReceived, res[0].Message.CreatedAt
	h.equal("stored message", res[0].Message, want)
	h.equal("the retry's message", res[1].Message, res[0].Message)
	h.equal("messages of the conversation", h.messages(a), []outreach.Message{res[0].Message})
	h.equal("unmatched message IDs", msgIDs(h.messages(0)), []int64{res[2].Message.ID, res[3].Message.ID})
	// A batch repeating one already stored: nothing new.
	again, err := b.RecordInbounds(h.ctx, "", []outreach.InboundRecord{{Message: msg(1, "9", "SMin1"), Event: outreach.EventReply}})
	if err != nil || len(again) != 1 || again[0].New {
		h.Fatalf("RecordInbounds of a stored message = %+v, %v; want it not new", again, err)
	}
	h.equal("message of the repeat", again[0].Message, res[0].Message)

	if dres, err := b.UpdateDeliveries(h.ctx, nil); err != nil || len(dres) != 0 {
		h.Fatalf("UpdateDeliveries(nil) = %v, %v; want nothing", dres, err)
	}
	dres, err := b.UpdateDeliveries(h.ctx, []outreach.DeliveryUpdate{
		{ProviderID: "SM1", Status: "delivered", At: at(time.Minute)},
		{ProviderID: "SM2", Status: "undelivered", ErrorCode: "30003", At: at(2 * time.Minute)},
		{ProviderID: "SM404", Status: "delivered", At: at(2 * time.Minute)},
		{ProviderID: "SM1", Status: "sent", At: at(2 * time.Minute)}, // late: delivered ranks higher
		{ProviderID: "SM2", Status: "undelivered", ErrorCode: "30003", At: at(2 * time.Minute)},
		{ProviderID: "SMin1", Status: "delivered", At: at(2 * time.Minute)}, // inbound: not found
	})
	if err != nil || len(dres) != 6 {
		h.Fatalf("UpdateDeliveries = %d results, %v; want 6", len(dres), err)
	}
	for i, r := range dres {
		switch i {
		case 2, 5:
			h.wantErr("UpdateDeliveries of an unknown provider id", r.Err, outreach.ErrNotFound)
		default:
			if r.Err != nil {
				h.Fatalf("UpdateDeliveries item %d: %v", i, r.Err)
			}
		}
	}
	h.equal("returned statuses", []string{dres[0].Message.DeliveryStatus, dres[1].Message.DeliveryStatus, dres[3].Message.DeliveryStatus},
		[]string{"delivered", "undelivered", "delivered"})
	ms := h.messages(convs[1].ID)
	h.equal("delivery statuses", []string{ms[0].DeliveryStatus, ms[1].DeliveryStatus}, []string{"delivered", "undelivered"})
	h.equal("error", ms[1].Error, "30003")

	// One reply event for a, one delivery failure (not two) for b.
	cls := h.claim(at(3*time.Minute), 10)
	kinds := map[int64][]outreach.EventKind{}
	for _, cl := range cls {
		for _, ev := range cl.Inbox {
			kinds[cl.Conversation.ID] = append(kinds[cl.Conversation.ID], ev.Kind)
		}
	}
	h.equal("inbox events", kinds, map[int64][]outreach.EventKind{
		a: {outreach.EventReply}, convs[1].ID: {outreach.EventDeliveryFailed},
	})
}
