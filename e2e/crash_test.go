package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

var errCrashed = errors.New("process crashed")

// crashingStore is a store whose process dies: once crashed, every call
// fails, as if the process were gone, and nothing more reaches the file.
type crashingStore struct {
	outreach.Store
	crashed atomic.Bool
}

func (s *crashingStore) Commit(ctx context.Context, now time.Time, u []outreach.Update) ([]error, error) {
	if s.crashed.Load() {
		return nil, errCrashed
	}
	return s.Store.Commit(ctx, now, u)
}

func (s *crashingStore) ClaimDue(ctx context.Context, scope outreach.Scope, now time.Time, limit int, lease time.Duration) ([]outreach.Claim, error) {
	if s.crashed.Load() {
		return nil, errCrashed
	}
	return s.Store.ClaimDue(ctx, scope, now, limit, lease)
}

func (s *crashingStore) SetOptOut(ctx context.Context, world, phone string, opted bool, at time.Time) error {
	if s.crashed.Load() {
		return errCrashed
	}
	return s.Store.SetOptOut(ctx, world, phone, opted, at)
}

// crashingSender crashes the process during its n-th send: after the
// provider accepted the message (accepted) or before.
type crashingSender struct {
	outreach.Sender
	store    *crashingStore
	n        int
	accepted bool
	calls    int
}

func (s *crashingSender) Send(ctx context.Context, m outreach.OutboundMessage) (string, error) {
	s.calls++
	if s.calls != s.n {
		return s.Sender.Send(ctx, m)
	}
	if s.accepted {
		if _, err := s.Sender.Send(ctx, m); err != nil {
			return "", err
		}
	}
	s.store.crashed.Store(true)
	return "", errCrashed
}

// TestCrashBetweenIntentAndOutcome stops the runner abruptly after it
// recorded the intent of a send and before it recorded the outcome, then
// restarts it on the same SQLite file: every send key reaches the phones
// exactly once.
func TestCrashBetweenIntentAndOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		crashAt  int
		accepted bool
	}{
		{"provider accepted the message", 1, true},
		{"provider never got the message", 1, false},
		{"later send, accepted", 17, true},
		{"later send, not accepted", 23, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "crash.db")
			clock := outreach.NewManualClock(time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC))
			net := simphone.New(clock, 7)
			net.SetDefault(func(*rand.Rand) simphone.Persona {
				return simphone.Persona{Delay: time.Minute}
			})
			flow, err := flows.Builtin("provider")
			if err != nil {
				t.Fatal(err)
			}
			res, err := csvio.ReadAll(ctx, bytes.NewReader(recipientsCSV(t, 10, 3)), csvio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			recs := res.Recipients

			// First life: crash at the n-th send.
			db, err := sqlitestore.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			store := &crashingStore{Store: db}
			snd := &crashingSender{Sender: simphone.NewSender(net), store: store, n: tc.crashAt, accepted: tc.accepted}
			runner := outreach.NewRunner(store, snd, outreach.RunnerOptions{From: from, Clock: clock, Logger: quiet})
			camp, _, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "crash", Flow: flow}, recs)
			if err != nil {
				t.Fatal(err)
			}
			if err := runner.StartCampaign(ctx, camp.ID); err != nil {
				t.Fatal(err)
			}
			sim := &simphone.Simulation{Runner: runner, Store: store, Network: net, Clock: clock}
			if _, err := sim.Run(ctx, camp.ID); !errors.Is(err, errCrashed) {
				t.Fatalf("first run: %v, want the crash", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			// Second life: the same file, a new runner.
			db2, err := sqlitestore.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			runner2 := outreach.NewRunner(db2, simphone.NewSender(net), outreach.RunnerOptions{From: from, Clock: clock, Logger: quiet})
			sim2 := &simphone.Simulation{Runner: runner2, Store: db2, Network: net, Clock: clock}
			if _, err := sim2.Run(ctx, camp.ID); err != nil {
				t.Fatal(err)
			}
			st := runner2.Stats()
			if tc.accepted && st.Reconciled != 1 {
				t.Errorf("reconciled %d sends after the restart, want 1", st.Reconciled)
			}
			if !tc.accepted && st.Resent != 1 {
				t.Errorf("resent %d sends after the restart, want 1", st.Resent)
			}
			counts := net.CountByKey()
			if len(counts) == 0 {
				t.Fatal("nothing was sent")
			}
			for k, n := range counts {
				if n != 1 {
					t.Errorf("key %v reached the phone %d times, want exactly 1", k, n)
				}
			}
			for _, c := range allConversations(t, db2, camp.ID) {
				if c.Status != outreach.ConversationDone {
					t.Errorf("conversation %d is %s after the restart", c.ID, c.Status)
				}
			}
		})
	}
}
