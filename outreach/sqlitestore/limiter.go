package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// Limiter is an [outreach.Limiter] kept in the database file, so that
// every process using the file shares one allowance per key (sending
// number). Make one with [Store.Limiter].
//
// It is the generic cell rate algorithm, a token bucket of burst tokens
// refilled at perSecond: a row of the table rate_limits per key holds the
// theoretical arrival time of the next message, and each Allow is one
// INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING, atomic under
// SQLite's write lock. It reads no clock: the times are those the runners
// pass, so a manual clock drives it. Over any one-second span of those
// times, at most perSecond + burst - 1 messages are allowed (perSecond
// with burst 1). Processes whose clocks disagree only make it stricter.
// An allowed call is a write transaction, with the file's synchronous
// setting: about 2 ms with the default FULL on a disk that syncs, which
// bounds one process to some 500 allowed messages a second.
type Limiter struct {
	s        *Store
	interval int64 // nanoseconds between two messages
	tau      int64 // burst allowance: (burst-1) intervals
}

var _ outreach.Limiter = (*Limiter)(nil)

// Limiter returns a limiter allowing perSecond messages per key with the
// given burst (at least 1), shared with every [Store] open on the same
// file. Processes that share a key should pass the same rate and burst.
//
// A burst above 1 lets one claim of the runner send several messages of
// a number (the runner asks once per message, all at the claim's time);
// to keep a number at most L messages in every second, pass
// perSecond = L - burst + 1.
func (s *Store) Limiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		panic(fmt.Sprintf("sqlitestore: Limiter: perSecond must be positive, not %v", perSecond))
	}
	burst = max(burst, 1)
	iv := max(int64(float64(time.Second)/perSecond), 1)
	return &Limiter{s: s, interval: iv, tau: int64(burst-1) * iv}
}

// Allow implements [outreach.Limiter]: one statement when it allows, two
// when it denies (the second reads when to ask again).
func (l *Limiter) Allow(ctx context.Context, key string, now time.Time) (bool, time.Time, error) {
	n := now.UnixNano()
	var tat int64
	err := l.s.w.QueryRowContext(ctx, `INSERT INTO rate_limits (key, tat) VALUES (?1, ?2 + ?3)
		ON CONFLICT (key) DO UPDATE SET tat = max(tat, ?2) + ?3
		WHERE max(tat, ?2) - ?2 <= ?4
		RETURNING tat`, key, n, l.interval, l.tau).Scan(&tat)
	switch {
	case err == nil:
		return true, time.Time{}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, time.Time{}, wrap("limiter", err)
	}
	if err := l.s.r.QueryRowContext(ctx, `SELECT tat FROM rate_limits WHERE key = ?`, key).Scan(&tat); err != nil {
		return false, time.Time{}, wrap("limiter", err)
	}
	d := max(tat, n) - l.tau - n
	if d <= 0 {
		d = l.interval
	}
	return false, now.Add(time.Duration(d)), nil
}
