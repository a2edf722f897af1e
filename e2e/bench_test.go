package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// nopSender accepts every message and does nothing.
type nopSender struct{ n int }

func (s *nopSender) Send(context.Context, outreach.OutboundMessage) (string, error) {
	s.n++
	return fmt.Sprintf("SM%032d", s.n), nil
}

func (s *nopSender) Lookup(context.Context, outreach.OutboundMessage, time.Time) (string, bool, error) {
	return "", false, nil
}

// benchRecipients returns n recipients with distinct valid numbers in one
// zone, without the cost of parsing them.
func benchRecipients(n int) []outreach.Recipient {
	recs := make([]outreach.Recipient, n)
	for i := range recs {
		recs[i] = outreach.Recipient{
			ID: fmt.Sprintf("P%07d", i), FirstName: "Pat",
			Phone: fmt.Sprintf("+1212%03d%04d", 200+i/10000, i%10000), TimeZone: "America/New_York",
		}
	}
	return recs
}

func oneWay(sends int) *outreach.Flow {
	f := &outreach.Flow{ID: "bench"}
	for i := range sends {
		st := outreach.Step{ID: fmt.Sprintf("s%d", i), Kind: outreach.StepSend, Body: "Hello {{recipient.first_name}}, this is message " + fmt.Sprint(i)}
		if i+1 < sends {
			st.Next = fmt.Sprintf("s%d", i+1)
		}
		f.Steps = append(f.Steps, st)
	}
	return f
}

// BenchmarkDispatch measures the runner's throughput through the SQLite
// store (synchronous=FULL) with throttling off and a sender that does
// nothing: 2,000 recipients, 2 messages each, per iteration.
func BenchmarkDispatch(b *testing.B) {
	ctx := context.Background()
	const recipients, perRecipient = 2000, 2
	noon := time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)
	var total time.Duration
	msgs := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		store, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("d%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		snd := &nopSender{}
		r := outreach.NewRunner(store, snd, outreach.RunnerOptions{From: from, Clock: outreach.NewManualClock(noon), NoThrottle: true, Logger: quiet})
		c, _, err := r.CreateCampaign(ctx, outreach.NewCampaign{Name: "bench", Flow: oneWay(perRecipient)}, benchRecipients(recipients))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.StartCampaign(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := r.Tick(ctx); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		if snd.n != recipients*perRecipient {
			b.Fatalf("sent %d, want %d", snd.n, recipients*perRecipient)
		}
		msgs += snd.n
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(msgs)/total.Seconds(), "msgs/s")
}

// BenchmarkHandleInbound measures HandleInbound on the SQLite store, with
// synchronous FULL (the default) and NORMAL, a reply matched to an
// active conversation each time, and reports its latency percentiles.
func BenchmarkHandleInbound(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) { benchHandleInbound(b, sync) })
	}
}

func benchHandleInbound(b *testing.B, sync string) {
	ctx := context.Background()
	noon := time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)
	store, err := sqlitestore.OpenOptions(ctx, filepath.Join(b.TempDir(), "in.db"), sqlitestore.Options{Synchronous: sync})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	const n = 2000
	flow := &outreach.Flow{ID: "ask", Steps: []outreach.Step{
		{ID: "q", Kind: outreach.StepAsk, Body: "How are you?", Next: "end"},
		{ID: "end", Kind: outreach.StepEnd},
	}}
	r := outreach.NewRunner(store, &nopSender{}, outreach.RunnerOptions{From: from, Clock: outreach.NewManualClock(noon), NoThrottle: true, Logger: quiet})
	recs := benchRecipients(n)
	c, _, err := r.CreateCampaign(ctx, outreach.NewCampaign{Name: "bench", Flow: flow}, recs)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.StartCampaign(ctx, c.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		in := outreach.InboundMessage{From: recs[i%n].Phone, To: from, Body: "fine thanks", ProviderID: fmt.Sprintf("SMin%09d", i), ReceivedAt: noon}
		start := time.Now()
		if _, err := r.HandleInbound(ctx, in); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds()), "p99.9-µs")
}
