package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// TestCommitMixed commits, in one call, updates that succeed among
// updates that fail each in its own way: Commit first runs them without
// savepoints, and on a failure that needs undoing runs them again, each
// in a savepoint. Every update gets its own result, the good ones are
// applied (with their message IDs), the failed ones leave nothing.
func TestCommitMixed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.Open(t)
	now := clocktest.Start(t)
	const n = 6
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		convs[i] = outreach.Conversation{Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), Phone: fmt.Sprintf("+1440644%04d", i)}, TwoWay: true, NextAt: now}
	}
	// Conversation 5 shares the pair of conversation 4, in another campaign.
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "a", From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: now}, convs[:5]); err != nil {
		t.Fatal(err)
	}
	convs[5].Recipient.Phone = convs[4].Recipient.Phone
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "b", From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: now}, convs[5:]); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimDue(ctx, outreach.Scope{}, now, 10, time.Minute)
	if err != nil || len(claims) != n {
		t.Fatalf("ClaimDue: %d claims, %v", len(claims), err)
	}
	enqueue := func(cl outreach.Claim, keys ...int) outreach.Update {
		c := cl.Conversation
		c.Status, c.NextAt = outreach.ConversationActive, now.Add(time.Hour)
		u := outreach.Update{Lease: cl.Lease, Conversation: c, Release: true}
		for _, k := range keys {
			u.Enqueue = append(u.Enqueue, outreach.Message{Key: outreach.SendKey{Conversation: c.ID, Step: "pain", Attempt: k}, Body: "how is your pain?"})
		}
		return u
	}
	ups := []outreach.Update{
		enqueue(claims[0], 1),
		enqueue(claims[1], 1, 1), // a key twice
		enqueue(claims[2], 1),
		enqueue(claims[3]),
		enqueue(claims[4], 1),
		enqueue(claims[5], 1), // the pair of claims[4], now active
	}
	ups[3].Messages = []outreach.Message{{ID: 999999, Status: outreach.MessageSent}} // unknown message
	ups[2].Lease.Token += "stale"                                                    // lost lease
	res, err := s.Commit(ctx, now, ups)
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, errors.New("key"), outreach.ErrLeaseLost, outreach.ErrNotFound, nil, outreach.ErrPairBusy}
	for i, w := range want {
		switch {
		case w == nil && res[i] != nil:
			t.Errorf("update %d: %v; want success", i, res[i])
		case w != nil && res[i] == nil:
			t.Errorf("update %d succeeded; want an error like %v", i, w)
		case w != nil && w.Error() != "key" && !errors.Is(res[i], w):
			t.Errorf("update %d: %v; want %v", i, res[i], w)
		}
	}
	for i, u := range ups {
		for _, m := range u.Enqueue {
			if (res[i] == nil) != (m.ID != 0) {
				t.Errorf("update %d (result %v): message ID %d", i, res[i], m.ID)
			}
		}
		c, err := s.Conversation(ctx, u.Lease.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := s.Messages(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if applied := c.Status == outreach.ConversationActive; applied != (res[i] == nil) || (len(ms) > 0) != (res[i] == nil && len(u.Enqueue) > 0) {
			t.Errorf("update %d (result %v): status %s, %d messages", i, res[i], c.Status, len(ms))
		}
	}
}
