package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/patient-outreach/sms/verify"
)

// The methods of this file keep the users of the web app and their
// remembered devices: they implement verify.UserStore.

var _ verify.UserStore = (*Store)(nil)

// CreateUser adds u, or fails with verify.ErrUserExists.
func (s *Store) CreateUser(ctx context.Context, u verify.User, at time.Time) error {
	if err := u.Validate(); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO users (name, role, password_hash, phone, disabled, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (name) DO NOTHING`,
		u.Name, string(u.Role), u.PasswordHash, u.Phone, u.Disabled, nanos(at))
	if err != nil {
		return wrap("create user", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("create user", err)
	} else if n == 0 {
		return wrap("create user", verify.ErrUserExists)
	}
	return nil
}

const userColumns = `name, role, password_hash, phone, disabled, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (verify.User, error) {
	var u verify.User
	var role string
	var created, updated int64
	if err := row.Scan(&u.Name, &role, &u.PasswordHash, &u.Phone, &u.Disabled, &created, &updated); err != nil {
		return verify.User{}, err
	}
	u.Role, u.CreatedAt, u.UpdatedAt = verify.Role(role), fromNanos(created), fromNanos(updated)
	return u, nil
}

// GetUser returns the user of that name, or verify.ErrNoUser.
func (s *Store) GetUser(ctx context.Context, name string) (verify.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = verify.ErrNoUser
	}
	return u, wrap("get user", err)
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]verify.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	var us []verify.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		us = append(us, u)
	}
	return us, wrap("list users", rows.Err())
}

// UpdateUser replaces the role, phone, password hash and Disabled of the
// user u.Name, or fails with verify.ErrNoUser. A new password hash or
// phone, or disabling, forgets the user's remembered devices.
func (s *Store) UpdateUser(ctx context.Context, u verify.User, at time.Time) error {
	if err := u.Validate(); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("update user", err)
	}
	defer tx.Rollback()
	old, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, u.Name))
	if errors.Is(err, sql.ErrNoRows) {
		return wrap("update user", verify.ErrNoUser)
	} else if err != nil {
		return wrap("update user", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, password_hash = ?, phone = ?, disabled = ?, updated_at = ? WHERE name = ?`,
		string(u.Role), u.PasswordHash, u.Phone, u.Disabled, nanos(at), u.Name); err != nil {
		return wrap("update user", err)
	}
	if old.PasswordHash != u.PasswordHash || old.Phone != u.Phone || u.Disabled {
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_devices WHERE user = ?`, u.Name); err != nil {
			return wrap("update user", err)
		}
	}
	return wrap("update user", tx.Commit())
}

// AddUserDevice remembers a device of the user name by the hash of its
// token.
func (s *Store) AddUserDevice(ctx context.Context, name, tokenHash string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO user_devices (user, token_hash, created_at)
		SELECT name, ?2, ?3 FROM users WHERE name = ?1 ON CONFLICT DO NOTHING`, name, tokenHash, nanos(at))
	if err != nil {
		return wrap("add user device", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("add user device", err)
	} else if n == 0 {
		if _, err := s.GetUser(ctx, name); err != nil {
			return wrap("add user device", err)
		}
	}
	return nil
}

// UserHasDevice reports whether tokenHash is a remembered device of the
// user name.
func (s *Store) UserHasDevice(ctx context.Context, name, tokenHash string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM user_devices WHERE user = ? AND token_hash = ?`, name, tokenHash).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, wrap("user has device", err)
	}
	return true, nil
}
