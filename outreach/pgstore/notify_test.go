package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// wait is how long a test waits for a notification (real time: a
// timeout, not a clock the store sees).
const wait = 10 * time.Second

// waitWake fails unless ch receives within wait.
func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the wake channel closed", what)
		}
	case <-time.After(wait):
		t.Fatalf("%s: no wake within %v", what, wait)
	}
}

// TestNotifyInbound: a reply recorded through a second store (another
// pool, as another process would) on the same database wakes the first
// store's listener; so does a listener that reconnects after its
// connection was killed.
func TestNotifyInbound(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	url := pgtest.URL(t)
	listener, writer := open(t, url), open(t, url)
	now := clocktest.Start(t)
	const patient, from = "+14406443701", "+15005550006"
	if _, _, err := writer.CreateCampaign(ctx, outreach.Campaign{Name: "n", From: from, Status: outreach.CampaignRunning, CreatedAt: now},
		[]outreach.Conversation{{Recipient: outreach.Recipient{ID: "p1", Phone: patient}, TwoWay: true, Status: outreach.ConversationActive}}); err != nil {
		t.Fatal(err)
	}

	wake := listener.Wake(ctx)
	waitWake(t, wake, "listening") // the first wake says it listens
	drain(wake)

	reply := func(id string) {
		t.Helper()
		m, _, err := writer.RecordInbound(ctx, "", outreach.Message{From: patient, To: from, Body: "7", ProviderID: id, SentAt: now}, outreach.EventReply)
		if err != nil || m.ConversationID == 0 {
			t.Fatalf("RecordInbound: conversation %d, %v", m.ConversationID, err)
		}
	}
	reply("SM1")
	waitWake(t, wake, "after RecordInbound")

	// Kill the listening connection: the listener reconnects, wakes once
	// (work may have come meanwhile), and hears the next reply.
	var killed int
	err := writer.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query = 'LISTEN "' || $1 || '"'`, listener.Channel()).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminate the listener's connection: %d killed, %v", killed, err)
	}
	waitWake(t, wake, "after reconnecting")
	drain(wake)
	reply("SM2")
	waitWake(t, wake, "after RecordInbound, reconnected")

	cancel()
	select {
	case <-drainClosed(wake):
	case <-time.After(wait):
		t.Fatal("the wake channel is still open after cancel")
	}
}

// TestNotifyCampaignStart: starting a campaign wakes a listener.
func TestNotifyCampaignStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.URL(t)
	listener, writer := open(t, url), open(t, url)
	now := clocktest.Start(t)
	c, _, err := writer.CreateCampaign(ctx, outreach.Campaign{Name: "n", From: "+15005550006", CreatedAt: now},
		[]outreach.Conversation{{Recipient: outreach.Recipient{ID: "p1", Phone: "+14406443701"}, NextAt: now}})
	if err != nil {
		t.Fatal(err)
	}
	wake := listener.Wake(ctx)
	waitWake(t, wake, "listening")
	drain(wake)
	if err := writer.SetCampaignStatus(ctx, c.ID, outreach.CampaignRunning, now); err != nil {
		t.Fatal(err)
	}
	waitWake(t, wake, "after the campaign started")
}

// drain empties ch without blocking.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// drainClosed returns a channel closed once ch is closed.
func drainClosed(ch <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	return done
}

// BenchmarkWakeLatency measures how long after a reply is recorded
// through one store (another process) a second store's listener wakes:
// what LISTEN/NOTIFY saves over polling, whose wait is half the poll
// interval on average (500 ms at the runner's default 1 s).
func BenchmarkWakeLatency(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.URL(b)
	listener, writer := open(b, url), open(b, url)
	now := clocktest.Start(b)
	const patient, from = "+14406443701", "+15005550006"
	if _, _, err := writer.CreateCampaign(ctx, outreach.Campaign{Name: "n", From: from, Status: outreach.CampaignRunning, CreatedAt: now},
		[]outreach.Conversation{{Recipient: outreach.Recipient{ID: "p1", Phone: patient}, TwoWay: true, Status: outreach.ConversationActive}}); err != nil {
		b.Fatal(err)
	}
	wake := listener.Wake(ctx)
	<-wake // listening
	var total time.Duration
	i := 0
	for b.Loop() {
		drain(wake)
		i++
		start := time.Now()
		if _, _, err := writer.RecordInbound(ctx, "", outreach.Message{From: patient, To: from, Body: "7", ProviderID: fmt.Sprintf("SM%d", i), SentAt: now}, outreach.EventReply); err != nil {
			b.Fatal(err)
		}
		select {
		case <-wake:
		case <-time.After(wait):
			b.Fatal("no wake")
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(i), "µs/wake")
}
