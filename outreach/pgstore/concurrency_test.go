package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// TestClaimsTwoPools has two stores (two pools, as two processes) claim
// from one campaign at once, several goroutines each: no conversation is
// ever held by two leases, and every one is handled exactly once. Then,
// with every lease expired, everything is claimable again.
func TestClaimsTwoPools(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	s1, s2 := open(t, url), open(t, url)
	now := clocktest.Start(t)
	const n = 300
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		convs[i] = outreach.Conversation{
			Recipient: outreach.Recipient{ID: fmt.Sprint("p", i), Phone: fmt.Sprintf("+1440%07d", i)},
			TwoWay:    true, NextAt: now.Add(time.Duration(i%7) * time.Second),
		}
	}
	_, added, err := s1.CreateCampaign(ctx, outreach.Campaign{Name: "race", From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: now}, convs)
	if err != nil || added != n {
		t.Fatalf("CreateCampaign: %d added, %v", added, err)
	}

	var (
		mu      sync.Mutex
		handled = map[int64]int{}
		wg      sync.WaitGroup
	)
	claimAt := now.Add(time.Minute)
	for w := range 6 {
		s := s1
		if w%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			for {
				cs, err := s.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, claimAt, 7, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, cl := range cs {
					handled[cl.Lease.ConversationID]++
					if handled[cl.Lease.ConversationID] > 1 {
						t.Errorf("conversation %d claimed twice", cl.Lease.ConversationID)
					}
				}
				mu.Unlock()
				ups := make([]outreach.Update, len(cs))
				for i, cl := range cs {
					conv := cl.Conversation
					conv.NextAt = now.Add(24 * time.Hour) // not due again in this test
					ups[i] = outreach.Update{Lease: cl.Lease, Conversation: conv, Release: w%3 == 0}
				}
				res, err := s.Commit(ctx, claimAt, ups)
				if err != nil {
					t.Error(err)
					return
				}
				for i, err := range res {
					if err != nil {
						t.Errorf("commit of conversation %d: %v", ups[i].Lease.ConversationID, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(handled) != n {
		t.Fatalf("%d conversations handled; want %d", len(handled), n)
	}

	// A day later, every conversation is due again; the leases that were
	// kept (not released) have expired, so all are claimable, once.
	later := now.Add(25 * time.Hour)
	var got []outreach.Claim
	for i := range 3 {
		s := s1
		if i == 1 {
			s = s2
		}
		cs, err := s.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, later, 150, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cs...)
	}
	seen := map[int64]bool{}
	for _, cl := range got {
		if seen[cl.Lease.ConversationID] {
			t.Fatalf("conversation %d claimed twice after expiry", cl.Lease.ConversationID)
		}
		seen[cl.Lease.ConversationID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d conversations claimable after the leases expired; want %d", len(seen), n)
	}
}

// TestPairRuleTwoPools: two pending two-way conversations of one
// (phone, From) pair, in two campaigns of one world, claimed by two
// stores at once. Both may be claimed (neither is active yet), but only
// one can become active: the other commit fails with ErrPairBusy and
// changes nothing, whatever the interleaving.
func TestPairRuleTwoPools(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	s1, s2 := open(t, url), open(t, url)
	now := clocktest.Start(t)
	for round := range 5 {
		phone := fmt.Sprintf("+1440644%04d", round)
		var ids []int64
		for range 2 {
			c, _, err := s1.CreateCampaign(ctx, outreach.Campaign{Name: "pair", From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: now},
				[]outreach.Conversation{{Recipient: outreach.Recipient{ID: "p", Phone: phone}, TwoWay: true, NextAt: now}})
			if err != nil {
				t.Fatal(err)
			}
			cs, err := s1.Conversations(ctx, c.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, cs[0].ID)
		}
		var (
			wg      sync.WaitGroup
			results = make([]error, 2)
		)
		for i, s := range []interface {
			ClaimConversation(context.Context, int64, time.Time, time.Duration) (outreach.Claim, error)
			Commit(context.Context, time.Time, []outreach.Update) ([]error, error)
		}{s1, s2} {
			wg.Go(func() {
				cl, err := s.ClaimConversation(ctx, ids[i], now, time.Minute)
				if err != nil {
					results[i] = err
					return
				}
				conv := cl.Conversation
				conv.Status = outreach.ConversationActive
				res, err := s.Commit(ctx, now, []outreach.Update{{Lease: cl.Lease, Conversation: conv, Release: true}})
				if err != nil {
					results[i] = err
					return
				}
				results[i] = res[0]
			})
		}
		wg.Wait()
		ok, busy := 0, 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, outreach.ErrPairBusy):
				busy++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 || busy != 1 {
			t.Fatalf("round %d: results %v; want one success and one ErrPairBusy", round, results)
		}
		var active int
		if err := s1.Pool().QueryRow(ctx, `SELECT count(*) FROM conversations WHERE phone = $1 AND status = 'active'`, phone).Scan(&active); err != nil {
			t.Fatal(err)
		}
		if active != 1 {
			t.Fatalf("round %d: %d active conversations for the pair; want 1", round, active)
		}
	}
}
