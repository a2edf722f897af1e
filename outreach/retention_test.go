package outreach_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// retentionStores are the stores the retention tests run against.
var retentionStores = []struct {
	name string
	open func(t *testing.T) outreach.Store
}{
	{"memstore", func(*testing.T) outreach.Store { return memstore.New() }},
	{"sqlitestore", func(t *testing.T) outreach.Store {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "outreach.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// kept is what retention must keep of a campaign.
type kept struct {
	progress  outreach.Progress
	convs     []outreach.Conversation
	responses []outreach.Response // Raw cleared
	alerts    []outreach.Alert
}

func keptOf(t *testing.T, s outreach.Store, id int64, now time.Time) (kept, []outreach.Message, []outreach.Response) {
	t.Helper()
	ctx := context.Background()
	var k kept
	var err error
	if k.progress, err = s.Progress(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	if k.convs, err = s.Conversations(ctx, id, 0, 0); err != nil {
		t.Fatal(err)
	}
	if k.alerts, err = s.Alerts(ctx, id); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Responses(ctx, id, outreach.ResponsePage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		r.Raw = ""
		k.responses = append(k.responses, r)
	}
	var msgs []outreach.Message
	for _, cv := range k.convs {
		ms, err := s.Messages(ctx, cv.ID)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, ms...)
	}
	return k, msgs, rs
}

// TestRetention: with a manual clock, the bodies and replies of a
// finished campaign are gone once the period has passed since it
// finished, not before; its counts, outcomes, answers and alerts stay;
// a running campaign is untouched. Audit entries are never touched by
// PurgeContent: it changes only message and inbox bodies, raw replies
// and the campaign's PurgedAt.
func TestRetention(t *testing.T) {
	for _, st := range retentionStores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			clock := clocktest.Manual(t)
			store := st.open(t)
			t.Cleanup(func() { store.Close() })
			const from, finished, running = "+15005550006", "+14406443709", "+14406443710"
			sim := simphone.NewSimulation(store, clock, 1, outreach.RunnerOptions{
				From: from, Window: outreach.AnyHour, NoThrottle: true,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			runner, phones := sim.Runner, sim.Network
			phones.Add(finished, simphone.Persona{Responder: simphone.Scripted("my pain is 9, please call me at 808-555-0164", "9", "yes", "yes"), Delay: time.Minute})
			phones.Add(running, simphone.Persona{Silent: true})
			flow, err := flows.Builtin("provider")
			if err != nil {
				t.Fatal(err)
			}
			c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, []outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: finished}})
			if err != nil {
				t.Fatal(err)
			}
			if c, err = store.Campaign(ctx, c.ID); err != nil || c.Status != outreach.CampaignDone {
				t.Fatalf("campaign %+v, %v; want it done", c, err)
			}
			// Another campaign, started now, gets one reply and keeps running.
			other, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "still running", Flow: flow}, []outreach.Recipient{{ID: "p-2", FirstName: "Bo", Phone: running}})
			if err != nil {
				t.Fatal(err)
			}
			if err := runner.StartCampaign(ctx, other.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := runner.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			if _, err := runner.HandleInbound(ctx, outreach.InboundMessage{From: running, To: from, Body: "9", ProviderID: "SMrunning", ReceivedAt: clock.Now()}); err != nil {
				t.Fatal(err)
			}
			if _, err := runner.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if o, err := store.Campaign(ctx, other.ID); err != nil || o.Status != outreach.CampaignRunning {
				t.Fatalf("other campaign %+v, %v; want it running", o, err)
			}

			now := clock.Now()
			before, msgs, rs := keptOf(t, store, c.ID, now)
			if len(msgs) == 0 || len(rs) == 0 || len(before.alerts) == 0 || before.convs[0].State.Answers["ask_pain"] != "9" {
				t.Fatalf("the finished campaign has %d messages, %d responses, %d alerts, answers %v; want some of each",
					len(msgs), len(rs), len(before.alerts), before.convs[0].State.Answers)
			}
			otherBefore, otherMsgs, otherRs := keptOf(t, store, other.ID, now)
			if len(otherRs) != 1 || otherRs[0].Raw != "9" {
				t.Fatalf("running campaign's responses %+v; want the reply 9", otherRs)
			}

			// An audit entry about the campaign: the trail is never purged.
			entry, err := store.Append(ctx, outreach.AuditEntry{At: now, Actor: "nurse", Action: outreach.ActionResponsesExported,
				ObjectType: "campaign", ObjectID: strconv.FormatInt(c.ID, 10), Detail: "rows=4"})
			if err != nil {
				t.Fatal(err)
			}

			const period = 30 * 24 * time.Hour
			var logs bytes.Buffer
			ret := &outreach.Retention{Store: store, Period: period, Clock: clock, Batch: 1,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}

			// A day short of the period: nothing is purged.
			clock.Advance(period - 24*time.Hour)
			if res, err := ret.PurgeOnce(ctx); err != nil || len(res.Campaigns) != 0 || res.Messages != 0 {
				t.Fatalf("PurgeOnce before the period = %+v, %v; want nothing", res, err)
			}

			clock.Advance(25 * time.Hour)
			res, err := ret.PurgeOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			inbound := 0
			for _, m := range msgs {
				if m.Direction == outreach.Inbound {
					inbound++
				}
			}
			if !reflect.DeepEqual(res.Campaigns, []int64{c.ID}) || res.Messages != len(msgs) || res.Responses != len(rs) || inbound == 0 {
				t.Fatalf("PurgeOnce = %+v; want campaign %d with %d messages (%d inbound) and %d responses", res, c.ID, len(msgs), inbound, len(rs))
			}

			after, msgsAfter, rsAfter := keptOf(t, store, c.ID, now)
			if !reflect.DeepEqual(after, before) {
				t.Errorf("kept after the purge:\n%+v\nwant\n%+v", after, before)
			}
			for i, m := range msgsAfter {
				want := msgs[i]
				want.Body = ""
				if m != want {
					t.Errorf("message after the purge %+v; want %+v", m, want)
				}
			}
			for _, r := range rsAfter {
				if r.Raw != "" {
					t.Errorf("response to %s kept its reply", r.QuestionID)
				}
			}
			if trail, err := store.Audit(ctx, outreach.AuditFilter{}); err != nil || len(trail) != 1 || !reflect.DeepEqual(trail[0], entry) {
				t.Errorf("the audit trail after the purge = %+v, %v; want %+v kept", trail, err, entry)
			}
			got, err := store.Campaign(ctx, c.ID)
			if err != nil || !got.PurgedAt.Equal(clock.Now()) || got.Status != outreach.CampaignDone {
				t.Errorf("campaign after the purge %+v, %v; want done, purged at %v", got, err, clock.Now())
			}

			otherAfter, otherMsgsAfter, otherRsAfter := keptOf(t, store, other.ID, now)
			if !reflect.DeepEqual(otherAfter, otherBefore) || !reflect.DeepEqual(otherMsgsAfter, otherMsgs) || !reflect.DeepEqual(otherRsAfter, otherRs) {
				t.Errorf("the running campaign changed")
			}

			// Nothing is left; the logs (none by PurgeOnce) hold no text.
			if res, err := ret.PurgeOnce(ctx); err != nil || len(res.Campaigns) != 0 {
				t.Errorf("a second PurgeOnce = %+v, %v; want nothing", res, err)
			}
			for _, m := range msgs {
				if m.Body != "" && strings.Contains(logs.String(), m.Body) {
					t.Errorf("logs hold a message body")
				}
			}
		})
	}
}

// TestRetentionRun: Run purges at once and then every Interval on its
// clock, logging ids and counts only, and stops with its context; with
// no Period it keeps everything and returns at once.
func TestRetentionRun(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.Manual(t)
	store := memstore.New()
	defer store.Close()

	if err := (&outreach.Retention{Store: store, Clock: clock}).Run(ctx); err != nil {
		t.Fatalf("Run with no period = %v; want nil at once", err)
	}

	finish := func(body string) int64 {
		t.Helper()
		c, _, err := store.CreateCampaign(ctx, outreach.Campaign{Name: "c", Flow: &outreach.Flow{ID: "f"}, From: "+15005550006",
			DefaultZone: "UTC", CreatedAt: clock.Now()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.SetCampaignStatus(ctx, c.ID, outreach.CampaignCancelled, clock.Now()); err != nil {
			t.Fatal(err)
		}
		// An unmatched message: purged with the cutoff too.
		if _, _, err := store.RecordInbound(ctx, "", outreach.Message{From: "+14406443709", To: "+15005550006",
			Body: body, ProviderID: "SM" + body, SentAt: clock.Now()}, ""); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	first := finish("secret one")
	clock.Advance(2 * time.Hour)
	second := finish("secret two")

	var (
		mu   sync.Mutex
		logs bytes.Buffer
	)
	ret := &outreach.Retention{Store: store, Period: time.Hour, Interval: time.Hour, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ret.Run(ctx) }()

	purged := func(id int64) bool {
		c, err := store.Campaign(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return !c.PurgedAt.IsZero()
	}
	// waitTimer waits until Run sleeps on the clock: its purge is done.
	waitTimer := func() {
		t.Helper()
		for i := 0; ; i++ {
			if _, ok := clock.NextTimer(); ok {
				return
			}
			if i > 5000 {
				t.Fatal("Run never waited for its interval")
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitTimer()
	if !purged(first) || purged(second) {
		t.Fatalf("after the first purge: first purged %v, second %v; want only the first", purged(first), purged(second))
	}
	clock.Advance(time.Hour + time.Minute) // the second finished an hour and a minute ago
	waitTimer()
	if !purged(second) {
		t.Fatal("the second campaign was not purged an interval later")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if out := logs.String(); strings.Contains(out, "secret") || strings.Count(out, "retention purge") != 2 {
		t.Fatalf("logs:\n%s\nwant two purge lines and no text", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
