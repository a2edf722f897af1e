package memstore

import (
	"context"
	"errors"
	"time"
)

// The methods of this file keep the failed login attempts of the web app
// (they implement verify.AttemptStore, which this package does not import).

type loginFailures struct {
	failures int
	last     time.Time
}

// RecordLoginFailure counts one failed login attempt of key at time at and
// returns the count including it and the time of the previous failure it
// includes (the zero time when the count is 1). A count whose latest
// failure is more than forget before at starts again at 1; such stale keys
// are dropped.
func (s *Store) RecordLoginFailure(ctx context.Context, key string, at time.Time, forget time.Duration) (int, time.Time, error) {
	if key == "" {
		return 0, time.Time{}, errors.New("memstore: login failure of an empty key")
	}
	if err := s.lock(ctx); err != nil {
		return 0, time.Time{}, err
	}
	defer s.mu.Unlock()
	at = utc(at)
	for k, f := range s.logins {
		if at.Sub(f.last) > forget {
			delete(s.logins, k)
		}
	}
	f, ok := s.logins[key]
	var prev time.Time
	if !ok || f.failures == 0 {
		f = loginFailures{failures: 1, last: at}
	} else {
		prev = f.last
		f.failures++
		if at.After(f.last) {
			f.last = at
		}
	}
	s.logins[key] = f
	return f.failures, prev, nil
}

// LoginFailures returns the count of failed login attempts of key and the
// time of the latest: 0 and the zero time for an unknown key.
func (s *Store) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	if err := s.lock(ctx); err != nil {
		return 0, time.Time{}, err
	}
	defer s.mu.Unlock()
	f := s.logins[key]
	return f.failures, f.last, nil
}

// ResetLoginFailures forgets the failed login attempts of key.
func (s *Store) ResetLoginFailures(ctx context.Context, key string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.logins, key)
	return nil
}
