package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// SetOptOut implements [outreach.Store]. Of two changes at the same time,
// the later call wins. Times are compared to the nanosecond: the
// nanoseconds beyond Postgres's microseconds are kept in a column of
// their own.
func (s *Store) SetOptOut(ctx context.Context, world, phone string, optedOut bool, at time.Time) error {
	if phone == "" {
		return errors.New("pgstore: opt-out of an empty phone number")
	}
	changed, ns := optOutTime(at)
	// The last condition is outreach.OptInLifts: an opt-in lifts only an
	// opt-out of its own world, or a simulated one. An opt-out in force
	// keeps the world that can lift it, unless it was simulated.
	_, err := s.pool.Exec(ctx, `INSERT INTO opt_outs (phone, opted_out, changed_at, changed_ns, world) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (phone) DO UPDATE SET opted_out = excluded.opted_out, changed_at = excluded.changed_at,
			changed_ns = excluded.changed_ns,
			world = CASE WHEN excluded.opted_out AND opt_outs.opted_out AND opt_outs.world NOT IN ($6, $7)
				THEN opt_outs.world ELSE excluded.world END
		WHERE (excluded.changed_at, excluded.changed_ns) >= (opt_outs.changed_at, opt_outs.changed_ns)
		  AND (excluded.opted_out OR NOT opt_outs.opted_out OR opt_outs.world = excluded.world OR opt_outs.world IN ($6, $7)
		       OR opt_outs.world = '' AND excluded.world NOT IN ($6, $7))`,
		phone, optedOut, changed, ns, world, outreach.WorldDev, outreach.WorldSim)
	return wrap("set opt-out", err)
}

// optOutTime splits at into the microseconds Postgres keeps (the zero
// time as -infinity) and the nanoseconds beyond them.
func optOutTime(at time.Time) (any, int) {
	if at.IsZero() {
		return "-infinity", 0
	}
	return at, at.Nanosecond() % 1000
}

// OptedOut implements [outreach.Store].
func (s *Store) OptedOut(ctx context.Context, phones []string) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(phones) == 0 {
		return out, ctx.Err()
	}
	rows, err := s.pool.Query(ctx, `SELECT phone FROM opt_outs WHERE opted_out AND phone = ANY($1)`, phones)
	got, err := scanAll(rows, err, func(sc scanner) (string, error) {
		var p string
		return p, sc.Scan(&p)
	})
	if err != nil {
		return nil, wrap("opted out", err)
	}
	for _, p := range got {
		out[p] = true
	}
	return out, nil
}

// OptOuts implements [outreach.Store]. A limit of zero or less means no
// limit.
func (s *Store) OptOuts(ctx context.Context, after string, limit int) ([]outreach.OptOutRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT phone, opted_out, changed_at, changed_ns, world FROM opt_outs
		WHERE phone > $1 ORDER BY phone LIMIT $2`, after, noLimit(limit))
	out, err := scanAll(rows, err, func(sc scanner) (outreach.OptOutRecord, error) {
		var (
			r  outreach.OptOutRecord
			ns int
		)
		err := sc.Scan(&r.Phone, &r.OptedOut, tp(&r.At), &ns, &r.World)
		if !r.At.IsZero() {
			r.At = r.At.Add(time.Duration(ns))
		}
		return r, err
	})
	return out, wrap("opt-outs", err)
}
