package twiliosms_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

// BenchmarkSend measures messages/s through the Sender to the fake
// Twilio over loopback, from 8 goroutines (the runner sends a batch
// concurrently), with no throttling.
func BenchmarkSend(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	b.SetParallelism(8)
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.sender.Send(ctx, msg("Your visit is tomorrow at 9.")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "msgs/s")
}

// BenchmarkInboundWebhook measures the latency of signed inbound webhooks
// through InboundHandler to a real runner on the memory store, over
// loopback, from a loop that sends at most 500 requests/s.
func BenchmarkInboundWebhook(b *testing.B) {
	store := memstore.New()
	defer store.Close()
	runner := outreach.NewRunner(store, nil, outreach.RunnerOptions{Clock: clocktest.Manual(b), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h, err := twiliosms.InboundHandler(runner, twiliosms.WebhookConfig{AuthToken: token, PublicURL: smsURL})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	hc := srv.Client()
	tick := time.NewTicker(2 * time.Millisecond) // 500/s
	defer tick.Stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		p := inboundParams("7")
		p.Set("MessageSid", "SM"+strconv.Itoa(i))
		req, err := twiliotest.NewWebhookRequest(context.Background(), token, smsURL, p)
		if err != nil {
			b.Fatal(err)
		}
		u, _ := url.Parse(srv.URL)
		req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, ""
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("answered %d", resp.StatusCode)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
