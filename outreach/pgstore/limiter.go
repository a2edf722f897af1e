package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
)

// Limiter is an [outreach.Limiter] kept in the database, so that every
// process using it shares one allowance per key (sending number): N
// workers on one database send at the rate of one, not N times it. Make
// one with [Store.Limiter].
//
// It is the generic cell rate algorithm, a token bucket of burst tokens
// refilled at perSecond: a row of the table rate_limits per key holds the
// theoretical arrival time of the next message, and each Allow is one
// INSERT ... ON CONFLICT DO UPDATE ... WHERE, atomic under concurrent
// callers. The table is UNLOGGED, so that an Allow waits for no WAL flush
// (about 70 us against 1.6 ms per call); a crash of the server empties it,
// forgetting at most the last interval of each number. It reads no clock: the times are those the runners pass, so a
// manual clock drives it. Over any one-second span of those times, at most
// perSecond + burst - 1 messages are allowed (perSecond with burst 1).
// Processes whose clocks disagree only make it stricter, never looser.
type Limiter struct {
	s        *Store
	interval int64 // nanoseconds between two messages
	tau      int64 // burst allowance: (burst-1) intervals
}

var _ outreach.Limiter = (*Limiter)(nil)

// Limiter returns a limiter allowing perSecond messages per key with the
// given burst (at least 1), shared with every [Store] on the same
// database and schema. The rate and burst are the caller's: processes
// that share a key should pass the same ones.
//
// A burst above 1 lets one claim of the runner send several messages of
// a number (the runner asks once per message, all at the claim's time);
// to keep a number at most L messages in every second, pass
// perSecond = L - burst + 1.
//
// The table is UNLOGGED (no WAL per message): a crash of the server (not
// a clean restart) empties it, and in the second around the crash a key
// may then get up to a burst more than its limit.
func (s *Store) Limiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		panic(fmt.Sprintf("pgstore: Limiter: perSecond must be positive, not %v", perSecond))
	}
	burst = max(burst, 1)
	iv := max(int64(float64(time.Second)/perSecond), 1)
	return &Limiter{s: s, interval: iv, tau: int64(burst-1) * iv}
}

// Allow implements [outreach.Limiter] in one round trip.
func (l *Limiter) Allow(ctx context.Context, key string, now time.Time) (bool, time.Time, error) {
	n := now.UnixNano()
	var (
		ok  bool
		tat int64
	)
	// Of a denied call, the second SELECT reads the row as it was when
	// the statement began: a hint for retryAt, never a decision.
	err := l.s.pool.QueryRow(ctx, `WITH up AS (
			INSERT INTO rate_limits AS r (key, tat) VALUES ($1, $2::bigint + $3::bigint)
			ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, $2::bigint) + $3::bigint
			WHERE greatest(r.tat, $2::bigint) - $2::bigint <= $4::bigint
			RETURNING tat)
		SELECT true, tat FROM up
		UNION ALL
		SELECT false, tat FROM rate_limits WHERE key = $1 AND NOT EXISTS (SELECT FROM up)`,
		key, n, l.interval, l.tau).Scan(&ok, &tat)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Denied, and the row was made after the statement began.
		return false, now.Add(time.Duration(l.interval)), nil
	case err != nil:
		return false, time.Time{}, wrap("limiter", err)
	case ok:
		return true, time.Time{}, nil
	}
	return false, retryAt(now, n, tat, l.tau, l.interval), nil
}

// retryAt is when a denied call may succeed: when tat - now falls to tau.
func retryAt(now time.Time, n, tat, tau, interval int64) time.Time {
	d := max(tat, n) - tau - n
	if d <= 0 {
		d = interval
	}
	return now.Add(time.Duration(d))
}
