package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"sync"
	"time"
)

// ErrNoChallenge is what a [ChallengeStore] returns for a challenge it
// does not have: unknown, used, replaced or expired.
var ErrNoChallenge = errors.New("verify: no such login challenge")

// StoredChallenge is a login between its two steps, as a [ChallengeStore]
// keeps it: the password step succeeded and a code went to Phone.
type StoredChallenge struct {
	// TokenHash is the hex SHA-256 of the challenge's token
	// ([ChallengeTokenHash]): the store never holds a usable token.
	TokenHash string
	// Account is the user who passed the password step.
	Account string
	// Phone is where the code went, which checks it.
	Phone string
	// Expires is when the challenge ends.
	Expires time.Time
	// Counts are the failure counts of the attempt-store keys the password
	// step counted on, after it counted itself.
	Counts map[string]int
}

// ChallengeStore keeps the logins between their password and code steps.
// Give the web app's instances one shared store (the database), so that a
// login started on one instance can finish on another. Implementations:
// [MemoryChallenges] (one process), sqlitestore and pgstore. The
// conformance suite is verifytest.ExerciseChallenges.
type ChallengeStore interface {
	// SaveChallenge stores c, replacing every other challenge of
	// c.Account (one pending code per account). It may delete the
	// challenges expired at now.
	SaveChallenge(ctx context.Context, c StoredChallenge, now time.Time) error
	// GetChallenge returns the challenge of tokenHash, or [ErrNoChallenge]
	// if there is none or it has expired at now (Expires is not after
	// now).
	GetChallenge(ctx context.Context, tokenHash string, now time.Time) (StoredChallenge, error)
	// TakeChallenge deletes the challenge of tokenHash and reports
	// whether it was there: of concurrent calls, from any process, one
	// alone gets true.
	TakeChallenge(ctx context.Context, tokenHash string) (bool, error)
}

// ChallengeTokenHash is the hash a [ChallengeStore] keeps of a challenge
// token.
func ChallengeTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// MemoryChallenges is a [ChallengeStore] in memory, for one process: the
// default of [Config.Challenges]. The zero value is ready to use; it is
// safe for concurrent use.
type MemoryChallenges struct {
	mu sync.Mutex
	m  map[string]StoredChallenge
}

var _ ChallengeStore = (*MemoryChallenges)(nil)

// SaveChallenge implements [ChallengeStore].
func (m *MemoryChallenges) SaveChallenge(ctx context.Context, c StoredChallenge, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.TokenHash == "" || c.Account == "" {
		return errors.New("verify: SaveChallenge: empty token hash or account")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[string]StoredChallenge)
	}
	for k, old := range m.m {
		if old.Account == c.Account || !now.Before(old.Expires) {
			delete(m.m, k)
		}
	}
	c.Counts = maps.Clone(c.Counts)
	m.m[c.TokenHash] = c
	return nil
}

// GetChallenge implements [ChallengeStore].
func (m *MemoryChallenges) GetChallenge(ctx context.Context, tokenHash string, now time.Time) (StoredChallenge, error) {
	if err := ctx.Err(); err != nil {
		return StoredChallenge{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[tokenHash]
	if !ok || !now.Before(c.Expires) {
		return StoredChallenge{}, ErrNoChallenge
	}
	c.Counts = maps.Clone(c.Counts)
	return c, nil
}

// TakeChallenge implements [ChallengeStore].
func (m *MemoryChallenges) TakeChallenge(ctx context.Context, tokenHash string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.m[tokenHash]
	delete(m.m, tokenHash)
	return ok, nil
}
