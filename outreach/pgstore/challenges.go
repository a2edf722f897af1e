package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/verify"
)

// The methods of this file keep the logins between their password and
// code steps: they implement verify.ChallengeStore.

var _ verify.ChallengeStore = (*Store)(nil)

// SaveChallenge stores c, replacing the other challenge of its account,
// and deletes the challenges expired at now.
func (s *Store) SaveChallenge(ctx context.Context, c verify.StoredChallenge, now time.Time) error {
	if c.TokenHash == "" || c.Account == "" {
		return errors.New("pgstore: save challenge: empty token hash or account")
	}
	counts, err := json.Marshal(c.Counts)
	if err != nil {
		return wrap("save challenge", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("save challenge", err)
	}
	defer rollback(ctx, tx)
	if _, err := tx.Exec(ctx, `DELETE FROM login_challenges WHERE expires <= $1`, micro(now)); err != nil {
		return wrap("save challenge", err)
	}
	// One row per account: a new login replaces the pending one, even
	// when two are saved at once.
	if _, err := tx.Exec(ctx, `INSERT INTO login_challenges (token_hash, account, phone, expires, counts)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (account) DO UPDATE SET token_hash = EXCLUDED.token_hash, phone = EXCLUDED.phone,
			expires = EXCLUDED.expires, counts = EXCLUDED.counts`,
		c.TokenHash, c.Account, c.Phone, micro(c.Expires), string(counts)); err != nil {
		return wrap("save challenge", err)
	}
	return wrap("save challenge", tx.Commit(ctx))
}

// GetChallenge returns the challenge of tokenHash unless it has expired
// at now, else verify.ErrNoChallenge.
func (s *Store) GetChallenge(ctx context.Context, tokenHash string, now time.Time) (verify.StoredChallenge, error) {
	c := verify.StoredChallenge{TokenHash: tokenHash}
	var counts []byte
	err := s.pool.QueryRow(ctx, `SELECT account, phone, expires, counts FROM login_challenges WHERE token_hash = $1`, tokenHash).
		Scan(&c.Account, &c.Phone, &c.Expires, &counts)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return verify.StoredChallenge{}, verify.ErrNoChallenge
	case err != nil:
		return verify.StoredChallenge{}, wrap("get challenge", err)
	}
	c.Expires = c.Expires.UTC()
	if !now.Before(c.Expires) {
		return verify.StoredChallenge{}, verify.ErrNoChallenge
	}
	if err := json.Unmarshal(counts, &c.Counts); err != nil {
		return verify.StoredChallenge{}, wrap("get challenge", err)
	}
	return c, nil
}

// TakeChallenge deletes the challenge of tokenHash and reports whether it
// was there.
func (s *Store) TakeChallenge(ctx context.Context, tokenHash string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_challenges WHERE token_hash = $1`, tokenHash)
	if err != nil {
		return false, wrap("take challenge", err)
	}
	return tag.RowsAffected() == 1, nil
}
