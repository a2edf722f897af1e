package sqlitestore

import (
	"context"

	"github.com/patient-outreach/sms/outreach"
)

// optOutsQuery pages through opt_outs in phone order (its primary key).
const optOutsQuery = `SELECT phone, opted_out, changed_at, world FROM opt_outs
	WHERE phone > ? ORDER BY phone LIMIT ?`

// OptOuts implements [outreach.Store]. A limit of zero or less means no
// limit.
func (s *Store) OptOuts(ctx context.Context, after string, limit int) ([]outreach.OptOutRecord, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.r.QueryContext(ctx, optOutsQuery, after, limit)
	if err != nil {
		return nil, wrap("opt-outs", err)
	}
	out, err := scanAll(rows, func(sc scanner) (outreach.OptOutRecord, error) {
		var r outreach.OptOutRecord
		var at int64
		err := sc.Scan(&r.Phone, &r.OptedOut, &at, &r.World)
		r.At = fromNanos(at)
		return r, err
	})
	return out, wrap("opt-outs", err)
}
