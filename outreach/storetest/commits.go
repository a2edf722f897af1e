package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func testCommitStaleLease(h *harness) {
	c, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base), conv("b", 2, base))
	cls := h.claim(base, 10)

	stale := update(cls[0])
	stale.Lease.Token = "stale"
	stale = release(set(stale, outreach.ConversationActive, at(time.Hour)))
	stale.Conversation.State = outreach.State{Step: "pain", Started: true}
	stale.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: convs[0].ID, Step: "pain", Attempt: 1}, Body: "x"}}
	stale.Responses = []outreach.Response{{PatientID: "a", QuestionID: "pain", Raw: "1", Answer: "1", RepliedAt: base}}
	wrongConv := release(update(cls[1]))
	wrongConv.Conversation.ID = convs[0].ID
	res := h.commit(base, stale, wrongConv, finish(update(cls[1]), "completed"))
	h.wantErr("update under a stale token", res[0], outreach.ErrLeaseLost)
	h.wantErr("update of another conversation than its lease's", res[1], outreach.ErrLeaseLost)
	if res[2] != nil {
		h.Fatalf("valid update next to a stale one: %v", res[2])
	}

	h.equal("conversation after the stale update", h.conversation(convs[0].ID), convs[0])
	if ms := h.messages(convs[0].ID); len(ms) != 0 {
		h.Fatalf("stale update enqueued %v", ms)
	}
	if rs := h.responses(c.ID, outreach.ResponsePage{}); len(rs) != 0 {
		h.Fatalf("stale update added responses %v", rs)
	}
	h.equal("outcome of the valid update", h.conversation(convs[1].ID).Outcome, "completed")
	// The stale update released nothing: the real holder still has it.
	h.claimNone(at(30 * time.Second))
	h.commitOK(base, release(update(cls[0])))
	h.claimOne(at(30*time.Second), convs[0].ID)
}

func testCommitState(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	id := convs[0].ID
	cl := h.claimOne(base, id)
	st := outreach.State{
		Step: "pain", Started: true, Waiting: true,
		Wait:     outreach.SendKey{Conversation: id, Step: "pain", Attempt: 2},
		Timeout:  outreach.Duration(6 * time.Minute),
		Reasks:   1,
		Asked:    1,
		Attempts: map[string]int{"hello": 1, "pain": 2},
		Answers:  map[string]string{"age": "42", "smoker": "no"},
		Machine:  json.RawMessage(`{"at":"q","vars":{"flow":{"data":{"n":"1"}}}}`),
	}
	u := set(update(cl), outreach.ConversationActive, at(6*time.Minute))
	u.Conversation.State = st
	h.commitOK(at(time.Second), u)

	want := convs[0]
	want.Status, want.State, want.NextAt, want.UpdatedAt = outreach.ConversationActive, st, at(6*time.Minute), at(time.Second)
	h.equal("conversation after commit", h.conversation(id), want)

	// Only Status, State, Outcome and NextAt change; the rest is the store's.
	u = finish(update(cl), "eligible")
	u.Conversation.State = outreach.State{Step: "bye", Started: true, Done: true, Outcome: "eligible", Answers: map[string]string{"age": "42"}}
	u.Conversation.Recipient.FirstName = "Changed"
	u.Conversation.TwoWay = false
	h.commitOK(at(2*time.Second), u)
	want.Status, want.Outcome, want.State, want.NextAt, want.UpdatedAt = outreach.ConversationDone, "eligible", u.Conversation.State, time.Time{}, at(2*time.Second)
	h.equal("conversation after it ended", h.conversation(id), want)
}

func testCommitMessages(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base), conv("b", 2, base))
	id := convs[0].ID
	cls := h.claim(base, 10)
	cl := cls[0]
	key := func(step string) outreach.SendKey { return outreach.SendKey{Conversation: id, Step: step, Attempt: 1} }

	u := set(update(cl), outreach.ConversationActive, base)
	u.Enqueue = []outreach.Message{
		{Key: key("m1"), Body: "one"},
		{Key: key("m2"), Body: "two", SendAfter: at(time.Hour)},
		{Key: key("m3"), Body: "three", Status: outreach.MessageSending, IntentAt: base},
		{Key: key("m4"), Body: "four"},
		{Key: key("m5"), Body: "five"},
		{Key: key("m6"), Body: "six", From: "+15005550009", To: "+15550001111"},
	}
	h.commitOK(base, u)
	var ids []int64
	for i, m := range u.Enqueue {
		if m.ID <= 0 || (i > 0 && m.ID <= ids[i-1]) {
			h.Fatalf("enqueued message IDs %v: not assigned in order", u.Enqueue)
		}
		ids = append(ids, m.ID)
	}
	stored := h.messages(id)
	want := make([]outreach.Message, len(u.Enqueue))
	for i, m := range u.Enqueue {
		want[i] = m
		want[i].ConversationID, want[i].CampaignID, want[i].Direction = id, cl.Conversation.CampaignID, outreach.Outbound
		want[i].CreatedAt = base
		if want[i].Status == "" {
			want[i].Status = outreach.MessageQueued
		}
		if want[i].From == "" {
			want[i].From, want[i].To = from, phone(1)
		}
	}
	h.equal("stored messages", stored, want)

	// The runner's protocol: intent, then outcome.
	upd := func(i int, st outreach.MessageStatus) outreach.Message {
		m := want[i]
		m.Status = st
		return m
	}
	m1 := upd(0, outreach.MessageSent)
	m1.ProviderID, m1.Tries, m1.IntentAt, m1.SentAt, m1.SendAfter = "SM1", 2, at(time.Second), at(2*time.Second), at(-time.Minute)
	m4 := upd(3, outreach.MessageFailed)
	m4.Error = "21211"
	u = update(cl)
	u.Messages = []outreach.Message{m1, upd(1, outreach.MessageUnknown), m4, upd(4, outreach.MessageCancelled)}
	h.commitOK(at(3*time.Second), release(u))
	want[0], want[1], want[3], want[4] = m1, u.Messages[1], m4, u.Messages[3]
	h.equal("messages after updates", h.messages(id), want)

	again := h.claimOne(at(30*time.Second), id)
	h.equal("pending messages of the claim", again.Pending, []outreach.Message{want[1], want[2], want[5]})

	// A message of another conversation cannot be updated under this lease.
	foreign := update(again)
	foreign.Conversation.Outcome = "changed"
	foreign.Messages = []outreach.Message{{ID: want[0].ID + 1000, Status: outreach.MessageSent}}
	h.wantErr("update of a message of no conversation", h.commit(at(30*time.Second), foreign)[0], outreach.ErrNotFound)
	other := h.commit(at(30*time.Second), set(update(cls[1]), outreach.ConversationActive, base))
	if other[0] != nil {
		h.Fatalf("commit of b: %v", other[0])
	}
	bm := update(cls[1])
	bm.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: cls[1].Lease.ConversationID, Step: "x", Attempt: 1}, Body: "b"}}
	h.commitOK(at(30*time.Second), bm)
	foreign.Messages = []outreach.Message{{ID: bm.Enqueue[0].ID, Status: outreach.MessageSent}}
	h.wantErr("update of another conversation's message", h.commit(at(30*time.Second), foreign)[0], outreach.ErrNotFound)
	h.equal("outcome after refused updates", h.conversation(id).Outcome, "")
	h.equal("b's message after refused updates", h.messages(cls[1].Lease.ConversationID)[0].Status, outreach.MessageQueued)
}

func testCommitDuplicateKey(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	id := convs[0].ID
	cl := h.claimOne(base, id)
	key := outreach.SendKey{Conversation: id, Step: "pain", Attempt: 1}
	u := update(cl)
	u.Enqueue = []outreach.Message{{Key: key, Body: "once"}}
	h.commitOK(base, u)

	for _, batch := range [][]outreach.Message{
		{{Key: key, Body: "again"}},
		{{Key: outreach.SendKey{Conversation: id, Step: "pain", Attempt: 2}, Body: "new"}, {Key: outreach.SendKey{Conversation: id, Step: "pain", Attempt: 2}, Body: "twice"}},
	} {
		u := set(update(cl), outreach.ConversationActive, at(time.Hour))
		u.Enqueue = batch
		u.Responses = []outreach.Response{{PatientID: "a", QuestionID: "pain", Raw: "1", Answer: "1", RepliedAt: base}}
		if err := h.commit(base, u)[0]; err == nil {
			h.Fatalf("Enqueue of an existing key succeeded")
		}
		for _, m := range u.Enqueue {
			if m.ID != 0 {
				h.Fatalf("refused update assigned message ID %d", m.ID)
			}
		}
	}
	if ms := h.messages(id); len(ms) != 1 || ms[0].Body != "once" {
		h.Fatalf("messages after duplicate keys: %+v", ms)
	}
	h.equal("status after refused updates", h.conversation(id).Status, outreach.ConversationPending)
	if rs := h.responses(convs[0].CampaignID, outreach.ResponsePage{}); len(rs) != 0 {
		h.Fatalf("refused updates added responses %v", rs)
	}
}

func testCommitInbox(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	id := convs[0].ID
	h.activate(base, id)
	m1 := h.inbound(1, "7", "SMin1", at(time.Minute), outreach.EventReply)
	m2 := h.inbound(1, "STOP", "SMin2", at(2*time.Minute), outreach.EventOptOut)

	now := at(3 * time.Minute)
	cl := h.claimOne(now, id)
	if len(cl.Inbox) != 2 {
		h.Fatalf("inbox = %+v, want two events", cl.Inbox)
	}
	e1, e2 := cl.Inbox[0], cl.Inbox[1]
	if e1.ID >= e2.ID || e1.MessageID != m1.ID || e2.MessageID != m2.ID ||
		e1.Kind != outreach.EventReply || e2.Kind != outreach.EventOptOut || e2.Body != "STOP" {
		h.Fatalf("inbox = %+v, want the reply then the opt-out, in ID order", cl.Inbox)
	}

	// One event handled, one left: NextAt is kept no later than now.
	u := release(set(update(cl), outreach.ConversationActive, at(time.Hour)))
	u.Processed = []int64{e1.ID}
	h.commitOK(now, u)
	h.sameTime("NextAt with an event left", h.conversation(id).NextAt, now)
	cl = h.claimOne(now, id)
	h.equal("inbox after processing the first event", cl.Inbox, []outreach.InboxEvent{e2})

	// Both handled: NextAt is as given, and nothing is due.
	u = release(set(update(cl), outreach.ConversationActive, at(time.Hour)))
	u.Processed = []int64{e2.ID, e1.ID}
	h.commitOK(now, u)
	h.sameTime("NextAt with no event left", h.conversation(id).NextAt, at(time.Hour))
	h.claimNone(now)
}

func testCommitPairBusy(h *harness) {
	_, a := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	c, b := h.campaign(outreach.CampaignRunning, conv("b1", 1, base), oneWay(conv("b2", 2, base)))
	cls := h.claim(base, 10)
	h.equal("claimed", claimIDs(cls), []int64{a[0].ID, b[0].ID, b[1].ID})

	h.commitOK(base, set(update(cls[0]), outreach.ConversationActive, at(time.Hour)))
	busy := set(update(cls[1]), outreach.ConversationActive, at(time.Hour))
	busy.Conversation.State = outreach.State{Step: "pain", Started: true}
	busy.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: b[0].ID, Step: "pain", Attempt: 1}, Body: "pain?"}}
	busy.Responses = []outreach.Response{{PatientID: "b1", QuestionID: "pain", Raw: "1", Answer: "1", RepliedAt: base}}
	res := h.commit(base, busy, finish(update(cls[2]), "completed"))
	h.wantErr("activating while the pair is busy", res[0], outreach.ErrPairBusy)
	if res[1] != nil {
		h.Fatalf("the other update of the commit: %v", res[1])
	}
	h.equal("refused conversation", h.conversation(b[0].ID), b[0])
	if ms := h.messages(b[0].ID); len(ms) != 0 {
		h.Fatalf("refused update enqueued %v", ms)
	}
	if rs := h.responses(c.ID, outreach.ResponsePage{}); len(rs) != 0 {
		h.Fatalf("refused update added responses %v", rs)
	}
	h.equal("status of the other update", h.conversation(b[1].ID).Status, outreach.ConversationDone)

	// Staying pending is fine; so is activating in a commit that first ends
	// the active conversation.
	h.commitOK(base, set(update(cls[1]), outreach.ConversationPending, base))
	h.commitOK(base, finish(update(cls[0]), "completed"), set(update(cls[1]), outreach.ConversationActive, at(time.Hour)))
	h.equal("status after the pair was freed", h.conversation(b[0].ID).Status, outreach.ConversationActive)
}

func testCancelledContext(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	cancelled, cancel := context.WithCancel(h.ctx)
	cancel()
	if _, err := h.s.ClaimDue(cancelled, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, base, 10, lease); err == nil {
		h.Fatalf("ClaimDue with a cancelled context succeeded")
	}
	cl := h.claimOne(base, convs[0].ID)
	if _, err := h.s.Commit(cancelled, base, []outreach.Update{finish(update(cl), "completed")}); err == nil {
		h.Fatalf("Commit with a cancelled context succeeded")
	}
	h.equal("conversation after a cancelled commit", h.conversation(convs[0].ID), convs[0])
	if _, err := h.s.ExtendLease(cancelled, cl.Lease, at(time.Hour)); err == nil {
		h.Fatalf("ExtendLease with a cancelled context succeeded")
	}
	if _, _, err := h.s.RecordInbound(cancelled, "", outreach.Message{From: phone(1), To: from, Body: "x", ProviderID: "SMx"}, outreach.EventReply); err == nil {
		h.Fatalf("RecordInbound with a cancelled context succeeded")
	}
	if ms := h.messages(0); len(ms) != 0 {
		h.Fatalf("cancelled RecordInbound stored %v", ms)
	}
}

// testCommitLargeBatch commits more updates at once than the other
// tests (a store may apply several in one statement): each is still
// applied, or refused alone, as in a commit of one. Four commits of 41,
// 41, 41 and 10 updates that enqueue a message each: all valid; with
// stale leases at 5 and 35; with a pair another campaign's active
// conversation holds at 10; with the same conversation twice (as in a
// commit of one after the other, both apply). Then one of 41 that
// update those messages, one of them another conversation's and one
// enqueuing a key taken.
func testCommitLargeBatch(h *harness) {
	const n = 133
	_, holder := h.campaign(outreach.CampaignRunning, conv("holder", 1000, base))
	specs := make([]outreach.Conversation, n)
	for i := range specs {
		specs[i] = conv(fmt.Sprintf("p%03d", i), i+1, at(time.Second))
	}
	specs[92] = conv("p092", 1000, at(time.Second)) // the holder's pair
	c, convs := h.campaign(outreach.CampaignRunning, specs...)
	cls := h.claim(at(time.Second), n+1)
	h.equal("claimed", claimIDs(cls), append(convIDs(holder), convIDs(convs)...))
	h.commitOK(base, set(update(cls[0]), outreach.ConversationActive, at(time.Hour)))
	cls = cls[1:]

	// ask is the update that asks conversation i a question, with a
	// response; refused says why it is refused (nil: applied).
	type ask struct {
		i       int
		u       outreach.Update
		refused error
	}
	askAt := func(i int) ask {
		cl := cls[i]
		u := set(update(cl), outreach.ConversationActive, at(time.Hour+time.Duration(i)*time.Second))
		u.Conversation.State = outreach.State{Step: "pain", Started: true, Asked: i}
		u.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: cl.Conversation.ID, Step: "pain", Attempt: 1}, Body: "pain?"}}
		u.Responses = []outreach.Response{{QuestionID: "pain", Raw: fmt.Sprint(i), Answer: fmt.Sprint(i), RepliedAt: base}}
		return ask{i: i, u: u}
	}
	var commits [][]ask
	for start := 0; start < 123; start += 41 {
		var as []ask
		for i := start; i < start+41; i++ {
			a := askAt(i)
			switch i {
			case 41 + 5, 41 + 35:
				a.u.Lease.Token = "stale"
				a.refused = outreach.ErrLeaseLost
			case 92:
				a.refused = outreach.ErrPairBusy
			}
			as = append(as, a)
		}
		commits = append(commits, as)
	}
	var twice []ask
	for i := 123; i < n; i++ {
		twice = append(twice, askAt(i))
	}
	again := set(update(cls[125]), outreach.ConversationActive, at(2*time.Hour))
	again.Conversation.State = outreach.State{Step: "again", Started: true, Asked: 125}
	twice = append(twice, ask{i: 125, u: again})
	commits = append(commits, twice)

	wantResponses := 0
	for k, as := range commits {
		updates := make([]outreach.Update, len(as))
		for j, a := range as {
			updates[j] = a.u
		}
		res := h.commit(at(2*time.Second), updates...)
		for j, a := range as {
			id := convs[a.i].ID
			what := fmt.Sprintf("commit %d, update %d (conversation %d)", k, j, a.i)
			if a.refused != nil {
				h.wantErr(what, res[j], a.refused)
				h.equal(what+": the conversation", h.conversation(id), convs[a.i])
				if ms := h.messages(id); len(ms) != 0 {
					h.Fatalf("%s enqueued %v", what, ms)
				}
				continue
			}
			if res[j] != nil {
				h.Fatalf("%s: %v", what, res[j])
			}
			if a.u.Enqueue != nil {
				wantResponses++
			}
		}
		for _, a := range as { // the last update of each conversation counts
			if a.refused != nil {
				continue
			}
			id := convs[a.i].ID
			last := a.u
			for _, b := range as {
				if b.i == a.i {
					last = b.u
				}
			}
			got := h.conversation(id)
			if got.Status != outreach.ConversationActive || got.State.Step != last.Conversation.State.Step || got.State.Asked != a.i {
				h.Fatalf("conversation %d after commit %d: status %s, state %+v; want active, %+v", a.i, k, got.Status, got.State, last.Conversation.State)
			}
			h.sameTime(fmt.Sprintf("NextAt of conversation %d", a.i), got.NextAt, last.Conversation.NextAt)
			if ms := h.messages(id); len(ms) != 1 || ms[0].Key.Step != "pain" || ms[0].To != convs[a.i].Recipient.Phone || ms[0].From != from {
				h.Fatalf("messages of conversation %d: %+v", a.i, ms)
			}
		}
	}

	// Then the 41 of the first commit again, updating the message each
	// sent: 20 names another conversation's message, 30 enqueues a key
	// it has.
	sent := make([]outreach.Update, 41)
	msgs := make([]outreach.Message, 41)
	for i := range sent {
		ms := h.messages(convs[i].ID)
		msgs[i] = ms[0]
		msgs[i].Status, msgs[i].ProviderID, msgs[i].SentAt = outreach.MessageSent, fmt.Sprintf("SM%03d", i), at(3*time.Second)
		sent[i] = release(set(update(cls[i]), outreach.ConversationActive, at(4*time.Hour)))
		sent[i].Conversation.State = outreach.State{Step: "sent", Started: true, Asked: i}
		sent[i].Messages = []outreach.Message{msgs[i]}
	}
	other := msgs[21]
	other.ProviderID = "SMother"
	sent[20].Messages = []outreach.Message{other}
	sent[30].Enqueue = []outreach.Message{{Key: msgs[30].Key, Body: "again"}}
	res := h.commit(at(3*time.Second), sent...)
	h.wantErr("update of another conversation's message", res[20], outreach.ErrNotFound)
	if res[30] == nil {
		h.Fatalf("Enqueue of an existing key succeeded")
	}
	for i := range sent {
		ms := h.messages(convs[i].ID)
		got := h.conversation(convs[i].ID)
		switch i {
		case 20, 30:
			if len(ms) != 1 || ms[0].Status == outreach.MessageSent || got.State.Step != "pain" {
				h.Fatalf("conversation %d after its refused update: %+v, messages %+v", i, got, ms)
			}
		default:
			if res[i] != nil {
				h.Fatalf("update %d of the messages' commit: %v", i, res[i])
			}
			if len(ms) != 1 || ms[0].Status != outreach.MessageSent || ms[0].ProviderID != msgs[i].ProviderID || got.State.Step != "sent" {
				h.Fatalf("conversation %d after its update: %+v, messages %+v", i, got, ms)
			}
		}
	}

	rs := h.responses(c.ID, outreach.ResponsePage{})
	if len(rs) != wantResponses {
		h.Fatalf("%d responses, want %d (none of the refused updates')", len(rs), wantResponses)
	}
	for _, r := range rs {
		if want := "p" + strings.Repeat("0", 3-len(r.Raw)) + r.Raw; r.PatientID != want {
			h.Fatalf("response %+v: the store fills in the update's patient, %s", r, want)
		}
	}
}
