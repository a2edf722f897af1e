package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func testClaimDue(h *harness) {
	done := conv("done", 6, at(-3*time.Minute))
	done.Status, done.Outcome = outreach.ConversationDone, "completed"
	_, convs := h.campaign(outreach.CampaignRunning,
		conv("b", 2, at(-time.Minute)),
		conv("c", 3, base),
		conv("a", 1, at(-2*time.Minute)),
		conv("later", 4, at(time.Second)),
		conv("never", 5, time.Time{}),
		done,
	)
	paused, pausedConvs := h.campaign(outreach.CampaignPaused, conv("paused", 7, at(-5*time.Minute)))
	h.campaign(outreach.CampaignDraft, conv("draft", 8, at(-5*time.Minute)))
	h.campaign(outreach.CampaignCancelled, conv("cancelled", 9, at(-5*time.Minute)))

	if cls, err := h.s.ClaimDue(h.ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, base, 0, lease); err != nil || len(cls) != 0 {
		h.Fatalf("ClaimDue with limit 0 = %v, %v; want nothing", claimIDs(cls), err)
	}
	if _, err := h.s.ClaimDue(h.ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, base, 10, 0); err == nil {
		h.Fatalf("ClaimDue with a zero lease succeeded")
	}

	first := h.claim(base, 2)
	h.equal("first claim, in NextAt order", claimIDs(first), []int64{convs[2].ID, convs[0].ID})
	tokens := map[string]bool{}
	for i, cl := range first {
		if cl.Lease.Token == "" || tokens[cl.Lease.Token] {
			h.Fatalf("lease tokens %q are not distinct and non-empty", cl.Lease.Token)
		}
		tokens[cl.Lease.Token] = true
		h.sameTime("lease expiry", cl.Lease.Expires, base.Add(lease))
		want := convs[2-2*i]
		h.equal("claimed conversation", cl.Conversation, want)
		if len(cl.Pending) != 0 || len(cl.Inbox) != 0 {
			h.Fatalf("claim of a new conversation has pending %v, inbox %v", cl.Pending, cl.Inbox)
		}
	}
	h.equal("second claim", claimIDs(h.claim(base, 10)), []int64{convs[1].ID})
	h.claimNone(base)

	// Resuming a paused campaign makes its due conversations claimable.
	if err := h.s.SetCampaignStatus(h.ctx, paused.ID, outreach.CampaignRunning, base); err != nil {
		h.Fatalf("resume: %v", err)
	}
	h.equal("claim after resume", claimIDs(h.claim(base, 10)), []int64{pausedConvs[0].ID})
	h.equal("claim a second later", claimIDs(h.claim(at(time.Second), 10)), []int64{convs[3].ID})
}

func testClaimDueInbox(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("p1", 1, base), conv("p2", 2, at(time.Second)))
	h.activate(base, convs[0].ID)
	h.end(at(time.Second), convs[1].ID, "completed")
	h.claimNone(at(time.Hour))

	// A reply makes the conversation due, even one received "after" now
	// (the webhook and the runner need not share a clock).
	m := h.inbound(1, "7", "SMin1", at(10*time.Second), outreach.EventReply)
	cl := h.claimOne(base, convs[0].ID)
	if len(cl.Inbox) != 1 {
		h.Fatalf("inbox = %+v, want one event", cl.Inbox)
	}
	ev := cl.Inbox[0]
	if ev.ID <= 0 {
		h.Fatalf("inbox event ID = %d, want one assigned", ev.ID)
	}
	h.equal("inbox event", ev, outreach.InboxEvent{
		ID: ev.ID, ConversationID: convs[0].ID, Kind: outreach.EventReply, MessageID: m.ID, Body: "7", At: at(10 * time.Second),
	})
}

func testClaimDuePairRule(h *harness) {
	_, a := h.campaign(outreach.CampaignRunning, conv("a", 1, base))
	cl := h.claimOne(base, a[0].ID)
	h.commitOK(base, release(set(update(cl), outreach.ConversationActive, at(time.Hour))))

	sibling := conv("b1", 1, base)
	otherNumber := conv("b3", 1, base)
	otherNumber.From = "+15005550009"
	_, b := h.campaign(outreach.CampaignRunning, sibling, oneWay(conv("b2", 1, base)), otherNumber, conv("b4", 2, base))

	cls := h.claim(base, 10)
	h.equal("claimed while the pair is busy", claimIDs(cls), []int64{b[1].ID, b[2].ID, b[3].ID})
	var ups []outreach.Update
	for _, cl := range cls {
		ups = append(ups, release(set(update(cl), outreach.ConversationActive, time.Time{})))
	}
	h.commitOK(base, ups...)
	h.claimNone(at(30 * time.Minute))

	// Once the active conversation ends, the waiting one is due.
	cl = h.claimOne(at(time.Hour), a[0].ID)
	h.commitOK(at(time.Hour), finish(update(cl), "completed"))
	h.claimOne(at(time.Hour), b[0].ID)
}

func testNextDue(h *harness) {
	next := func(now, want time.Time) {
		h.Helper()
		got, ok, err := h.s.NextDue(h.ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, now)
		if err != nil {
			h.Fatalf("NextDue: %v", err)
		}
		if ok != !want.IsZero() || !got.Equal(want) {
			h.Fatalf("NextDue(%v) = %v, %v; want %v", now, got, ok, want)
		}
	}
	next(base, time.Time{})

	_, convs := h.campaign(outreach.CampaignRunning, conv("a", 1, at(10*time.Minute)), conv("b", 2, at(5*time.Minute)), conv("c", 3, time.Time{}))
	h.campaign(outreach.CampaignPaused, conv("paused", 4, at(time.Minute)))
	h.campaign(outreach.CampaignDraft, conv("draft", 5, at(time.Minute)))
	next(base, at(5*time.Minute))

	// A leased conversation counts from its lease's expiry.
	cl := h.claimOne(at(5*time.Minute), convs[1].ID)
	next(at(5*time.Minute), at(5*time.Minute).Add(lease))
	h.commitOK(at(5*time.Minute), release(set(update(cl), outreach.ConversationActive, time.Time{})))
	next(at(5*time.Minute), at(10*time.Minute))

	// A pending two-way conversation waiting for its pair does not count.
	h.campaign(outreach.CampaignRunning, conv("waiting", 2, at(time.Minute)))
	next(at(5*time.Minute), at(10*time.Minute))

	// An unprocessed inbox event counts as now.
	h.inbound(2, "yes", "SMin1", base, outreach.EventReply)
	next(at(7*time.Minute), at(7*time.Minute))
}

func testLease(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("p1", 1, base))
	id := convs[0].ID
	cl := h.claimOne(base, id)
	h.equal("lease", cl.Lease, outreach.Lease{ConversationID: id, Token: cl.Lease.Token, Expires: base.Add(lease)})
	h.claimNone(at(30 * time.Second))

	l, err := h.s.ExtendLease(h.ctx, cl.Lease, at(5*time.Minute))
	if err != nil {
		h.Fatalf("ExtendLease: %v", err)
	}
	h.equal("extended lease", l, outreach.Lease{ConversationID: id, Token: cl.Lease.Token, Expires: at(5 * time.Minute)})
	h.claimNone(at(2 * time.Minute))
	for _, bad := range []outreach.Lease{
		{ConversationID: id, Token: "not-the-token", Expires: at(time.Hour)},
		{ConversationID: id, Expires: at(time.Hour)},
		{ConversationID: id + 100, Token: cl.Lease.Token, Expires: at(time.Hour)},
	} {
		_, err := h.s.ExtendLease(h.ctx, bad, at(time.Hour))
		h.wantErr(fmt.Sprintf("ExtendLease(%+v)", bad), err, outreach.ErrLeaseLost)
	}
	h.claimNone(at(2 * time.Minute))

	// Releasing gives the conversation up at once, and the lease is gone.
	h.commitOK(at(2*time.Minute), release(update(cl)))
	again := h.claimOne(at(2*time.Minute), id)
	if again.Lease.Token == cl.Lease.Token {
		h.Fatalf("a new claim reused the token %q", cl.Lease.Token)
	}
	h.wantErr("Commit under a released lease", h.commit(at(2*time.Minute), update(cl))[0], outreach.ErrLeaseLost)
}

func testLeaseTakeover(h *harness) {
	_, convs := h.campaign(outreach.CampaignRunning, conv("p1", 1, base))
	id := convs[0].ID
	first := h.claimOne(base, id)
	h.claimNone(at(59 * time.Second))

	// The first holder stalls past its lease; another worker takes over.
	second := h.claimOne(at(2*time.Minute), id)
	if second.Lease.Token == first.Lease.Token {
		h.Fatalf("takeover reused the token %q", first.Lease.Token)
	}
	h.sameTime("new expiry", second.Lease.Expires, at(2*time.Minute).Add(lease))

	stale := set(update(first), outreach.ConversationActive, at(time.Hour))
	stale.Enqueue = []outreach.Message{{Key: outreach.SendKey{Conversation: id, Step: "pain", Attempt: 1}, Body: "stale"}}
	stale.Responses = []outreach.Response{{QuestionID: "pain", Raw: "1", Answer: "1", RepliedAt: base}}
	h.wantErr("Commit of the first holder", h.commit(at(2*time.Minute), stale)[0], outreach.ErrLeaseLost)
	_, err := h.s.ExtendLease(h.ctx, first.Lease, at(time.Hour))
	h.wantErr("ExtendLease of the first holder", err, outreach.ErrLeaseLost)
	h.equal("conversation after the stale commit", h.conversation(id), convs[0])
	if ms := h.messages(id); len(ms) != 0 {
		h.Fatalf("stale commit enqueued %v", ms)
	}
	if stale.Enqueue[0].ID != 0 {
		h.Fatalf("stale commit assigned message ID %d", stale.Enqueue[0].ID)
	}

	h.commitOK(at(2*time.Minute), finish(update(second), "completed"))
	h.equal("outcome of the new holder", h.conversation(id).Outcome, "completed")
}

func testConcurrentClaims(h *harness) {
	const n, workers = 500, 8
	var convs []outreach.Conversation
	for i := range n {
		convs = append(convs, conv(fmt.Sprint("p", i), i, at(-time.Duration(i%7)*time.Second)))
	}
	_, stored := h.campaign(outreach.CampaignRunning, convs...)

	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		errs    []error
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				cls, err := h.s.ClaimDue(h.ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, base, 10, time.Hour)
				if err == nil && len(cls) > 0 {
					var ups []outreach.Update
					for _, cl := range cls {
						ups = append(ups, release(set(update(cl), cl.Conversation.Status, time.Time{})))
					}
					var res []error
					res, err = h.s.Commit(h.ctx, base, ups)
					for _, e := range res {
						err = cmpErr(err, e)
					}
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, cl := range cls {
					claimed[cl.Lease.ConversationID]++
				}
				mu.Unlock()
				if err != nil || len(cls) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		h.Fatalf("concurrent claims failed: %v", errs)
	}
	for _, c := range stored {
		if claimed[c.ID] != 1 {
			h.Errorf("conversation %d claimed %d times, want once", c.ID, claimed[c.ID])
		}
	}
	if len(claimed) != n {
		h.Fatalf("%d conversations claimed, want %d", len(claimed), n)
	}
}

// cmpErr returns the first non-nil of a and b.
func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
