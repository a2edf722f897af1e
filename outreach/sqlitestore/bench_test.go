package sqlitestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// BenchmarkClaimCommit measures the runner's dispatch cycle through the
// store, one iteration per message: claim a batch of due conversations,
// commit the intents to send (status "sending"), then commit the outcomes
// (status "sent" with the provider's id) and release. The sender itself is
// left out: this is the store's share of the dispatch throughput.
func BenchmarkClaimCommit(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, batch := range []int{100, 500} {
			b.Run(fmt.Sprintf("sync=%s/batch=%d", sync, batch), func(b *testing.B) {
				benchClaimCommit(b, sqlitestore.Options{Synchronous: sync}, batch)
			})
		}
	}
}

func benchClaimCommit(b *testing.B, opts sqlitestore.Options, batch int) {
	ctx := context.Background()
	s, err := sqlitestore.OpenOptions(ctx, filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
	convs := make([]outreach.Conversation, b.N)
	for i := range convs {
		convs[i] = outreach.Conversation{
			Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), FirstName: "Pat", Phone: fmt.Sprintf("+1440%07d", i),
				Attrs: map[string]string{"clinic": "north"}},
			TwoWay: true,
			Zones:  []string{"America/New_York"},
			NextAt: now,
		}
	}
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "bench", From: "+15005550006", Status: outreach.CampaignRunning}, convs); err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		claims, err := s.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, now, batch, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if len(claims) == 0 {
			b.Fatalf("nothing due after %d of %d", sent, b.N)
		}
		intents := make([]outreach.Update, len(claims))
		for i, cl := range claims {
			c := cl.Conversation
			c.Status = outreach.ConversationActive
			c.State = outreach.State{Step: "pain", Started: true, Waiting: true,
				Wait:     outreach.SendKey{Conversation: c.ID, Step: "pain", Attempt: 1},
				Timeout:  outreach.Duration(6 * time.Minute),
				Asked:    1,
				Attempts: map[string]int{"hello": 1, "pain": 1}}
			c.NextAt = now
			intents[i] = outreach.Update{Lease: cl.Lease, Conversation: c, Enqueue: []outreach.Message{{
				Key:    outreach.SendKey{Conversation: c.ID, Step: "pain", Attempt: 1},
				Body:   "Hi Pat, on a scale of 0-10, how is your pain?",
				Status: outreach.MessageSending, IntentAt: now,
			}}}
		}
		mustCommit(b, s, now, intents)
		outcomes := make([]outreach.Update, len(claims))
		for i, u := range intents {
			m := u.Enqueue[0]
			m.Status, m.ProviderID, m.SentAt = outreach.MessageSent, fmt.Sprint("SM", m.ID), now
			u.Conversation.NextAt = now.Add(6 * time.Minute)
			outcomes[i] = outreach.Update{Lease: u.Lease, Conversation: u.Conversation, Release: true, Messages: []outreach.Message{m}}
		}
		mustCommit(b, s, now, outcomes)
		sent += len(claims)
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}

func mustCommit(b *testing.B, s *sqlitestore.Store, now time.Time, ups []outreach.Update) {
	b.Helper()
	res, err := s.Commit(context.Background(), now, ups)
	if err != nil {
		b.Fatal(err)
	}
	for _, err := range res {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordInbound measures storing a reply and matching it to its
// active conversation, the store's share of an inbound webhook.
func BenchmarkRecordInbound(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) { benchRecordInbound(b, sqlitestore.Options{Synchronous: sync}) })
	}
}

func benchRecordInbound(b *testing.B, opts sqlitestore.Options) {
	ctx := context.Background()
	s, err := sqlitestore.OpenOptions(ctx, filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const patients = 1000
	convs := make([]outreach.Conversation, patients)
	for i := range convs {
		convs[i] = outreach.Conversation{
			Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), Phone: fmt.Sprintf("+1440%07d", i)},
			TwoWay:    true, Status: outreach.ConversationActive,
		}
	}
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "bench", From: "+15005550006", Status: outreach.CampaignRunning}, convs); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
	i := 0
	for b.Loop() {
		m := outreach.Message{From: fmt.Sprintf("+1440%07d", i%patients), To: "+15005550006", Body: "7",
			ProviderID: fmt.Sprint("SMin", i), SentAt: now}
		got, _, err := s.RecordInbound(ctx, "", m, outreach.EventReply)
		if err != nil {
			b.Fatal(err)
		}
		if got.ConversationID == 0 {
			b.Fatal("reply matched no conversation")
		}
		i++
	}
}

// BenchmarkAddConversations measures storing a campaign's recipients as
// outreach.CreateCampaignFrom does: one iteration adds a batch of
// outreach.ImportBatch conversations to a campaign that grows with each.
func BenchmarkAddConversations(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlitestore.OpenOptions(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlitestore.Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
			c, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "bench", From: "+15005550006", CreatedAt: now}, nil)
			if err != nil {
				b.Fatal(err)
			}
			batch := make([]outreach.Conversation, outreach.ImportBatch)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for i := range batch {
					batch[i] = outreach.Conversation{
						Recipient: outreach.Recipient{ID: fmt.Sprint("p", n), FirstName: "Pat", Phone: fmt.Sprintf("+1440%07d", n),
							Attrs: map[string]string{"clinic": "north"}},
						TwoWay: true, Zones: []string{"America/New_York"}, NextAt: now, CreatedAt: now,
					}
					n++
				}
				added, err := s.AddConversations(ctx, c.ID, batch)
				if err != nil || added != len(batch) {
					b.Fatalf("added %d, %v", added, err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "recipients/s")
		})
	}
}
