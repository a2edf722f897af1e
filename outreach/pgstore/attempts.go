package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/verify"
)

// The methods of this file keep the failed login attempts of the web app:
// they implement verify.AttemptStore.

var _ verify.AttemptStore = (*Store)(nil)

// RecordLoginFailure atomically counts one failed login attempt of key at
// time at and returns the count including it, and the time of the previous
// failure that the count includes (the zero time when the count is 1). If
// the previous failure is more than forget before at, the count starts
// again at 1. The key's row is locked (FOR UPDATE) for the transaction,
// so concurrent calls, from this process or another on the same database,
// each get a distinct count. It also deletes the keys whose latest
// failure is more than forget before at (those no one holds).
func (s *Store) RecordLoginFailure(ctx context.Context, key string, at time.Time, forget time.Duration) (int, time.Time, error) {
	if key == "" {
		return 0, time.Time{}, errors.New("pgstore: login failure of an empty key")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	defer rollback(ctx, tx)
	// Make sure the row exists, then lock it.
	if _, err := tx.Exec(ctx, `INSERT INTO login_attempts (key, failures, last_failure) VALUES ($1, 0, NULL)
		ON CONFLICT (key) DO NOTHING`, key); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	var (
		failures int
		last     time.Time
	)
	if err := tx.QueryRow(ctx, `SELECT failures, last_failure FROM login_attempts WHERE key = $1 FOR UPDATE`, key).
		Scan(&failures, tp(&last)); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	at = micro(at)
	var prev time.Time
	if failures == 0 || at.Sub(last) > forget {
		failures, last = 1, at
	} else {
		prev = last
		failures++
		if at.After(last) {
			last = at
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE login_attempts SET failures = $2, last_failure = $3 WHERE key = $1`,
		key, failures, ts(last)); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM login_attempts WHERE key IN (
			SELECT key FROM login_attempts WHERE last_failure < $1 FOR UPDATE SKIP LOCKED)`, ts(at.Add(-forget))); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	return failures, prev, nil
}

// LoginFailures returns the count of failed login attempts of key and the
// time of the latest: 0 and the zero time for an unknown key.
func (s *Store) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	var (
		failures int
		last     time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT failures, last_failure FROM login_attempts WHERE key = $1`, key).Scan(&failures, tp(&last))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, time.Time{}, nil
	case err != nil:
		return 0, time.Time{}, wrap("login failures", err)
	}
	if failures == 0 {
		return 0, time.Time{}, nil
	}
	return failures, last, nil
}

// ResetLoginFailures forgets the failed login attempts of key.
func (s *Store) ResetLoginFailures(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM login_attempts WHERE key = $1`, key)
	return wrap("reset login failures", err)
}
