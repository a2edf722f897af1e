package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// benchNow is the benchmarks' "now".
var benchNow = time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)

// benchConvs returns n due two-way conversations.
func benchConvs(n int) []outreach.Conversation {
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		convs[i] = outreach.Conversation{
			Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), FirstName: "Pat", Phone: fmt.Sprintf("+1440%07d", i),
				Attrs: map[string]string{"clinic": "north"}},
			TwoWay: true,
			Zones:  []string{"America/New_York"},
			NextAt: benchNow,
		}
	}
	return convs
}

// BenchmarkClaimCommit measures the runner's dispatch cycle through the
// store, one iteration per message: claim a batch of due conversations,
// commit the intents to send (status "sending"), then commit the outcomes
// (status "sent" with the provider's id) and release. The sender itself is
// left out: this is the store's share of the dispatch throughput.
func BenchmarkClaimCommit(b *testing.B) {
	for _, batch := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchClaimCommit(b, batch) })
	}
}

func benchClaimCommit(b *testing.B, batch int) {
	ctx := context.Background()
	s := pgtest.Open(b)
	now := benchNow
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "bench", From: "+15005550006", Status: outreach.CampaignRunning}, benchConvs(b.N)); err != nil {
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

func mustCommit(b *testing.B, s *pgstore.Store, now time.Time, ups []outreach.Update) {
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

// BenchmarkCreateCampaign measures creating a campaign of 100,000
// recipients: one iteration is one campaign (COPY into a temporary table,
// then one INSERT ... SELECT).
func BenchmarkCreateCampaign(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	s := pgtest.Open(b)
	convs := benchConvs(n)
	b.ReportAllocs()
	for b.Loop() {
		_, added, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "bench", From: "+15005550006", CreatedAt: benchNow}, convs)
		if err != nil {
			b.Fatal(err)
		}
		if added != n {
			b.Fatalf("added %d; want %d", added, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "recipients/s")
}

// BenchmarkRecordInbound measures storing a reply and matching it to its
// active conversation, the store's share of an inbound webhook.
func BenchmarkRecordInbound(b *testing.B) {
	ctx := context.Background()
	s := pgtest.Open(b)
	const patients = 1000
	convs := make([]outreach.Conversation, patients)
	for i := range convs {
		convs[i] = outreach.Conversation{
			Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), Phone: fmt.Sprintf("+1440%07d", i)},
			TwoWay:    true, Status: outreach.ConversationActive,
		}
	}
	if _, _, err := s.CreateCampaign(ctx, outreach.Campaign{Name: "bench", From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: benchNow}, convs); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		m := outreach.Message{From: fmt.Sprintf("+1440%07d", i%patients), To: "+15005550006", Body: "7",
			ProviderID: fmt.Sprint("SMin", i), SentAt: benchNow}
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
