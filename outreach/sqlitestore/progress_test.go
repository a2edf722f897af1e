package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// TestProgressBySpans checks that Progress counts the same whatever the
// span of ids it counts at a time, spans ending inside, between and
// after the campaign's rows included, with another campaign's rows
// interleaved.
func TestProgressBySpans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "outreach.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)
	var ids []int64
	for c := range 2 {
		camp, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: fmt.Sprint("c", c), From: "+15005550006", Status: outreach.CampaignRunning}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, camp.ID)
	}
	// The two campaigns' conversations alternate in id order.
	for i := range 11 {
		for c, id := range ids {
			conv := outreach.Conversation{Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), FirstName: "Pat", Phone: fmt.Sprintf("+1440555%04d", 100*c+i)}, NextAt: now}
			if _, err := s.AddConversations(ctx, id, []outreach.Conversation{conv}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Claims take the conversations in id order (all are due at once):
	// each gets a message, queued (some for later) or sending, and some
	// end with an outcome. The campaigns' messages alternate too.
	for round := range 3 {
		claims, err := s.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, now, 7, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		ups := make([]outreach.Update, len(claims))
		for i, cl := range claims {
			c := cl.Conversation
			c.Status, c.NextAt = outreach.ConversationActive, now.Add(time.Hour)
			st := outreach.MessageSending
			switch i % 3 {
			case 0: // its message is stored cancelled
				c.Status, c.Outcome, c.NextAt = outreach.ConversationDone, fmt.Sprint("outcome", round%2), time.Time{}
			case 1:
				st = outreach.MessageQueued
			}
			ups[i] = outreach.Update{Lease: cl.Lease, Conversation: c, Release: true, Enqueue: []outreach.Message{{
				Key: outreach.SendKey{Conversation: c.ID, Step: "hello", Attempt: 1}, Body: "Hello", Status: st, IntentAt: now, SendAfter: now.Add(time.Duration(i) * time.Minute)}}}
		}
		if res, err := s.Commit(ctx, now, ups); err != nil {
			t.Fatal(err, res)
		}
	}
	defer func(span int64) { progressSpan = span }(progressSpan)
	for _, id := range ids {
		progressSpan = 1 << 16
		want, err := s.Progress(ctx, id, now.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if want.Total != 11 || want.Done == 0 || want.Messages[outreach.MessageQueued] == 0 || want.Deferred == 0 {
			t.Fatalf("campaign %d: progress %+v: want 11 conversations, some done, some messages queued for later", id, want)
		}
		for _, span := range []int64{1, 2, 3, 5, 10, 11, 22} {
			progressSpan = span
			got, err := s.Progress(ctx, id, now.Add(2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("campaign %d, span %d: progress %+v, want %+v", id, span, got, want)
			}
		}
	}
}
