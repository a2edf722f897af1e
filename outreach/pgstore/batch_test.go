package pgstore_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// batchFrom is the sending number of the conversations of activeConvs.
const batchFrom = "+15005550006"

// activeConvs creates a running campaign of n active two-way
// conversations, the i-th with patient phone batchPhone(i) and two
// outbound messages sent, with provider ids batchSID(i) and altSID(i),
// and returns their IDs.
func activeConvs(t *testing.T, s *pgstore.Store, now time.Time, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		convs[i] = outreach.Conversation{Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), Phone: batchPhone(i)}, TwoWay: true, NextAt: now}
	}
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "batch", From: batchFrom, Status: outreach.CampaignRunning, CreatedAt: now}, convs); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimDue(ctx, outreach.Scope{}, now, n, time.Hour)
	if err != nil || len(claims) != n {
		t.Fatalf("ClaimDue: %d claims, %v", len(claims), err)
	}
	ups := make([]outreach.Update, n)
	ids := make([]int64, n)
	for _, cl := range claims {
		c := cl.Conversation
		var i int
		if _, err := fmt.Sscanf(c.Recipient.ID, "p%d", &i); err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
		c.Status, c.NextAt = outreach.ConversationActive, now.Add(24*time.Hour)
		ups[i] = outreach.Update{Lease: cl.Lease, Conversation: c, Release: true, Enqueue: []outreach.Message{{
			Key: outreach.SendKey{Conversation: c.ID, Step: "hello", Attempt: 1}, Body: "hello",
			Status: outreach.MessageSent, ProviderID: batchSID(i), SentAt: now,
		}, {
			Key: outreach.SendKey{Conversation: c.ID, Step: "pain", Attempt: 1}, Body: "pain?",
			Status: outreach.MessageSent, ProviderID: altSID(i), SentAt: now,
		}}}
	}
	if res, err := s.Commit(ctx, now, ups); err != nil || errors.Join(res...) != nil {
		t.Fatalf("Commit: %v %v", res, err)
	}
	return ids
}

func batchPhone(i int) string { return fmt.Sprintf("+1440644%04d", i) }
func batchSID(i int) string   { return fmt.Sprintf("SMout%04d", i) }
func altSID(i int) string     { return fmt.Sprintf("SMalt%04d", i) }

// reply is an inbound message from patient i with provider id sid.
func reply(i int, sid, body string, at time.Time) outreach.InboundRecord {
	return outreach.InboundRecord{
		Message: outreach.Message{From: batchPhone(i), To: batchFrom, Body: body, ProviderID: sid, SentAt: at},
		Event:   outreach.EventReply,
	}
}

// count returns the single integer that query returns.
func count(t *testing.T, s *pgstore.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestBatchAtomic: a batch whose last item fails (a text Postgres
// refuses) stores none of the items before it, neither messages nor
// inbox events nor kept statuses; the same batch without that item
// stores them all.
func TestBatchAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.Open(t)
	now := clocktest.Start(t)
	ids := activeConvs(t, s, now, 2)
	bad := "\x00" // Postgres text cannot hold NUL

	in := []outreach.InboundRecord{
		reply(0, "SMin0", "7", now),
		{Message: outreach.Message{From: batchPhone(9), To: batchFrom, Body: "who is this?", ProviderID: "SMin9", SentAt: now}},
		reply(1, "SMin1", "yes", now),
	}
	if _, err := s.RecordInbounds(ctx, "", append(in[:len(in):len(in)], reply(1, "SMin2", bad, now))); err == nil {
		t.Fatal("RecordInbounds with a NUL in a body: no error")
	}
	if n := count(t, s, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 0 {
		t.Fatalf("a failed RecordInbounds left %d inbound messages; want none", n)
	}
	if n := count(t, s, `SELECT count(*) FROM inbox`); n != 0 {
		t.Fatalf("a failed RecordInbounds left %d inbox events; want none", n)
	}
	if n := count(t, s, `SELECT coalesce(sum(inbox), 0) FROM conversations`); n != 0 {
		t.Fatalf("a failed RecordInbounds left inbox counts adding up to %d; want 0", n)
	}
	// A context cancelled before the call: nothing either.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.RecordInbounds(cancelled, "", in); err == nil {
		t.Fatal("RecordInbounds with a cancelled context: no error")
	}
	res, err := s.RecordInbounds(ctx, "", in)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.New {
			t.Errorf("item %d (%s) after the failed batch: not new", i, in[i].Message.ProviderID)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM inbox`); n != 2 {
		t.Fatalf("%d inbox events; want 2", n)
	}

	ups := []outreach.DeliveryUpdate{
		{ProviderID: batchSID(0), Status: "delivered", At: now},
		{ProviderID: batchSID(1), Status: "undelivered", ErrorCode: "30003", At: now},
		{ProviderID: "SM404", Status: "delivered", At: now},
	}
	if _, err := s.UpdateDeliveries(ctx, append(ups[:len(ups):len(ups)], outreach.DeliveryUpdate{ProviderID: batchSID(0), Status: "read", ErrorCode: bad, At: now})); err == nil {
		t.Fatal("UpdateDeliveries with a NUL in an error code: no error")
	}
	if n := count(t, s, `SELECT count(*) FROM messages WHERE direction = 'outbound' AND delivery_status <> ''`); n != 0 {
		t.Fatalf("a failed UpdateDeliveries left %d delivery statuses; want none", n)
	}
	if n := count(t, s, `SELECT count(*) FROM inbox WHERE kind = 'delivery_failed'`); n != 0 {
		t.Fatalf("a failed UpdateDeliveries left %d delivery failures; want none", n)
	}
	if n := count(t, s, `SELECT count(*) FROM pending_statuses`); n != 0 {
		t.Fatalf("a failed UpdateDeliveries kept %d statuses; want none", n)
	}
	dres, err := s.UpdateDeliveries(ctx, ups)
	if err != nil {
		t.Fatal(err)
	}
	if dres[0].Err != nil || dres[1].Err != nil || !errors.Is(dres[2].Err, outreach.ErrNotFound) {
		t.Fatalf("UpdateDeliveries results %+v; want the third alone not found", dres)
	}
	if n := count(t, s, `SELECT count(*) FROM inbox WHERE kind = 'delivery_failed' AND conversation_id = $1`, ids[1]); n != 1 {
		t.Fatalf("%d delivery failures; want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM pending_statuses WHERE provider_id = 'SM404'`); n != 1 {
		t.Fatalf("%d kept statuses of SM404; want 1", n)
	}
}

// TestBatchesConcurrent runs pairs of batches at once, through two pools
// (as two processes): on the same provider ids in opposite orders, and on
// different provider ids of the same conversations in opposite orders.
// Neither fails (no deadlock), each inbound message is stored once, and
// each conversation gets one inbox event per message and per failure.
func TestBatchesConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	s1, s2 := open(t, url), open(t, url)
	now := clocktest.Start(t)
	const n = 40
	ids := activeConvs(t, s1, now, n)

	// both runs f(s1, 0) and f(s2, 1) at once.
	both := func(f func(s *pgstore.Store, k int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k, s := range []*pgstore.Store{s1, s2} {
			wg.Go(func() { errs[k] = f(s, k) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	// order returns 0..n-1, reversed for k == 1.
	order := func(k int) []int {
		o := make([]int, n)
		for i := range o {
			o[i] = i
			if k == 1 {
				o[i] = n - 1 - i
			}
		}
		return o
	}

	for round := range 3 {
		// The same provider ids, in opposite orders.
		results := make([][]outreach.InboundResult, 2)
		both(func(s *pgstore.Store, k int) error {
			var in []outreach.InboundRecord
			for _, i := range order(k) {
				in = append(in, reply(i, fmt.Sprintf("SMsame%d-%04d", round, i), fmt.Sprint(k), now))
			}
			res, err := s.RecordInbounds(ctx, "", in)
			if err == nil && k == 1 {
				// Back to the order of batch 0.
				for i, j := 0, len(res)-1; i < j; i, j = i+1, j-1 {
					res[i], res[j] = res[j], res[i]
				}
			}
			results[k] = res
			return err
		})
		for i := range n {
			a, b := results[0][i], results[1][i]
			if a.New == b.New || a.Message.ID != b.Message.ID || a.Message.Body != b.Message.Body {
				t.Fatalf("round %d, message %d: results %+v and %+v; want one new, the same message in both", round, i, a, b)
			}
		}
		// Different provider ids, the same conversations in opposite
		// orders.
		both(func(s *pgstore.Store, k int) error {
			var in []outreach.InboundRecord
			for _, i := range order(k) {
				in = append(in, reply(i, fmt.Sprintf("SMown%d-%d-%04d", round, k, i), fmt.Sprint(k), now))
			}
			_, err := s.RecordInbounds(ctx, "", in)
			return err
		})
	}
	for i, id := range ids {
		if got := count(t, s1, `SELECT count(*) FROM messages WHERE direction = 'inbound' AND conversation_id = $1`, id); got != 9 {
			t.Fatalf("conversation %d: %d inbound messages; want 9 (3 shared, 6 own)", i, got)
		}
		if got := count(t, s1, `SELECT count(*) FROM inbox WHERE conversation_id = $1 AND kind = 'reply'`, id); got != 9 {
			t.Fatalf("conversation %d: %d reply events; want 9", i, got)
		}
	}

	// Delivery failures: of different messages of the same
	// conversations in opposite orders, then of the same messages in
	// opposite orders.
	deliver := func(sid func(k, i int) string) func(s *pgstore.Store, k int) error {
		return func(s *pgstore.Store, k int) error {
			var ups []outreach.DeliveryUpdate
			for _, i := range order(k) {
				ups = append(ups, outreach.DeliveryUpdate{ProviderID: sid(k, i), Status: "undelivered", ErrorCode: "30003", At: now})
			}
			res, err := s.UpdateDeliveries(ctx, ups)
			for _, r := range res {
				if r.Err != nil {
					return r.Err
				}
			}
			return err
		}
	}
	both(deliver(func(k, i int) string {
		if k == 1 {
			return altSID(i)
		}
		return batchSID(i)
	}))
	both(deliver(func(k, i int) string { return altSID(i) }))
	both(deliver(func(k, i int) string { return batchSID(i) }))
	if got := count(t, s1, `SELECT count(*) FROM inbox WHERE kind = 'delivery_failed'`); got != 2*n {
		t.Fatalf("%d delivery failures; want %d, one per message", got, 2*n)
	}
	if got := count(t, s1, `SELECT count(*) FROM conversations WHERE inbox <> 11`); got != 0 {
		t.Fatalf("%d conversations whose inbox count is not 11 (9 replies, 2 failures)", got)
	}
	if got := count(t, s1, `SELECT count(*) FROM messages WHERE direction = 'outbound' AND delivery_status <> 'undelivered'`); got != 0 {
		t.Fatalf("%d outbound messages not undelivered", got)
	}
}

// TestCommitLocksInIDOrder: a Commit whose updates come in the reverse
// order of their conversations' IDs (as a runner's may: by due time)
// still locks the conversations in ID order, as a reply batch does, so
// that the two at once never deadlock.
func TestCommitLocksInIDOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	s1, s2 := open(t, url), open(t, url)
	now := clocktest.Start(t)
	const n = 40
	activeConvs(t, s1, now, n)
	replies := func(tag string) []outreach.InboundRecord {
		var in []outreach.InboundRecord
		for i := range n {
			in = append(in, reply(i, fmt.Sprintf("SM%s-%04d", tag, i), "hi", now))
		}
		return in
	}
	// A reply waiting in each conversation keeps it due.
	if _, err := s2.RecordInbounds(ctx, "", replies("first")); err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		claims, err := s1.ClaimDue(ctx, outreach.Scope{}, now, n, time.Hour)
		if err != nil || len(claims) != n {
			t.Fatalf("round %d: ClaimDue: %d claims, %v", round, len(claims), err)
		}
		ups := make([]outreach.Update, n)
		for i, cl := range claims {
			ups[i] = outreach.Update{Lease: cl.Lease, Conversation: cl.Conversation, Release: true}
		}
		slices.SortFunc(ups, func(a, b outreach.Update) int {
			return cmp.Compare(b.Lease.ConversationID, a.Lease.ConversationID)
		})
		var commitErr, batchErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			res, err := s1.Commit(ctx, now, ups)
			commitErr = errors.Join(append(res, err)...)
		})
		wg.Go(func() {
			_, batchErr = s2.RecordInbounds(ctx, "", replies(fmt.Sprint("r", round)))
		})
		wg.Wait()
		if err := errors.Join(commitErr, batchErr); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
