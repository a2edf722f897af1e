package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// TestPendingStatusTwoPools races, for each of many messages, a status
// callback taken by one process (UpdateDelivery) against the Commit of
// another that records the message's provider id: whichever comes first,
// the status is applied, never lost between the two.
func TestPendingStatusTwoPools(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	s1, s2 := open(t, url), open(t, url)
	now := clocktest.Start(t)
	const n = 60
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		convs[i] = outreach.Conversation{Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), Phone: fmt.Sprintf("+1440%07d", i)}, NextAt: now}
	}
	if _, _, err := s1.CreateCampaign(ctx, outreach.Campaign{Name: "pending", From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: now}, convs); err != nil {
		t.Fatal(err)
	}
	claims, err := s1.ClaimDue(ctx, outreach.Scope{}, now, n, time.Hour)
	if err != nil || len(claims) != n {
		t.Fatalf("ClaimDue: %d claims, %v", len(claims), err)
	}
	ups := make([]outreach.Update, n)
	for i, cl := range claims {
		c := cl.Conversation
		c.Status = outreach.ConversationActive
		ups[i] = outreach.Update{Lease: cl.Lease, Conversation: c, Enqueue: []outreach.Message{
			{Key: outreach.SendKey{Conversation: c.ID, Step: "hello", Attempt: 1}, Body: "hello", Status: outreach.MessageSending},
		}}
	}
	if res, err := s1.Commit(ctx, now, ups); err != nil || errors.Join(res...) != nil {
		t.Fatalf("Commit: %v %v", res, err)
	}

	var wg sync.WaitGroup
	for i := range ups {
		sid := fmt.Sprintf("SMrace%03d", i)
		wg.Go(func() {
			_, err := s2.UpdateDelivery(ctx, sid, "delivered", "", now)
			if err != nil && !errors.Is(err, outreach.ErrNotFound) {
				t.Error(err)
			}
		})
		wg.Go(func() {
			u := ups[i]
			m := u.Enqueue[0]
			m.Status, m.ProviderID, m.SentAt = outreach.MessageSent, sid, now
			u.Enqueue, u.Messages, u.Release = nil, []outreach.Message{m}, true
			if res, err := s1.Commit(ctx, now.Add(time.Second), []outreach.Update{u}); err != nil || res[0] != nil {
				t.Errorf("Commit of %s: %v %v", sid, res, err)
			}
		})
	}
	wg.Wait()
	for i, u := range ups {
		ms, err := s1.Messages(ctx, u.Lease.ConversationID)
		if err != nil || len(ms) != 1 {
			t.Fatalf("messages of conversation %d: %v %v", u.Lease.ConversationID, ms, err)
		}
		if ms[0].DeliveryStatus != "delivered" {
			t.Errorf("message %d (SMrace%03d): delivery status %q; want delivered", ms[0].ID, i, ms[0].DeliveryStatus)
		}
	}
}
