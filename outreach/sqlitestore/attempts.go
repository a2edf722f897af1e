package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The methods of this file keep the failed login attempts of the web app
// (they implement verify.AttemptStore, which this package does not import).

// RecordLoginFailure atomically counts one failed login attempt of key at
// time at and returns the count including it, and the time of the previous
// failure that the count includes (the zero time when the count is 1). If
// the previous failure is more than forget before at, the count starts
// again at 1. The transaction begins IMMEDIATE, so concurrent calls, from
// this process or another on the same file, each get a distinct count. It
// also deletes the keys whose latest failure is more than forget before
// at.
func (s *Store) RecordLoginFailure(ctx context.Context, key string, at time.Time, forget time.Duration) (int, time.Time, error) {
	if key == "" {
		return 0, time.Time{}, errors.New("sqlitestore: login failure of an empty key")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	defer tx.Rollback()
	atN := nanos(at)
	var failures int
	var last int64
	err = tx.QueryRowContext(ctx, `SELECT failures, last_failure FROM login_attempts WHERE key = ?`, key).Scan(&failures, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, time.Time{}, wrap("record login failure", err)
	}
	var prev int64
	if failures == 0 || at.Sub(fromNanos(last)) > forget {
		failures, last = 1, atN
	} else {
		prev = last
		failures++
		last = max(last, atN)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_attempts (key, failures, last_failure) VALUES (?1, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET failures = ?2, last_failure = ?3`, key, failures, last); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_attempts WHERE last_failure < ?`, nanos(at.Add(-forget))); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, time.Time{}, wrap("record login failure", err)
	}
	return failures, fromNanos(prev), nil
}

// LoginFailures returns the count of failed login attempts of key and the
// time of the latest: 0 and the zero time for an unknown key.
func (s *Store) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	var failures int
	var last int64
	err := s.r.QueryRowContext(ctx, `SELECT failures, last_failure FROM login_attempts WHERE key = ?`, key).Scan(&failures, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, time.Time{}, nil
	case err != nil:
		return 0, time.Time{}, wrap("login failures", err)
	}
	return failures, fromNanos(last), nil
}

// ResetLoginFailures forgets the failed login attempts of key.
func (s *Store) ResetLoginFailures(ctx context.Context, key string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM login_attempts WHERE key = ?`, key)
	return wrap("reset login failures", err)
}
