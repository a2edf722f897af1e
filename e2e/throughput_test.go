package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// BenchmarkDispatchProcesses measures the dispatch throughput of 1, 2 and
// 4 worker processes on one Postgres database, with a sender that does
// nothing and no throttle: 20,000 recipients of a two-message one-way
// flow per iteration, from StartCampaign to the campaign being done.
//
//	OUTREACH_TEST_POSTGRES=... go test -run '^$' -bench DispatchProcesses -benchtime 1x ./e2e/
func BenchmarkDispatchProcesses(b *testing.B) {
	pgtest.BaseURL(b)
	const recipients, sends = 20000, 2
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var total time.Duration
			msgs := 0
			for b.Loop() {
				b.StopTimer()
				ctx := context.Background()
				u := pgtest.URL(b)
				store, err := pgstore.Open(ctx, u)
				if err != nil {
					b.Fatal(err)
				}
				clock := clocktest.Real(b)
				admin := outreach.NewRunner(store, nullSender{}, outreach.RunnerOptions{From: from, Clock: clock, Window: outreach.AnyHour, NoThrottle: true, Logger: quiet})
				c, _, err := admin.CreateCampaign(ctx, outreach.NewCampaign{Name: "throughput", Flow: oneWay(sends)}, benchRecipients(recipients))
				if err != nil {
					b.Fatal(err)
				}
				dir := b.TempDir()
				ws := make([]*child, workers)
				for i := range ws {
					ws[i] = startChild(b, dir, fmt.Sprintf("worker%d", i), "worker",
						envStore+"=postgres:"+u, envClock+"="+clockSpec(clock), envNull+"=0s",
						envRunners+"=2m 30s 30s 200 100ms")
				}
				time.Sleep(500 * time.Millisecond) // let them start and poll
				b.StartTimer()
				start := time.Now()
				if err := admin.StartCampaign(ctx, c.ID); err != nil {
					b.Fatal(err)
				}
				for {
					got, err := store.Campaign(ctx, c.ID)
					if err != nil {
						b.Fatal(err)
					}
					if got.Status == outreach.CampaignDone {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				total += time.Since(start)
				b.StopTimer()
				p, err := store.Progress(ctx, c.ID, clock.Now())
				if err != nil {
					b.Fatal(err)
				}
				if p.Messages[outreach.MessageSent] != recipients*sends {
					b.Fatalf("messages %v; want %d sent", p.Messages, recipients*sends)
				}
				msgs += recipients * sends
				for _, w := range ws {
					w.stop(b)
				}
				store.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(msgs)/total.Seconds(), "msgs/s")
		})
	}
}

// TestLeaseTakeover kills a worker process that holds claims on a
// Postgres database and measures how long until another worker has taken
// every conversation it held: the lease (2s here) and a poll.
func TestLeaseTakeover(t *testing.T) {
	skipProcesses(t)
	ctx := context.Background()
	name, u := pgtest.Schema(t)
	_ = name
	store, err := pgstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := clocktest.Real(t)
	admin := outreach.NewRunner(store, nullSender{}, outreach.RunnerOptions{From: from, Clock: clock, Window: outreach.AnyHour, NoThrottle: true, Logger: quiet})
	c, _, err := admin.CreateCampaign(ctx, outreach.NewCampaign{Name: "takeover", Flow: oneWay(1)}, benchRecipients(2000))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Each send takes 5ms: a batch of 200 holds its claims for a second.
	worker := func(name string) *child {
		return startChild(t, dir, name, "worker", envStore+"=postgres:"+u, envClock+"="+clockSpec(clock),
			envNull+"=5ms", envRunners+"=2s 500ms 1s 200 100ms")
	}
	a := worker("a")
	if err := admin.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	held := func() map[int64]string {
		rows, err := store.Pool().Query(ctx, `SELECT id, lease_token FROM conversations
			WHERE campaign_id = $1 AND status <> 'done' AND lease_token <> '' AND lease_until > $2`, c.ID, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[int64]string{}
		for rows.Next() {
			var id int64
			var tok string
			if err := rows.Scan(&id, &tok); err != nil {
				t.Fatal(err)
			}
			m[id] = tok
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	var before map[int64]string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("worker a never held claims")
		}
		if before = held(); len(before) >= 50 {
			break
		}
	}
	a.kill9(t)
	killed := time.Now()
	before = held() // what a held when it died
	b := worker("b")
	defer b.stop(t)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the killed worker's claims were not taken over within 20s")
		}
		rows, err := store.Pool().Query(ctx, `SELECT id, lease_token, status FROM conversations WHERE campaign_id = $1`, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for rows.Next() {
			var id int64
			var tok, status string
			if err := rows.Scan(&id, &tok, &status); err != nil {
				t.Fatal(err)
			}
			if old, ok := before[id]; ok && tok == old && status != "done" {
				left++
			}
		}
		rows.Close()
		if left == 0 {
			break
		}
	}
	took := time.Since(killed)
	t.Logf("worker b took over the %d conversations killed worker a held in %v (lease 2s, poll 100ms)", len(before), took.Round(time.Millisecond))
	if took > 4*time.Second {
		t.Errorf("takeover took %v; want about the lease, 2s", took)
	}
}
