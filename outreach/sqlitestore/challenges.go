package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/patient-outreach/sms/verify"
)

// The methods of this file keep the logins between their password and
// code steps: they implement verify.ChallengeStore.

var _ verify.ChallengeStore = (*Store)(nil)

// SaveChallenge stores c, replacing the other challenge of its account,
// and deletes the challenges expired at now.
func (s *Store) SaveChallenge(ctx context.Context, c verify.StoredChallenge, now time.Time) error {
	if c.TokenHash == "" || c.Account == "" {
		return errors.New("sqlitestore: save challenge: empty token hash or account")
	}
	counts, err := json.Marshal(c.Counts)
	if err != nil {
		return wrap("save challenge", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("save challenge", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_challenges WHERE account = ? OR expires <= ?`, c.Account, nanos(now)); err != nil {
		return wrap("save challenge", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_challenges (token_hash, account, phone, expires, counts) VALUES (?, ?, ?, ?, ?)`,
		c.TokenHash, c.Account, c.Phone, nanos(c.Expires), string(counts)); err != nil {
		return wrap("save challenge", err)
	}
	return wrap("save challenge", tx.Commit())
}

// GetChallenge returns the challenge of tokenHash unless it has expired
// at now, else verify.ErrNoChallenge.
func (s *Store) GetChallenge(ctx context.Context, tokenHash string, now time.Time) (verify.StoredChallenge, error) {
	c := verify.StoredChallenge{TokenHash: tokenHash}
	var (
		expires int64
		counts  string
	)
	err := s.r.QueryRowContext(ctx, `SELECT account, phone, expires, counts FROM login_challenges WHERE token_hash = ?`, tokenHash).
		Scan(&c.Account, &c.Phone, &expires, &counts)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return verify.StoredChallenge{}, verify.ErrNoChallenge
	case err != nil:
		return verify.StoredChallenge{}, wrap("get challenge", err)
	}
	c.Expires = fromNanos(expires)
	if !now.Before(c.Expires) {
		return verify.StoredChallenge{}, verify.ErrNoChallenge
	}
	if err := json.Unmarshal([]byte(counts), &c.Counts); err != nil {
		return verify.StoredChallenge{}, wrap("get challenge", err)
	}
	return c, nil
}

// TakeChallenge deletes the challenge of tokenHash and reports whether it
// was there.
func (s *Store) TakeChallenge(ctx context.Context, tokenHash string) (bool, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM login_challenges WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return false, wrap("take challenge", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("take challenge", err)
	}
	return n == 1, nil
}
