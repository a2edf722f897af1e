package verify

import (
	"context"
	"errors"
	"sync"
	"time"
)

// AttemptStore keeps the count of failed login attempts per key (an
// account or a client address) so that lockouts hold across restarts and
// across instances sharing a database. [MemoryAttempts] is the in-process
// implementation; sqlitestore.Store implements it on its database file.
//
// The store keeps, per key, a count and the time of the latest failure.
// It knows nothing of the lockout policy, which [Login] derives from those
// two values; it only has to make RecordLoginFailure atomic, so that
// concurrent attempts, from one process or many, each see a distinct
// count.
type AttemptStore interface {
	// RecordLoginFailure atomically counts one failure of key at time at
	// and returns the count including it. If the previous failure of key
	// is more than forget before at, the count starts again at 1. It also
	// returns the time of the previous failure that the count includes
	// (the zero time when the count is 1). The latest failure time kept
	// is the later of at and the previous one. An implementation may drop
	// the keys whose latest failure is more than forget before at.
	RecordLoginFailure(ctx context.Context, key string, at time.Time, forget time.Duration) (failures int, prev time.Time, err error)
	// LoginFailures returns the count of key and the time of its latest
	// failure: 0 and the zero time for an unknown key. It applies no
	// forgetting: the caller compares last with its clock.
	LoginFailures(ctx context.Context, key string) (failures int, last time.Time, err error)
	// ResetLoginFailures forgets key. Resetting an unknown key is not an
	// error.
	ResetLoginFailures(ctx context.Context, key string) error
}

// ErrClosed is returned by [MemoryAttempts] after Close.
var ErrClosed = errors.New("verify: attempt store is closed")

// MemoryAttempts is an in-process [AttemptStore]: its counts are lost when
// the process ends and are not shared with other processes. It is safe for
// concurrent use. Create one with [NewMemoryAttempts].
type MemoryAttempts struct {
	mu     sync.Mutex
	keys   map[string]attemptCount
	ops    int
	closed bool
}

type attemptCount struct {
	failures int
	last     time.Time
}

var _ AttemptStore = (*MemoryAttempts)(nil)

// NewMemoryAttempts returns an empty store.
func NewMemoryAttempts() *MemoryAttempts {
	return &MemoryAttempts{keys: make(map[string]attemptCount)}
}

func (m *MemoryAttempts) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// RecordLoginFailure implements [AttemptStore].
func (m *MemoryAttempts) RecordLoginFailure(ctx context.Context, key string, at time.Time, forget time.Duration) (int, time.Time, error) {
	if err := m.lock(ctx); err != nil {
		return 0, time.Time{}, err
	}
	defer m.mu.Unlock()
	m.ops++
	if m.ops%256 == 0 && len(m.keys) > 1024 {
		for k, c := range m.keys {
			if at.Sub(c.last) > forget {
				delete(m.keys, k)
			}
		}
	}
	c, ok := m.keys[key]
	if !ok || at.Sub(c.last) > forget {
		m.keys[key] = attemptCount{failures: 1, last: at}
		return 1, time.Time{}, nil
	}
	prev := c.last
	c.failures++
	if at.After(c.last) {
		c.last = at
	}
	m.keys[key] = c
	return c.failures, prev, nil
}

// LoginFailures implements [AttemptStore].
func (m *MemoryAttempts) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	if err := m.lock(ctx); err != nil {
		return 0, time.Time{}, err
	}
	defer m.mu.Unlock()
	c := m.keys[key]
	return c.failures, c.last, nil
}

// ResetLoginFailures implements [AttemptStore].
func (m *MemoryAttempts) ResetLoginFailures(ctx context.Context, key string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.keys, key)
	return nil
}

// Close empties the store; later calls fail with [ErrClosed].
func (m *MemoryAttempts) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed, m.keys = true, nil
	return nil
}
