package pgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// SessionCleanupInterval is how often, at most, a [SessionStore] write also
// deletes the expired sessions.
const SessionCleanupInterval = 5 * time.Minute

// SessionStore keeps web sessions in the database, in the shape of the
// session stores of github.com/alexedwards/scs/v2 (Store, CtxStore and
// IterableCtxStore), which this package does not import:
//
//	sessions := scs.New()
//	sessions.Store = store.Sessions()
//
// Sessions then survive a restart and are shared by every process on the
// database. A session past its expiry is never returned; expired rows are
// deleted by the writes (at most once per [SessionCleanupInterval]), so no
// goroutine is needed. It is safe for concurrent use.
type SessionStore struct {
	s *Store
	// now is the clock; tests replace it.
	now func() time.Time

	mu          sync.Mutex
	lastCleanup time.Time
}

// Sessions returns the store's web sessions. Every call returns a new
// SessionStore on the same table.
func (s *Store) Sessions() *SessionStore {
	return &SessionStore{s: s, now: time.Now}
}

// Find returns the data of the session token: found is false when there is
// no such session or it has expired. err reports failures of the database
// only.
func (ss *SessionStore) Find(token string) ([]byte, bool, error) {
	return ss.FindCtx(context.Background(), token)
}

// FindCtx is Find with a context.
func (ss *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := ss.s.pool.QueryRow(ctx, `SELECT data FROM sessions WHERE token = $1 AND expiry > $2`,
		token, ss.now()).Scan(&b)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, wrap("find session", err)
	}
	return b, true, nil
}

// Commit stores the data of the session token, valid until expiry,
// replacing the session's data and expiry if it exists.
func (ss *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return ss.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx is Commit with a context. It also deletes the expired
// sessions, when it has not done so in the last [SessionCleanupInterval].
func (ss *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if token == "" {
		return errors.New("pgstore: commit of a session with an empty token")
	}
	if b == nil {
		b = []byte{} // data is NOT NULL
	}
	now := ss.now()
	tx, err := ss.s.pool.Begin(ctx)
	if err != nil {
		return wrap("commit session", err)
	}
	defer rollback(ctx, tx)
	if _, err := tx.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`, token, b, expiry); err != nil {
		return wrap("commit session", err)
	}
	ss.mu.Lock()
	cleanup := now.Sub(ss.lastCleanup) >= SessionCleanupInterval
	ss.mu.Unlock()
	if cleanup {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expiry <= $1`, now); err != nil {
			return wrap("delete expired sessions", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("commit session", err)
	}
	if cleanup {
		ss.mu.Lock()
		ss.lastCleanup = now
		ss.mu.Unlock()
	}
	return nil
}

// Delete removes the session token; deleting an unknown one is not an
// error.
func (ss *SessionStore) Delete(token string) error {
	return ss.DeleteCtx(context.Background(), token)
}

// DeleteCtx is Delete with a context.
func (ss *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	_, err := ss.s.pool.Exec(ctx, `DELETE FROM sessions WHERE token = $1`, token)
	return wrap("delete session", err)
}

// All returns the data of every session that has not expired, by token
// (an empty map when there is none).
func (ss *SessionStore) All() (map[string][]byte, error) {
	return ss.AllCtx(context.Background())
}

// AllCtx is All with a context.
func (ss *SessionStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	rows, err := ss.s.pool.Query(ctx, `SELECT token, data FROM sessions WHERE expiry > $1`, ss.now())
	if err != nil {
		return nil, wrap("all sessions", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var token string
		var b []byte
		if err := rows.Scan(&token, &b); err != nil {
			return nil, wrap("all sessions", err)
		}
		out[token] = b
	}
	return out, wrap("all sessions", rows.Err())
}

// DeleteExpired deletes the sessions that have expired and returns how
// many it deleted. Writes do it from time to time; call it to do it now.
func (ss *SessionStore) DeleteExpired(ctx context.Context) (int64, error) {
	now := ss.now()
	tag, err := ss.s.pool.Exec(ctx, `DELETE FROM sessions WHERE expiry <= $1`, now)
	if err != nil {
		return 0, wrap("delete expired sessions", err)
	}
	ss.mu.Lock()
	ss.lastCleanup = now
	ss.mu.Unlock()
	return tag.RowsAffected(), nil
}
