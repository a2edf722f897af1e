package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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
	tag, err := s.pool.Exec(ctx, `INSERT INTO users (name, role, password_hash, phone, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO NOTHING`,
		u.Name, string(u.Role), u.PasswordHash, u.Phone, u.Disabled, ts(at))
	if err != nil {
		return wrap("create user", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("create user", verify.ErrUserExists)
	}
	return nil
}

const userColumns = `name, role, password_hash, phone, disabled, created_at, updated_at`

func scanUser(row scanner) (verify.User, error) {
	var u verify.User
	var role string
	if err := row.Scan(&u.Name, &role, &u.PasswordHash, &u.Phone, &u.Disabled, tp(&u.CreatedAt), tp(&u.UpdatedAt)); err != nil {
		return verify.User{}, err
	}
	u.Role = verify.Role(role)
	return u, nil
}

// GetUser returns the user of that name, or verify.ErrNoUser.
func (s *Store) GetUser(ctx context.Context, name string) (verify.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		err = verify.ErrNoUser
	}
	return u, wrap("get user", err)
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]verify.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	us, err := scanAll(rows, err, scanUser)
	return us, wrap("list users", err)
}

// UpdateUser replaces the role, phone, password hash and Disabled of the
// user u.Name, or fails with verify.ErrNoUser. A new password hash or
// phone, or disabling, forgets the user's remembered devices.
func (s *Store) UpdateUser(ctx context.Context, u verify.User, at time.Time) error {
	if err := u.Validate(); err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("update user", err)
	}
	defer rollback(ctx, tx)
	old, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1 FOR UPDATE`, u.Name))
	if errors.Is(err, pgx.ErrNoRows) {
		return wrap("update user", verify.ErrNoUser)
	} else if err != nil {
		return wrap("update user", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET role = $1, password_hash = $2, phone = $3, disabled = $4, updated_at = $5 WHERE name = $6`,
		string(u.Role), u.PasswordHash, u.Phone, u.Disabled, ts(at), u.Name); err != nil {
		return wrap("update user", err)
	}
	if old.PasswordHash != u.PasswordHash || old.Phone != u.Phone || u.Disabled {
		if _, err := tx.Exec(ctx, `DELETE FROM user_devices WHERE user_name = $1`, u.Name); err != nil {
			return wrap("update user", err)
		}
	}
	return wrap("update user", tx.Commit(ctx))
}

// AddUserDevice remembers a device of the user name by the hash of its
// token.
func (s *Store) AddUserDevice(ctx context.Context, name, tokenHash string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO user_devices (user_name, token_hash, created_at)
		SELECT name, $2, $3 FROM users WHERE name = $1 ON CONFLICT DO NOTHING`, name, tokenHash, ts(at))
	if err != nil {
		return wrap("add user device", err)
	}
	if tag.RowsAffected() == 0 {
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
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM user_devices WHERE user_name = $1 AND token_hash = $2`, name, tokenHash).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, wrap("user has device", err)
	}
	return true, nil
}
