package verifytest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/verify"
)

// ExerciseChallenges runs every behaviour of [verify.ChallengeStore]
// against empty stores from newStore.
func ExerciseChallenges(t *testing.T, newStore func(t *testing.T) verify.ChallengeStore) {
	t.Helper()
	t0 := time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC)
	ann := verify.StoredChallenge{
		TokenHash: verify.ChallengeTokenHash("token-ann"), Account: "ann", Phone: "+14155550100",
		Expires: t0.Add(10 * time.Minute), Counts: map[string]int{"account:a": 3, "addr:b": 1},
	}

	t.Run("save get take", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		if _, err := s.GetChallenge(ctx, ann.TokenHash, t0); !errors.Is(err, verify.ErrNoChallenge) {
			t.Fatalf("GetChallenge of an empty store = %v, want ErrNoChallenge", err)
		}
		if err := s.SaveChallenge(ctx, ann, t0); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetChallenge(ctx, ann.TokenHash, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Expires.Equal(ann.Expires) {
			t.Errorf("Expires = %v, want %v", got.Expires, ann.Expires)
		}
		got.Expires = ann.Expires
		if !reflect.DeepEqual(got, ann) {
			t.Errorf("GetChallenge = %+v, want %+v", got, ann)
		}
		// Getting does not use it up.
		if _, err := s.GetChallenge(ctx, ann.TokenHash, t0.Add(time.Minute)); err != nil {
			t.Errorf("second GetChallenge = %v", err)
		}
		if ok, err := s.TakeChallenge(ctx, ann.TokenHash); err != nil || !ok {
			t.Fatalf("TakeChallenge = %v, %v; want true", ok, err)
		}
		if ok, err := s.TakeChallenge(ctx, ann.TokenHash); err != nil || ok {
			t.Errorf("TakeChallenge of a taken challenge = %v, %v; want false", ok, err)
		}
		if _, err := s.GetChallenge(ctx, ann.TokenHash, t0); !errors.Is(err, verify.ErrNoChallenge) {
			t.Errorf("GetChallenge of a taken challenge = %v, want ErrNoChallenge", err)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		if err := s.SaveChallenge(ctx, ann, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetChallenge(ctx, ann.TokenHash, ann.Expires.Add(-time.Microsecond)); err != nil {
			t.Errorf("GetChallenge just before expiry = %v", err)
		}
		if _, err := s.GetChallenge(ctx, ann.TokenHash, ann.Expires); !errors.Is(err, verify.ErrNoChallenge) {
			t.Errorf("GetChallenge at expiry = %v, want ErrNoChallenge", err)
		}
	})

	t.Run("one per account", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		bob := verify.StoredChallenge{TokenHash: verify.ChallengeTokenHash("token-bob"), Account: "bob", Phone: "+14155550101",
			Expires: t0.Add(10 * time.Minute)}
		ann2 := ann
		ann2.TokenHash = verify.ChallengeTokenHash("token-ann-2")
		for _, c := range []verify.StoredChallenge{ann, bob, ann2} {
			if err := s.SaveChallenge(ctx, c, t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.GetChallenge(ctx, ann.TokenHash, t0); !errors.Is(err, verify.ErrNoChallenge) {
			t.Errorf("GetChallenge of a replaced challenge = %v, want ErrNoChallenge", err)
		}
		for _, c := range []verify.StoredChallenge{ann2, bob} {
			got, err := s.GetChallenge(ctx, c.TokenHash, t0)
			if err != nil || got.Account != c.Account || got.Phone != c.Phone || len(got.Counts) != len(c.Counts) {
				t.Errorf("GetChallenge(%s) = %+v, %v", c.Account, got, err)
			}
		}
	})

	t.Run("concurrent take", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		if err := s.SaveChallenge(ctx, ann, t0); err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			taken int
		)
		for range 8 {
			wg.Go(func() {
				ok, err := s.TakeChallenge(ctx, ann.TokenHash)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if taken != 1 {
			t.Errorf("%d concurrent TakeChallenge calls got it, want 1", taken)
		}
	})
}
